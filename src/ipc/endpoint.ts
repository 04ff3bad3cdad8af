/**
 * One side (main or stub) of a control segment. It allocates from its own arenas only, sends
 * descriptors on its outgoing queue, and reads the peer's queue when its Doorbell says there is
 * something unread. Memory a message uses belongs to its sender until the receiver RELEASEs it; a
 * tensor that does not fit grows the sender's pool by an extra segment (Triton's shm growth),
 * dropped once idle.
 *
 * The invariant that makes the transport lossless: every arena id a peer can see (in a
 * descriptor or in a Loc) names arena 0 or an extra segment that is still named
 * `extraSegmentName(control, side, id)` in /dev/shm until the peer has opened it. The peer maps
 * an id it has not seen by that name, wherever it first meets it; nothing is announced, so
 * nothing can be announced too late. The owner unlinks a name only when it destroys the arena,
 * which it does only once no block in it is live, i.e. once the peer has released every message
 * placed there (and so had mapped it). Ids are never reused.
 *
 * A descriptor whose body cannot be read or decoded, or whose delivery throws, breaks the
 * channel: the endpoint closes and reports it (onBroken), and its owner fails what was in flight
 * and replaces the peer. Nothing is dropped silently.
 */
import { Doorbell, publish, unmapSegment } from "./addon.js";
import { Arena } from "./arena.js";
import { decodeBody, encodeBody } from "./body-codec.js";
import { DESCRIPTOR, PAGE, QUEUE, alignUp, type ControlLayout } from "./layout.js";
import { KIND, type Loc } from "./protocol.js";
import { createOwnedSegment, extraSegmentName, openAndUnlink, unlinkOwnedSegment } from "./segments.js";

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
  /** The whole mapping: message heads are copied in through it, with no view of their own. */
  u8: Uint8Array;
  base: number;
  allocator: Arena;
  /** Extra segments only: the name the peer maps it by, until it opens it or we destroy it. */
  name?: string;
  idleTimer?: NodeJS.Timeout;
}

export interface EndpointOptions {
  segment: ArrayBuffer;
  /** The control segment's name: extra segments are named after it (extraSegmentName). */
  segmentName: string;
  layout: ControlLayout;
  side: Side;
  serverPid: number;
  /** Smallest extra segment created when the arenas are full (shm-growth-byte-size). */
  growthBytes: number;
  /** Doorbells (eventfds): `in` rings when the peer published to us, `out` is the peer's. */
  doorbells: { in: number; out: number };
  /** A fully free extra segment is destroyed after this long unused. */
  idleExtraMs?: number;
  /** How long to watch the queue for the peer's answer before sleeping (µs, after traffic). */
  spinUs?: number;
  onMessage(kind: number, body: unknown, ref: MessageRef): void;
  /** The channel broke (a message could not be decoded or delivered); the endpoint is closed. */
  onBroken(error: Error): void;
}

// Belt and braces: the queue is also read this often, should a wake-up ever be missed.
const SAFETY_POLL_MS = 1000;
/** Measured on a 2-vCPU VM: a cross-vCPU wake-up costs 20–25 µs, and most answers come sooner. */
export const DEFAULT_SPIN_US = 50;
const ARENA_SHIFT = 2 ** 32;
/** A block's key in this side's books (arena·2^32 + offset), and back. */
const keyOf = (arena: number, offset: number) => arena * ARENA_SHIFT + offset;
const arenaOf = (key: number) => Math.floor(key / ARENA_SHIFT);
const offsetOf = (key: number) => key % ARENA_SHIFT;

export class Endpoint {
  readonly #o: EndpointOptions;
  readonly #u32: Uint32Array;
  readonly #in: { queue: number; ring: number };
  readonly #out: { queue: number; ring: number };
  readonly #mask: number;
  readonly #own = new Map<number, OwnArena>();
  /** The peer's arenas this side has mapped; `size` bounds every location read in one. */
  readonly #peer = new Map<number, { buffer: ArrayBuffer; base: number; size: number }>();
  /** Messages sent and not yet released: arena·2^32 + offset of the body → the tensor blocks it named. */
  readonly #sent = new Map<number, readonly Block[]>();
  readonly #backlog: [number, number, number, number][] = [];
  readonly #inbox: [number, number, number, number][] = [];
  #nextArena = 1;
  #doorbell: Doorbell | null = null;
  #safetyPoll: NodeJS.Timeout | null = null;
  #flushTimer: NodeJS.Timeout | null = null;
  #closed = false;
  #reading = false;
  /** Our read index of the incoming queue, kept here: the peer could overwrite the shared copy. */
  #head = 0;

