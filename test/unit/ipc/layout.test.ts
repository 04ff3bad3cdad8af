import { describe, expect, it } from "vitest";
import { layout as native } from "../../../src/ipc/addon.js";
import { DESCRIPTOR, HEADER, PAGE, PROTOCOL_VERSION, QUEUE, controlLayout, readHeader, writeHeader } from "../../../src/ipc/layout.js";

describe("shared-memory layout", () => {
  it("matches the C++ header (native/layout.h) field for field", () => {
    expect(native).toEqual({
      queueHead: QUEUE.head,
      queueTail: QUEUE.tail,
      queueSleeping: QUEUE.sleeping,
      queueCapacity: QUEUE.capacity,
      queueHeaderSize: QUEUE.headerSize,
      descriptorSize: DESCRIPTOR.size,
    });
  });

  it("places queues, rings and page-aligned arenas without overlap", () => {
    const l = controlLayout(1024, 1 << 20);
    expect(l.queue[0]).toBe(HEADER.size);
    expect(l.queue[1]).toBe(HEADER.size + QUEUE.headerSize);
    expect(l.ring[1]).toBe(l.ring[0] + 1024 * DESCRIPTOR.size);
    expect(l.arena[0] % PAGE).toBe(0);
    expect(l.arena[0]).toBeGreaterThanOrEqual(l.ring[1] + 1024 * DESCRIPTOR.size);
    expect(l.arena[1]).toBe(l.arena[0] + (1 << 20));
    expect(l.totalSize).toBe(l.arena[1] + (1 << 20));
    expect(() => controlLayout(1000, 4096)).toThrow(/power of two/);
  });

  it("round-trips the header and refuses foreign or mismatched segments", () => {
    const l = controlLayout(64, 8192);
    const seg = new ArrayBuffer(l.totalSize);
    writeHeader(seg, l);
    expect(readHeader(seg)).toEqual(l);
    const u32 = new Uint32Array(seg);
    u32[HEADER.version / 4] = PROTOCOL_VERSION + 1;
    expect(() => readHeader(seg)).toThrow(/protocol version mismatch/);
    u32[HEADER.magic / 4] = 0;
    expect(() => readHeader(seg)).toThrow(/not a tessera control segment/);
    expect(() => readHeader(new ArrayBuffer(8))).toThrow(/too small/);
  });
});
