/**
 * One side (main or stub) of a control segment. It allocates from its own arenas only, sends
 * descriptors on its outgoing queue, and reads the peer's queue on wake-ups from a native waiter.
 * Memory a message uses belongs to its sender until the receiver RELEASEs it; a tensor that does
 * not fit grows the sender's pool by an extra segment (Triton's shm growth), mapped by the peer on
 * first sight and dropped once idle.
 */
import { Doorbell, prepareSleep, publish, unmapSegment } from "./addon.js";
import { Arena } from "./arena.js";
import { DESCRIPTOR, PAGE, QUEUE, alignUp, type ControlLayout } from "./layout.js";
import { KIND, type Loc, type SegmentTable } from "./protocol.js";
import { createOwnedSegment, openAndUnlink, unlinkOwnedSegment } from "./segments.js";

export type Side = 0 | 1; // 0 = main, 1 = stub

/** A block of the sender's memory, to be filled before the message that names it is sent. */
export interface Block {
  arena: number;
  offset: number;
  bytes: Uint8Array;
}

/** Identifies a received message until it is released. */
export interface MessageRef {
  arena: number;
  offset: number;
}

interface OwnArena {
  id: number;
  buffer: ArrayBuffer;
  base: number;
  allocator: Arena;
  /** Extra segments only; removed from /dev/shm once the peer has surely opened it. */
  name?: string;
  idleTimer?: NodeJS.Timeout;
}

export interface EndpointOptions {
  segment: ArrayBuffer;
  layout: ControlLayout;
  side: Side;
  serverPid: number;
  /** Smallest extra segment created when the arenas are full (shm-growth-byte-size). */
  growthBytes: number;
  /** Doorbells (eventfds): `in` rings when the peer published to us, `out` is the peer's. */
  doorbells: { in: number; out: number };
  /** A fully free extra segment is destroyed after this long unused. */
  idleExtraMs?: number;
  onMessage(kind: number, body: unknown, ref: MessageRef): void;
  /** A message that could not be decoded or handled; the endpoint keeps running. */
  onError(error: Error): void;
}

// Belt and braces: the queue is also read this often, should a doorbell ring ever be missed.
const SAFETY_POLL_MS = 1000;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