  constructor(options: EndpointOptions) {
    this.#o = options;
    const { segment, layout, side } = options;
    this.#u32 = new Uint32Array(segment, 0, layout.totalSize >>> 2);
    this.#mask = layout.queueCapacity - 1;
    const outQ = side; // main writes queue 0, the stub queue 1
    const inQ = 1 - side;
    this.#out = { queue: layout.queue[outQ], ring: layout.ring[outQ] };
    this.#in = { queue: layout.queue[inQ], ring: layout.ring[inQ] };
    this.#own.set(0, { id: 0, buffer: segment, u8: new Uint8Array(segment), base: layout.arena[side], allocator: new Arena(layout.arenaSize) });
    this.#peer.set(0, { buffer: segment, base: layout.arena[1 - side], size: layout.arenaSize });
    this.#head = this.#u32[(this.#in.queue + QUEUE.head) >>> 2];
  }

  /** Starts reading the peer's queue. */
  start(): void {
    const o = this.#o;
    this.#doorbell = new Doorbell(o.doorbells.in, o.segment, this.#in.queue, o.spinUs ?? DEFAULT_SPIN_US, () => this.#onWake());
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

  /** Messages sent and not yet released by the peer. */
  get unreleased(): number {
    return this.#sent.size;
  }

  alloc(bytes: number): Block {
    const key = this.#reserve(bytes);
    const id = arenaOf(key), offset = offsetOf(key);
    const a = this.#own.get(id)!;
    return { arena: id, offset, bytes: new Uint8Array(a.buffer, a.base + offset, bytes) };
  }

  /** Frees blocks that were allocated but never sent. */
  freeBlocks(blocks: readonly Block[]): void {
    for (const b of blocks) this.#free(b.arena, b.offset);
  }

  /**
   * Sends `body` with the given kind; `blocks` (tensor bytes it names) are freed with it, and
   * belong to the endpoint once send returns. A send that throws has sent and kept nothing.
   */
  send(kind: number, body: object, blocks: readonly Block[]): void {
    const bytes = encodeBody(kind, body);
    const key = this.#reserve(bytes.byteLength);
    const id = arenaOf(key), offset = offsetOf(key);
    const a = this.#own.get(id)!;
    a.u8.set(bytes, a.base + offset);
    this.#sent.set(key, blocks);
    this.#publish(kind, id, offset, bytes.byteLength, true);
    this.#doorbell?.arm(); // an answer (or at least a release) usually follows within a wake-up's cost
  }

  /** The bytes at a location in the peer's memory (a view: valid until that message is released). */
  view(loc: Loc): Uint8Array {
    const [id, offset, length] = loc;
    const arena = this.#peerArena(id);
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > arena.size) {
      throw new RangeError(`location [${id}, ${offset}, ${length}] lies outside the peer's arena`);
    }
    return new Uint8Array(arena.buffer, arena.base + offset, length);
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
    this.#inbox.length = 0;
    this.#backlog.length = 0;
  }

