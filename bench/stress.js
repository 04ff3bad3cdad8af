// Transport stress: 10^6 messages (request + response pairs) main → stub → main through a real
// stub and an identity handler, 64 in flight, with a size mix that keeps both sides' arenas
// growing and shrinking (most tensors tiny, some 4–64 KiB, a few 0.5–2 MiB; some request heads of
// 100 KiB, so heads too land in brand-new segments). Every answer is checked byte for byte at
// sampled offsets; it prints lost=<n> (goal 0). Baseline from the same run: the same size mix as
// process.send round trips (advanced serialization) with a child echo, for a slice of the count.
// STRESS_MESSAGES sets the count (default 1e6); the run stops after STRESS_MAX_SECONDS (180).
import { fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { prepareHandlerModule } from "../dist/src/backends/stub/handler-module.js";
import { StubInstance } from "../dist/src/backends/stub/stub-instance.js";
import { listSegments } from "../dist/src/ipc/segments.js";

const here = dirname(fileURLToPath(import.meta.url));
const IN_FLIGHT = 64;
let stopping = false;

/** A deterministic size mix: seq → [tensor bytes, head padding bytes]. */
function shape(seq) {
  const r = (seq * 2654435761) >>> 0;
  const tensor = r % 1000 === 0 ? (512 << 10) + (r % (1536 << 10)) : r % 20 === 0 ? 4096 + (r % (60 << 10)) : 16 + (r % 240);
  const pad = r % 997 === 1 ? 100 << 10 : 0;
  return [tensor & ~3, pad];
}

function fill(bytes, seq) {
  for (let i = 0; i < bytes.length - 1; i += 509) bytes[i] = (seq + i) & 0xff;
  bytes[bytes.length - 1] = seq & 0xff;
}

function intact(bytes, seq, length) {
  if (bytes.length !== length) return false;
  for (let i = 0; i < bytes.length - 1; i += 509) if (bytes[i] !== ((seq + i) & 0xff)) return false;
  return bytes[bytes.length - 1] === (seq & 0xff);
}

async function startStub() {
  const modulePath = await prepareHandlerModule(join(here, "..", "test", "fixtures", "models", "identity", "1", "model.ts"), "bench-identity");
  const stub = new StubInstance({
    modelName: "identity", modelVersion: "1", instanceName: "identity_0", modulePath, serverPid: process.pid,
    arenaBytes: 1 << 20, growthBytes: 1 << 20, queueCapacity: 1024, heartbeatMs: 1000, stubTimeoutMs: 30000,
    log: (level, m) => level === "ERROR" && console.log(`stub: ${m}`), onDeath: (_, reason) => stopping || console.log(`stub died: ${reason}`),
  });
  await stub.start();
  await stub.initialize({ model_config: "{}", model_instance_kind: "CPU", model_instance_name: "identity_0",
    model_instance_device_id: "0", model_repository: "", model_version: "1", model_name: "identity" });
  return stub;
}

async function tessera(pairs, deadline) {
  const stub = await startStub();
  let next = 0, answered = 0, damaged = 0, failed = 0, bytes = 0;
  const worker = async () => {
    while (next < pairs && Date.now() < deadline) {
      const seq = next++;
      const [size, pad] = shape(seq);
      const data = new Uint8Array(size);
      fill(data, seq);
      try {
        const [r] = await stub.execute([{ model: "identity", id: pad ? "x".repeat(pad) : String(seq), parameters: {},
          inputs: [{ name: "INPUT0", datatype: "FP32", shape: [size / 4], data }] }]);
        if (r.error) failed++;
        else if (!intact(r.outputs[0].data, seq, size)) damaged++;
        else answered++;
        bytes += 2 * size;
        r.release?.();
      } catch {
        failed++;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const secs = (performance.now() - t0) / 1000;
  stopping = true;
  await stub.stop();
  return { sent: next, answered, damaged, failed, secs, bytes };
}

async function processSend(pairs) {
  const child = fork(join(here, "ipc-child.js"), { serialization: "advanced" });
  let next = 0, answered = 0;
  const waiting = new Map();
  child.on("message", (m) => {
    const w = waiting.get(m.i);
    waiting.delete(m.i);
    w?.(m);
  });
  const worker = async () => {
    while (next < pairs) {
      const seq = next++;
      const [size, pad] = shape(seq);
      const data = new Uint8Array(size);
      fill(data, seq);
      const m = await new Promise((resolve) => {
        waiting.set(seq, resolve);
        child.send({ type: "echo", i: seq, id: pad ? "x".repeat(pad) : String(seq), data });
      });
      if (intact(new Uint8Array(m.data), seq, size)) answered++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const secs = (performance.now() - t0) / 1000;
  child.kill();
  return { sent: next, answered, secs };
}

export async function run() {
  const messages = Number(process.env.STRESS_MESSAGES ?? 1_000_000);
  const pairs = Math.ceil(messages / 2);
  const deadline = Date.now() + Number(process.env.STRESS_MAX_SECONDS ?? 180) * 1000;
  const t = await tessera(pairs, deadline);
  const lost = t.sent - t.answered;
  const base = await processSend(Math.min(pairs, 50_000));
  const rate = (t.sent * 2) / t.secs;
  const baseRate = (base.sent * 2) / base.secs;
  console.log(`tessera: ${t.sent * 2} messages (${t.sent} round trips, ${(t.bytes / 2 ** 30).toFixed(2)} GiB of tensors) in ${t.secs.toFixed(1)} s = ${Math.round(rate)} msg/s; lost=${lost} (damaged ${t.damaged}, failed ${t.failed})`);
  console.log(`  baseline, process.send (advanced serialization), same size mix: ${base.sent * 2} messages in ${base.secs.toFixed(1)} s = ${Math.round(baseRate)} msg/s (lost ${base.sent - base.answered})`);
  console.log(`  tessera / process.send: ${(rate / baseRate).toFixed(2)}×`);
  const left = listSegments(process.pid);
  if (left.length > 0) console.log(`WARNING: segments left: ${left.join(", ")}`);
  return {
    messages: t.sent * 2, lost, damaged: t.damaged, failed: t.failed, seconds: +t.secs.toFixed(2), msgs_per_s: Math.round(rate),
    baseline_msgs_per_s: Math.round(baseRate), ratio: +(rate / baseRate).toFixed(3), segments_left: left.length,
  };
}