export class Endpoint {
  readonly #o: EndpointOptions;
  readonly #u32: Uint32Array;
  readonly #in: { queue: number; ring: number };
  readonly #out: { queue: number; ring: number };
  readonly #mask: number;
  readonly #own = new Map<number, OwnArena>();
  readonly #peer = new Map<number, { buffer: ArrayBuffer; base: number }>();
  /** Messages sent and not yet released: "arena:offset" of the body → every block it used. */
  readonly #sent = new Map<string, Block[]>();
  readonly #backlog: [number, number, number, number][] = [];
  readonly #inbox: [number, number, number, number][] = [];
  #nextArena = 1;
  #doorbell: Doorbell | null = null;
  #safetyPoll: NodeJS.Timeout | null = null;
  #flushTimer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: EndpointOptions) {
    this.#o = options;
    const { segment, layout, side } = options;
    this.#u32 = new Uint32Array(segment, 0, layout.totalSize >>> 2);
    this.#mask = layout.queueCapacity - 1;
    const outQ = side; // main writes queue 0, the stub queue 1
    const inQ = 1 - side;
    this.#out = { queue: layout.queue[outQ], ring: layout.ring[outQ] };
    this.#in = { queue: layout.queue[inQ], ring: layout.ring[inQ] };
    this.#own.set(0, { id: 0, buffer: segment, base: layout.arena[side], allocator: new Arena(layout.arenaSize) });
    this.#peer.set(0, { buffer: segment, base: layout.arena[1 - side] });
  }

  /** Starts reading the peer's queue. */
  start(): void {
    this.#doorbell = new Doorbell(this.#o.doorbells.in, () => this.#onWake());
    this.#safetyPoll = setInterval(() => this.#onWake(), SAFETY_POLL_MS);
    this.#safetyPoll.unref();
    this.#onWake();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes in use in this side's arenas (messages sent and not yet released). */
  get usedBytes(): number {
    let n = 0;
    for (const a of this.#own.values()) n += a.allocator.usedBytes;
    return n;
  }

  get extraArenas(): number {
    return this.#own.size - 1;
  }

  alloc(bytes: number): Block {
    if (this.#closed) throw new Error("endpoint closed");
    let block = this.#tryAlloc(bytes);
    if (!block) {
      // The peer may have released memory without waking us: read its queue first.
      this.#pump();
      block = this.#tryAlloc(bytes) ?? this.#grow(bytes);
    }
    return block;
  }

  /** Frees blocks that were allocated but never sent. */
  freeBlocks(blocks: readonly Block[]): void {
    for (const b of blocks) this.#free(b.arena, b.offset);
  }

  /** Sends `body` as JSON with the given kind; `blocks` (tensor bytes it names) are freed with it. */
  send(kind: number, body: object & SegmentTable, blocks: readonly Block[]): void {
    const extras = new Set<number>();
    for (const b of blocks) if (b.arena !== 0) extras.add(b.arena);
    if (extras.size > 0) body.$seg = [...extras].map((id) => [id, this.#own.get(id)!.name!]);
    const json = JSON.stringify(body);
    const length = Buffer.byteLength(json);
    const head = this.alloc(length);
    encoder.encodeInto(json, head.bytes);
    this.#sent.set(`${head.arena}:${head.offset}`, [head, ...blocks]);
    this.#publish(kind, head.arena, head.offset, length, true);
  }

  /** The bytes at a location in the peer's memory (a view: valid until that message is released). */
  view(loc: Loc): Uint8Array {
    const arena = this.#peer.get(loc[0]);
    if (!arena) throw new Error(`unknown peer arena ${loc[0]}`);
    return new Uint8Array(arena.buffer, arena.base + loc[1], loc[2]);
  }

  /** Tells the peer this side is done with a message it sent. Lazy: the peer reads it when it wakes. */
  release(ref: MessageRef): void {
    if (this.#closed) return;
    this.#publish(KIND.RELEASE, ref.arena, ref.offset, 0, false);
  }

  /** Stops reading and unmaps this side's extra segments; everything else is left to GC. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#doorbell?.close();
    this.#doorbell = null;
    if (this.#safetyPoll) clearInterval(this.#safetyPoll);
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    for (const a of this.#own.values()) {
      if (a.idleTimer) clearTimeout(a.idleTimer);
      if (a.id !== 0) {
        unlinkOwnedSegment(a.name!);
        unmapSegment(a.buffer);
      }
    }
    // Peer segments are not unmapped here: responses being written out may still view them.
    // Dropping the references lets GC unmap them once the last view is gone.
    this.#own.clear();
    this.#peer.clear();
    this.#sent.clear();
  }

  #onWake(): void {
    const sleeping = (this.#in.queue + QUEUE.sleeping) >>> 2;
    do {
      if (this.#closed) return;
      Atomics.store(this.#u32, sleeping, 0); // awake: publishers need not ring
      this.#pump();
      // Handlers may alloc(), which may pump more into the inbox: drain until it stays empty.
      while (this.#inbox.length > 0) {
        try {
          this.#dispatch(this.#inbox.shift()!);
        } catch (err) {
          this.#o.onError(err instanceof Error ? err : new Error(String(err)));
        }
      }
      this.#flushBacklog();
      // Sleep (the next publish rings the doorbell) unless something arrived meanwhile.
    } while (!this.#closed && prepareSleep(this.#o.segment, this.#in.queue, this.#u32[(this.#in.queue + QUEUE.head) >>> 2]));
  }

  /** Reads every descriptor now in the incoming queue. Bookkeeping is applied at once; messages
   * wait in the inbox so they are delivered in order and never re-entrantly from alloc(). */
  #pump(): void {
    const u32 = this.#u32;
    const headIndex = (this.#in.queue + QUEUE.head) >>> 2;
    let head = u32[headIndex];
    const tail = Atomics.load(u32, (this.#in.queue + QUEUE.tail) >>> 2);
    while (head !== tail) {
      const slot = (this.#in.ring + (head & this.#mask) * DESCRIPTOR.size) >>> 2;
      const kind = u32[slot], arena = u32[slot + 1], offset = u32[slot + 2], length = u32[slot + 3];
      head = (head + 1) >>> 0;
      Atomics.store(u32, headIndex, head);
      if (kind === KIND.RELEASE) this.#onRelease(arena, offset);
      else if (kind === KIND.DROP_ARENA) this.#onDrop(arena);
      else this.#inbox.push([kind, arena, offset, length]);
    }
  }

  #dispatch([kind, arena, offset, length]: [number, number, number, number]): void {
    let body: SegmentTable;
    try {
      body = JSON.parse(decoder.decode(this.view([arena, offset, length])));
      if (body.$seg) for (const [id, name] of body.$seg) this.#mapPeer(id, name);
    } catch (err) {
      // A corrupt message cannot be answered; release it so the peer's memory is not lost.
      this.release({ arena, offset });
      throw err;
    }
    this.#o.onMessage(kind, body, { arena, offset });
  }

  #mapPeer(id: number, name: string): void {
    if (!this.#peer.has(id)) this.#peer.set(id, { buffer: openAndUnlink(name), base: 0 });
  }

  #onRelease(arena: number, offset: number): void {
    const key = `${arena}:${offset}`;
    const blocks = this.#sent.get(key);
    if (!blocks) return;
    this.#sent.delete(key);
    for (const b of blocks) this.#free(b.arena, b.offset);
  }

  #onDrop(id: number): void {
    const a = this.#peer.get(id);
    if (!a || id === 0) return;
    this.#peer.delete(id);
    unmapSegment(a.buffer);
  }

  #tryAlloc(bytes: number): Block | null {
    for (const a of this.#own.values()) {
      const offset = a.allocator.alloc(bytes);
      if (offset < 0) continue;
      if (a.idleTimer) {
        clearTimeout(a.idleTimer);
        a.idleTimer = undefined;
      }
      return { arena: a.id, offset, bytes: new Uint8Array(a.buffer, a.base + offset, bytes) };
    }
    return null;
  }

  #grow(bytes: number): Block {
    const size = alignUp(Math.max(bytes, this.#o.growthBytes), PAGE);
    const { name, buffer } = createOwnedSegment(this.#o.serverPid, size);
    const a: OwnArena = { id: this.#nextArena++, buffer, base: 0, allocator: new Arena(size), name };
    this.#own.set(a.id, a);
    return this.#tryAlloc(bytes)!;
  }

  #free(id: number, offset: number): void {
    const a = this.#own.get(id);
    if (!a) return;
    a.allocator.free(offset);
    if (id === 0 || a.allocator.liveBlocks > 0) return;
    // The peer has released a message in this segment, so it has mapped (and unlinked) it.
    unlinkOwnedSegment(a.name!);
    a.idleTimer = setTimeout(() => this.#destroyExtra(a), this.#o.idleExtraMs ?? 2000);
    a.idleTimer.unref();
  }

  #destroyExtra(a: OwnArena): void {
    if (this.#closed || a.allocator.liveBlocks > 0) return;
    this.#own.delete(a.id);
    this.#publish(KIND.DROP_ARENA, a.id, 0, 0, false);
    unmapSegment(a.buffer);
  }

  #publish(kind: number, arena: number, offset: number, length: number, wake: boolean): void {
    if (this.#backlog.length > 0 || !this.#tryPublish(kind, arena, offset, length, wake)) {
      this.#backlog.push([kind, arena, offset, length]);
      this.#scheduleFlush();
    }
  }

  #tryPublish(kind: number, arena: number, offset: number, length: number, wake: boolean): boolean {
    const u32 = this.#u32;
    const q = this.#out.queue;
    const tail = u32[(q + QUEUE.tail) >>> 2];
    const head = Atomics.load(u32, (q + QUEUE.head) >>> 2);
    const used = (tail - head) >>> 0;
    if (used >= this.#mask + 1) {
      publish(this.#o.segment, q, tail, this.#o.doorbells.out); // full: make sure the consumer drains it
      return false;
    }
    const slot = (this.#out.ring + (tail & this.#mask) * DESCRIPTOR.size) >>> 2;
    u32[slot] = kind;
    u32[slot + 1] = arena;
    u32[slot + 2] = offset;
    u32[slot + 3] = length;
    const next = (tail + 1) >>> 0;
    // Quiet publishes (bookkeeping) skip the wake-up unless the ring is filling up.
    if (wake || used >= (this.#mask + 1) >>> 1) publish(this.#o.segment, q, next, this.#o.doorbells.out);
    else Atomics.store(u32, (q + QUEUE.tail) >>> 2, next);
    return true;
  }

  #flushBacklog(): void {
    while (this.#backlog.length > 0) {
      const [kind, arena, offset, length] = this.#backlog[0];
      if (!this.#tryPublish(kind, arena, offset, length, true)) return this.#scheduleFlush();
      this.#backlog.shift();
    }
  }

  #scheduleFlush(): void {
    if (this.#flushTimer || this.#closed) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = null;
      this.#flushBacklog();
    }, 1);
  }
}
