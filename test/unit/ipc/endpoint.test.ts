import { afterEach, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { closeFd, createEventFd } from "../../../src/ipc/addon.js";
import { Endpoint, type MessageRef } from "../../../src/ipc/endpoint.js";
import { controlLayout, writeHeader } from "../../../src/ipc/layout.js";
import { KIND } from "../../../src/ipc/protocol.js";
import { createOwnedSegment, listSegments, openAndUnlink, sweepStaleSegments, unlinkOwnedSegment } from "../../../src/ipc/segments.js";

// Both sides of one control segment in one process: the queue, wake-up and memory bookkeeping
// without spawning anything (the integration tests cover the two-process case).
type Got = { kind: number; body: any; ref: MessageRef };

function pair(arenaBytes = 64 * 1024, queueCapacity = 16) {
  const l = controlLayout(queueCapacity, arenaBytes);
  const { name, buffer } = createOwnedSegment(process.pid, l.totalSize);
  writeHeader(buffer, l);
  const peerBuffer = openAndUnlink(name);
  unlinkOwnedSegment(name);
  const inbox: [Got[], Got[]] = [[], [], ];
  const broken: [string[], string[]] = [[], []];
  const waiters: [(() => void) | null, (() => void) | null] = [null, null];
  const bells = [createEventFd(), createEventFd()]; // [rung by main, rung by the stub]
  fds.push(...bells);
  const make = (side: 0 | 1, segment: ArrayBuffer) =>
    new Endpoint({
      segment, segmentName: name, layout: l, side, serverPid: process.pid, growthBytes: 4096, idleExtraMs: 20,
      doorbells: side === 0 ? { in: bells[1], out: bells[0] } : { in: bells[0], out: bells[1] },
      onMessage: (kind, body, ref) => {
        inbox[side].push({ kind, body, ref });
        waiters[side]?.();
      },
      onBroken: (e) => broken[side].push(e.message),
    });
  const main = make(0, buffer);
  const stub = make(1, peerBuffer);
  main.start();
  stub.start();
  const next = (side: 0 | 1) =>
    new Promise<Got>((resolve) => {
      const take = () => {
        if (inbox[side].length > 0) {
          waiters[side] = null;
          resolve(inbox[side].shift()!);
        }
      };
      waiters[side] = take;
      take();
    });
  return { main, stub, next, name, broken, buffer, layout: l };
}

const open: Endpoint[] = [];
const fds: number[] = [];
afterEach(async () => {
  for (const e of open.splice(0)) e.close();
  await new Promise((r) => setImmediate(r));
  for (const fd of fds.splice(0)) closeFd(fd);
});

describe("Endpoint", () => {
  it("delivers a message with tensor bytes both ways, and frees memory on release", async () => {
    const { main, stub, next } = pair();
    open.push(main, stub);
    const block = main.alloc(16);
    block.bytes.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    main.send(KIND.EXECUTE, { id: 7, loc: [block.arena, block.offset, 16] }, [block]);
    const got = await next(1);
    expect(got.kind).toBe(KIND.EXECUTE);
    expect(got.body.id).toBe(7);
    expect([...stub.view(got.body.loc)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    expect(main.usedBytes).toBeGreaterThan(0);

    stub.release(got.ref);
    stub.send(KIND.RESPONSE, { id: 7 }, []);
    const reply = await next(0);
    expect(reply.body.id).toBe(7);
    expect(main.usedBytes).toBe(0); // the release arrived before the response
    main.release(reply.ref);
    // Releases are lazy (no wake-up): the stub frees its memory when it next reads its queue.
    main.send(KIND.EXECUTE, { id: 8 }, []);
    await next(1);
    expect(stub.usedBytes).toBe(0);
  });

  it("grows with an extra segment for a tensor larger than the arena, then drops it", async () => {
    const { main, stub, next, name } = pair(16 * 1024);
    open.push(main, stub);
    const big = main.alloc(1 << 20);
    expect(big.arena).not.toBe(0);
    expect(main.extraArenas).toBe(1);
    big.bytes[123_456] = 42;
    main.send(KIND.EXECUTE, { loc: [big.arena, big.offset, 1 << 20] }, [big]);
    const got = await next(1);
    expect(stub.view(got.body.loc)[123_456]).toBe(42);
    // The receiver unlinked the name on opening: nothing of it is left in /dev/shm.
    expect(listSegments(process.pid).filter((n) => n.startsWith(name.slice(1)))).toEqual([]);
    stub.release(got.ref);
    stub.send(KIND.RESPONSE, {}, []);
    await next(0);
    await new Promise((r) => setTimeout(r, 60));
    expect(main.extraArenas).toBe(0);
  });

  it("keeps order and loses nothing when the ring is full", async () => {
    const { main, stub, next } = pair(256 * 1024, 4);
    open.push(main, stub);
    for (let i = 0; i < 50; i++) main.send(KIND.EXECUTE, { i }, []);
    const seen: number[] = [];
    for (let i = 0; i < 50; i++) {
      const m = await next(1);
      seen.push(m.body.i);
      stub.release(m.ref);
    }
    expect(seen).toEqual([...Array(50).keys()]);
  });
});

describe("Endpoint against a corrupt peer", () => {
  /** Writes one descriptor into the main → stub ring as a hostile main would, and publishes it. */
  function inject(buffer: ArrayBuffer, l: ReturnType<typeof controlLayout>, d: [number, number, number, number], tail?: number) {
    const u32 = new Uint32Array(buffer);
    const q = l.queue[0] >>> 2;
    const at = u32[q + 64 / 4];
    u32.set(d, (l.ring[0] >>> 2) + (at & (l.queueCapacity - 1)) * 4);
    Atomics.store(u32, q + 64 / 4, tail ?? (at + 1) >>> 0);
  }
  const settle = () => new Promise((r) => setTimeout(r, 20));

  it("a body that is not a message breaks the channel: reported, never dropped silently", async () => {
    const { main, stub, broken, buffer, layout } = pair();
    open.push(main, stub);
    const block = main.alloc(8);
    block.bytes.set([0xff, 0xfe, 1, 2, 3, 4, 5, 6]);
    inject(buffer, layout, [KIND.EXECUTE, block.arena, block.offset, 8]);
    await settle();
    expect(broken[1]).toEqual([expect.stringMatching(/message 1 at \[0, \d+, 8\] could not be decoded/)]);
    expect(stub.closed).toBe(true);
  });

  it("a location outside the sender's arena breaks the channel (no read of other memory)", async () => {
    const { main, stub, broken, buffer, layout } = pair(16 * 1024);
    open.push(main, stub);
    inject(buffer, layout, [KIND.EXECUTE, 0, 16 * 1024 - 4, 64]);
    await settle();
    expect(broken[1]).toEqual([expect.stringMatching(/lies outside the peer's arena/)]);
  });

  it("an arena id that names no segment breaks the channel", async () => {
    const { main, stub, broken, buffer, layout } = pair();
    open.push(main, stub);
    inject(buffer, layout, [KIND.EXECUTE, 77, 0, 16]);
    await settle();
    expect(broken[1]).toEqual([expect.stringMatching(/shm_open/)]);
  });

  it("queue indices a peer corrupted break the channel instead of reading 4 billion descriptors", async () => {
    const { main, stub, broken, buffer, layout } = pair();
    open.push(main, stub);
    inject(buffer, layout, [KIND.EXECUTE, 0, 0, 0], 0xfffffff0);
    await settle();
    expect(broken[1]).toEqual([expect.stringMatching(/queue indices are corrupt/)]);
  });
});

describe("segments", () => {
  it("sweeps segments left by a server that is gone, and only those", () => {
    const deadPid = 2 ** 22 + 12345; // above pid_max on common kernels: surely not running
    const dead = createOwnedSegment(deadPid, 4096);
    const mine = createOwnedSegment(process.pid, 4096);
    const removed = sweepStaleSegments();
    expect(removed).toContain(dead.name.slice(1));
    expect(existsSync(`/dev/shm${mine.name}`)).toBe(true);
    expect(existsSync(`/dev/shm${dead.name}`)).toBe(false);
    unlinkOwnedSegment(mine.name);
    unlinkOwnedSegment(dead.name);
    expect(existsSync(`/dev/shm${mine.name}`)).toBe(false);
  });
});
