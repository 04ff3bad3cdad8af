// Seed inputs for queue_fuzz: control segments exactly as src/ipc/layout.ts writes them (so the
// C++ reader is fuzzed from the TypeScript side's own bytes), with a few descriptors queued.
// Usage: node native/fuzz/seeds.mjs <dir>. Needs the TypeScript build (dist/); without it, only
// the structured seeds are written.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
if (!dir) throw new Error("usage: seeds.mjs <dir>");
mkdirSync(dir, { recursive: true });

const record = (word, value) => {
  const b = Buffer.alloc(5);
  b[0] = word;
  b.writeUInt32LE(value >>> 0, 1);
  return b;
};
// Mode 1 (structured), see queue_fuzz.cc: capacity 4, one page per arena; queue 0 holds two
// descriptors (tail = 2): a 32-byte body at offset 64 of arena 0, and one in extra arena 1.
writeFileSync(join(dir, "structured-two"), Buffer.concat([
  Buffer.from([1, 2, 1]),
  record(5, 2),
  record(128, 1), record(129, 0), record(130, 64), record(131, 32),
  record(132, 2), record(133, 1), record(134, 0), record(135, 4096),
]));
writeFileSync(join(dir, "structured-empty"), Buffer.from([1, 0, 0]));

let layout;
try {
  layout = await import(new URL("../../dist/src/ipc/layout.js", import.meta.url));
} catch {
  console.log("seeds.mjs: no dist/ (npm run build:ts); wrote the structured seeds only");
  process.exit(0);
}
const { DESCRIPTOR, QUEUE, controlLayout, writeHeader } = layout;
for (const [capacity, arenaSize, queued] of [[1, 0, 0], [4, 4096, 2], [8, 4096, 8]]) {
  const l = controlLayout(capacity, arenaSize);
  const seg = new ArrayBuffer(l.totalSize);
  writeHeader(seg, l);
  const u32 = new Uint32Array(seg);
  for (const q of [0, 1]) {
    u32[(l.queue[q] + QUEUE.tail) >>> 2] = queued;
    for (let i = 0; i < queued; i++) {
      const slot = (l.ring[q] + (i % capacity) * DESCRIPTOR.size) >>> 2;
      u32[slot + DESCRIPTOR.kind / 4] = 1 + (i % 3);
      u32[slot + DESCRIPTOR.arena / 4] = i % 2;
      u32[slot + DESCRIPTOR.offset / 4] = 64 * i;
      u32[slot + DESCRIPTOR.length / 4] = 32;
    }
  }
  writeFileSync(join(dir, `layout-ts-${capacity}-${arenaSize}-${queued}`), Buffer.concat([Buffer.from([0]), Buffer.from(seg)]));
}
