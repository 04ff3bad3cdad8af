/**
 * A FIFO whose items know their place: push, remove from anywhere and take from the front are
 * O(1), with no array to search or shift. The dynamic batcher keeps its queued requests in these,
 * so that a cancellation, a timeout or a batch leaving costs the same with 10 or 10 000 queued.
 *
 * Invariant: an item is in at most one queue; `queue` says which (null when in none), and
 * `prev`/`next` are its neighbours there.
 */
export interface Linked<T extends Linked<T>> {
  queue: LinkedQueue<T> | null;
  prev: T | null;
  next: T | null;
}

export class LinkedQueue<T extends Linked<T>> {
  #head: T | null = null;
  #tail: T | null = null;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get first(): T | null {
    return this.#head;
  }

  get last(): T | null {
    return this.#tail;
  }

  push(item: T): void {
    this.insertAfter(this.#tail, item);
  }

  /** Places `item` right after `at` (null: at the front). */
  insertAfter(at: T | null, item: T): void {
    if (item.queue) throw new Error("LinkedQueue: item is already queued");
    const next = at ? at.next : this.#head;
    item.prev = at;
    item.next = next;
    if (at) at.next = item;
    else this.#head = item;
    if (next) next.prev = item;
    else this.#tail = item;
    item.queue = this;
    this.#size++;
  }

  /** Takes `item` out; false when it was not in this queue. */
  remove(item: T): boolean {
    if (item.queue !== this) return false;
    if (item.prev) item.prev.next = item.next;
    else this.#head = item.next;
    if (item.next) item.next.prev = item.prev;
    else this.#tail = item.prev;
    item.prev = item.next = null;
    item.queue = null;
    this.#size--;
    return true;
  }

  /** Takes every item out, front first. */
  clear(): T[] {
    const out: T[] = [];
    while (this.#head) {
      out.push(this.#head);
      this.remove(this.#head);
    }
    return out;
  }
}
