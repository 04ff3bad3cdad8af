/**
 * The layout of a stub's control segment, defined once. The queue header and descriptor are
 * mirrored by native/layout.h (pinned there by static_asserts, compared here by a unit test).
 *
 *   0                 SegmentHeader (64 B)
 *   64                queue 0 header: main → stub          (QUEUE_HEADER_SIZE)
 *   64 + H            queue 1 header: stub → main
 *   64 + 2H           ring 0: capacity × DESCRIPTOR_SIZE
 *   ...               ring 1
 *   page-aligned      arena 0: owned (allocated) by main
 *   + arenaSize       arena 1: owned by the stub
 */

export const SEGMENT_MAGIC = 0x54535241; // "TSRA"
/** Bumped whenever any layout or message encoding changes; checked in the handshake. */
export const PROTOCOL_VERSION = 8;

export const HEADER = {
  magic: 0,
  version: 4,
  queueCapacity: 8,
  arenaSize: 12,
  arena0: 16,
  arena1: 20,
  size: 64,
} as const;

export const QUEUE = { head: 0, tail: 64, sleeping: 128, capacity: 132, headerSize: 192 } as const;
export const DESCRIPTOR = { kind: 0, arena: 4, offset: 8, length: 12, size: 16 } as const;

export const PAGE = 4096;
export const alignUp = (n: number, to: number): number => Math.ceil(n / to) * to;

export interface ControlLayout {
  queueCapacity: number;
  arenaSize: number;
  /** Byte offset of each direction's queue header; 0 = main → stub, 1 = stub → main. */
  queue: [number, number];
  ring: [number, number];
  /** Byte offset of each side's arena; 0 = main's, 1 = the stub's. */
  arena: [number, number];
  totalSize: number;
}

export function controlLayout(queueCapacity: number, arenaSize: number): ControlLayout {
  if (!Number.isInteger(Math.log2(queueCapacity))) throw new RangeError("queue capacity must be a power of two");
  const queue0 = HEADER.size;
  const queue1 = queue0 + QUEUE.headerSize;
  const ring0 = queue1 + QUEUE.headerSize;
  const ring1 = ring0 + queueCapacity * DESCRIPTOR.size;
  const arena0 = alignUp(ring1 + queueCapacity * DESCRIPTOR.size, PAGE);
  const size = alignUp(arenaSize, PAGE);
  const arena1 = arena0 + size;
  return {
    queueCapacity,
    arenaSize: size,
    queue: [queue0, queue1],
    ring: [ring0, ring1],
    arena: [arena0, arena1],
    totalSize: arena1 + size,
  };
}

/** Main writes the header once; the stub checks it before trusting any offset. */
export function writeHeader(segment: ArrayBuffer, l: ControlLayout): void {
  const u32 = new Uint32Array(segment, 0, HEADER.size / 4);
  u32[HEADER.magic / 4] = SEGMENT_MAGIC;
  u32[HEADER.version / 4] = PROTOCOL_VERSION;
  u32[HEADER.queueCapacity / 4] = l.queueCapacity;
  u32[HEADER.arenaSize / 4] = l.arenaSize;
  u32[HEADER.arena0 / 4] = l.arena[0];
  u32[HEADER.arena1 / 4] = l.arena[1];
  for (const q of [0, 1] as const) {
    new Uint32Array(segment, l.queue[q], QUEUE.headerSize / 4)[QUEUE.capacity / 4] = l.queueCapacity;
  }
}

export function readHeader(segment: ArrayBuffer): ControlLayout {
  if (segment.byteLength < HEADER.size) throw new Error("control segment too small");
  const u32 = new Uint32Array(segment, 0, HEADER.size / 4);
  if (u32[HEADER.magic / 4] !== SEGMENT_MAGIC) throw new Error("not a tessera control segment");
  const version = u32[HEADER.version / 4];
  if (version !== PROTOCOL_VERSION) {
    throw new Error(`protocol version mismatch: segment has ${version}, this stub speaks ${PROTOCOL_VERSION}`);
  }
  const l = controlLayout(u32[HEADER.queueCapacity / 4], u32[HEADER.arenaSize / 4]);
  if (l.arena[0] !== u32[HEADER.arena0 / 4] || l.totalSize > segment.byteLength) throw new Error("control segment layout mismatch");
  return l;
}