  #onWake(): void {
    if (this.#closed || this.#reading) return;
    this.#reading = true;
    try {
      this.#pump();
      // Handlers may alloc(), which may pump more into the inbox: drain until it stays empty.
      while (this.#inbox.length > 0 && !this.#closed) this.#dispatch(this.#inbox.shift()!);
      if (!this.#closed) this.#flushBacklog();
    } finally {
      this.#reading = false;
    }
  }

  /** Reads every descriptor now in the incoming queue. Bookkeeping is applied at once; messages
   * wait in the inbox so they are delivered in order and never re-entrantly from alloc(). */
  #pump(): void {
    if (this.#closed) return;
    const u32 = this.#u32;
    const headIndex = (this.#in.queue + QUEUE.head) >>> 2;
    let head = this.#head;
    const tail = Atomics.load(u32, (this.#in.queue + QUEUE.tail) >>> 2);
    // A peer can only have published up to a ring's worth past what we read.
    if (((tail - head) >>> 0) > this.#mask + 1) return this.#broken(`the peer's queue indices are corrupt (head ${head}, tail ${tail})`);
    while (head !== tail) {
      const slot = (this.#in.ring + (head & this.#mask) * DESCRIPTOR.size) >>> 2;
      const kind = u32[slot], arena = u32[slot + 1], offset = u32[slot + 2], length = u32[slot + 3];
      head = (head + 1) >>> 0;
      this.#head = head;
      Atomics.store(u32, headIndex, head);
      if (kind === KIND.RELEASE) this.#onRelease(arena, offset);
      else if (kind === KIND.DROP_ARENA) this.#onDrop(arena);
      else this.#inbox.push([kind, arena, offset, length]);
    }
  }

  #dispatch([kind, arena, offset, length]: [number, number, number, number]): void {
    let body: unknown;
    try {
      body = decodeBody(kind, this.view([arena, offset, length]));
    } catch (err) {
      return this.#broken(`message ${kind} at [${arena}, ${offset}, ${length}] could not be decoded: ${(err as Error).message}`);
    }
    try {
      this.#o.onMessage(kind, body, { arena, offset });
    } catch (err) {
      this.#broken(`message ${kind} could not be delivered: ${(err as Error).message}`);
    }
  }

  #broken(message: string): void {
    this.close();
    this.#o.onBroken(new Error(message));
  }

  /** A peer arena by id, mapped by its name the first time it is met (see the invariant above). */
  #peerArena(id: number): { buffer: ArrayBuffer; base: number; size: number } {
    let arena = this.#peer.get(id);
    if (arena) return arena;
    if (this.#closed) throw new Error("endpoint closed");
    if (!Number.isInteger(id) || id <= 0) throw new RangeError(`invalid peer arena ${id}`);
    const buffer = openAndUnlink(extraSegmentName(this.#o.segmentName, (1 - this.#o.side) as Side, id));
    arena = { buffer, base: 0, size: buffer.byteLength };
    this.#peer.set(id, arena);
    return arena;
  }

  #onRelease(arena: number, offset: number): void {
    const key = keyOf(arena, offset);
    const blocks = this.#sent.get(key);
    if (!blocks) return;
    this.#sent.delete(key);
    this.#free(arena, offset);
    for (const b of blocks) this.#free(b.arena, b.offset);
  }

  #onDrop(id: number): void {
    const a = this.#peer.get(id);
    if (!a || id === 0) return;
    this.#peer.delete(id);
    unmapSegment(a.buffer);
  }

  /** Room for `bytes` in this side's arenas, growing them if need be: its key, arena·2^32 + offset. */
  #reserve(bytes: number): number {
    if (this.#closed) throw new Error("endpoint closed");
    let key = this.#tryReserve(bytes);
    if (key < 0) {
      // The peer may have released memory without waking us: read its queue first.
      this.#pump();
      key = this.#tryReserve(bytes);
      if (key < 0) key = this.#grow(bytes);
    }
    return key;
  }

  #tryReserve(bytes: number): number {
    for (const a of this.#own.values()) {
      const offset = a.allocator.alloc(bytes);
      if (offset < 0) continue;
      if (a.idleTimer) {
        clearTimeout(a.idleTimer);
        a.idleTimer = undefined;
      }
      return keyOf(a.id, offset);
    }
    return -1;
  }

  #grow(bytes: number): number {
    const size = alignUp(Math.max(bytes, this.#o.growthBytes), PAGE);
    const id = this.#nextArena++;
    // Named before anything is placed in it: the peer can map it from the first descriptor on.
    const { name, buffer } = createOwnedSegment(this.#o.serverPid, size, extraSegmentName(this.#o.segmentName, this.#o.side, id));
    const a: OwnArena = { id, buffer, u8: new Uint8Array(buffer), base: 0, allocator: new Arena(size), name };
    this.#own.set(a.id, a);
    return this.#tryReserve(bytes);
  }

  #free(id: number, offset: number): void {
    const a = this.#own.get(id);
    if (!a) return;
    a.allocator.free(offset);
    if (id === 0 || a.allocator.liveBlocks > 0) return;
    a.idleTimer = setTimeout(() => this.#destroyExtra(a), this.#o.idleExtraMs ?? 2000);
    a.idleTimer.unref();
  }

  #destroyExtra(a: OwnArena): void {
    if (this.#closed || a.allocator.liveBlocks > 0) return;
    this.#own.delete(a.id);
    unlinkOwnedSegment(a.name!); // still named only if the peer never had to open it
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
