/**
 * A first-fit allocator over a byte range of shared memory, addressed by offsets. It keeps its
 * bookkeeping in JS (only the owning process allocates; the peer never does), so the shared bytes
 * hold data only. Live blocks are few (messages in flight), so linear scans are cheap.
 */

export const ALIGNMENT = 64; // a cache line: tensors never share one, and every typed view is aligned

export class Arena {
  readonly size: number;
  /** Free ranges sorted by offset, never adjacent (coalesced on free). */
  #free: { offset: number; size: number }[];
  #used = new Map<number, number>();
  #usedBytes = 0;

  constructor(size: number) {
    this.size = Math.floor(size / ALIGNMENT) * ALIGNMENT;
    this.#free = this.size > 0 ? [{ offset: 0, size: this.size }] : [];
  }

  get usedBytes(): number {
    return this.#usedBytes;
  }

  get liveBlocks(): number {
    return this.#used.size;
  }

  /** Offset of a new block of at least `bytes` bytes, or -1 when no free range is large enough. */
  alloc(bytes: number): number {
    const size = Math.max(ALIGNMENT, Math.ceil(bytes / ALIGNMENT) * ALIGNMENT);
    for (let i = 0; i < this.#free.length; i++) {
      const range = this.#free[i];
      if (range.size < size) continue;
      const offset = range.offset;
      if (range.size === size) this.#free.splice(i, 1);
      else {
        range.offset += size;
        range.size -= size;
      }
      this.#used.set(offset, size);
      this.#usedBytes += size;
      return offset;
    }
    return -1;
  }

  free(offset: number): void {
    const size = this.#used.get(offset);
    if (size === undefined) throw new Error(`arena: no block at offset ${offset}`);
    this.#used.delete(offset);
    this.#usedBytes -= size;
    const free = this.#free;
    let i = 0;
    while (i < free.length && free[i].offset < offset) i++;
    const before = free[i - 1];
    const after = free[i];
    if (before && before.offset + before.size === offset) {
      before.size += size;
      if (after && before.offset + before.size === after.offset) {
        before.size += after.size;
        free.splice(i, 1);
      }
    } else if (after && offset + size === after.offset) {
      after.offset = offset;
      after.size += size;
    } else {
      free.splice(i, 0, { offset, size });
    }
  }
}
