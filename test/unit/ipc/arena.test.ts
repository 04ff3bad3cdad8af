import { describe, expect, it } from "vitest";
import { ALIGNMENT, Arena } from "../../../src/ipc/arena.js";

describe("Arena", () => {
  it("hands out aligned, non-overlapping blocks until full", () => {
    const a = new Arena(1024);
    const offsets = [a.alloc(1), a.alloc(64), a.alloc(65), a.alloc(200)];
    expect(offsets).toEqual([0, 64, 128, 256]);
    expect(offsets.every((o) => o % ALIGNMENT === 0)).toBe(true);
    expect(a.usedBytes).toBe(64 + 64 + 128 + 256);
    expect(a.alloc(1024)).toBe(-1);
    expect(a.alloc(512)).toBe(512);
    expect(a.alloc(1)).toBe(-1);
  });

  it("coalesces freed neighbours so a large block fits again", () => {
    const a = new Arena(4096);
    const blocks = Array.from({ length: 8 }, () => a.alloc(512));
    expect(a.alloc(1)).toBe(-1);
    // Free in an order that needs merging on both sides.
    for (const i of [1, 3, 2, 0, 6, 7, 5, 4]) a.free(blocks[i]);
    expect(a.liveBlocks).toBe(0);
    expect(a.usedBytes).toBe(0);
    expect(a.alloc(4096)).toBe(0);
  });

  it("reuses the first hole that fits", () => {
    const a = new Arena(1024);
    const x = a.alloc(128);
    const y = a.alloc(128);
    a.alloc(128);
    a.free(x);
    a.free(y);
    expect(a.alloc(200)).toBe(x);
  });

  it("rejects freeing what it did not allocate", () => {
    const a = new Arena(1024);
    a.alloc(64);
    expect(() => a.free(64)).toThrow(/no block at offset 64/);
    expect(() => a.free(0)).not.toThrow();
    expect(() => a.free(0)).toThrow();
  });

  it("survives a random workload without overlap or leaks", () => {
    const a = new Arena(1 << 16);
    const live = new Map<number, number>();
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let step = 0; step < 5000; step++) {
      if (live.size > 0 && rand() < 0.5) {
        const keys = [...live.keys()];
        const k = keys[Math.floor(rand() * keys.length)];
        a.free(k);
        live.delete(k);
      } else {
        const n = 1 + Math.floor(rand() * 2000);
        const off = a.alloc(n);
        if (off < 0) continue;
        const end = off + Math.ceil(n / ALIGNMENT) * ALIGNMENT;
        for (const [o, size] of live) expect(end <= o || off >= o + size).toBe(true);
        live.set(off, end - off);
      }
    }
    for (const k of live.keys()) a.free(k);
    expect(a.usedBytes).toBe(0);
    expect(a.alloc(1 << 16)).toBe(0);
  });
});
