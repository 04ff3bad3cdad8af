/**
 * A min-heap of items by deadline, each knowing its slot, so that the earliest is O(1) to see and
 * any item O(log n) to remove (a request that leaves the queue before its timeout). The dynamic
 * batcher keeps one timer for all its queued requests' timeouts instead of one timer each.
 *
 * Invariant: `heapAt` is the item's index in the heap's array, or -1 when it is in none.
 */
export interface HeapItem {
  deadline: number;
  heapAt: number;
}

export class DeadlineHeap<T extends HeapItem> {
  readonly #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  /** The item with the earliest deadline, if any. */
  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    if (item.heapAt >= 0) throw new Error("DeadlineHeap: item is already in a heap");
    item.heapAt = this.#items.length;
    this.#items.push(item);
    this.#up(item.heapAt);
  }

  pop(): T | undefined {
    const top = this.#items[0];
    if (top) this.remove(top);
    return top;
  }

  /** Takes `item` out; false when it was not in the heap. */
  remove(item: T): boolean {
    const at = item.heapAt;
    if (at < 0 || this.#items[at] !== item) return false;
    const last = this.#items.pop()!;
    item.heapAt = -1;
    if (last !== item) {
      this.#items[at] = last;
      last.heapAt = at;
      this.#down(at);
      this.#up(last.heapAt);
    }
    return true;
  }

  #up(i: number): void {
    const items = this.#items;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent].deadline <= items[i].deadline) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const items = this.#items;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < items.length && items[l].deadline < items[least].deadline) least = l;
      if (r < items.length && items[r].deadline < items[least].deadline) least = r;
      if (least === i) return;
      this.#swap(i, least);
      i = least;
    }
  }

  #swap(a: number, b: number): void {
    const items = this.#items;
    [items[a], items[b]] = [items[b], items[a]];
    items[a].heapAt = a;
    items[b].heapAt = b;
  }
}
