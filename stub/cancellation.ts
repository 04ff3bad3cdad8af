/**
 * Which requests' clients went away. Main names requests by wire keys that only grow, and its
 * cancellations (IPC channel) may overtake the requests themselves (shared-memory queue): a key
 * above any seen yet is remembered until its request arrives; a key already over is forgotten,
 * so a late cancellation leaves nothing behind.
 */
export class Cancellations {
  readonly #live = new Set<number>();
  readonly #cancelled = new Set<number>();
  #highest = 0;

  /** A request arrived (it may wait for its call before the handler sees it). */
  begin(key: number): void {
    this.#live.add(key);
    if (key > this.#highest) this.#highest = key;
  }

  /** The request is over (its call returned, or its final response went out). */
  end(key: number): void {
    this.#live.delete(key);
    this.#cancelled.delete(key);
  }

  cancel(keys: readonly number[]): void {
    for (const key of keys) if (this.#live.has(key) || key > this.#highest) this.#cancelled.add(key);
  }

  isCancelled(key: number): boolean {
    return this.#cancelled.has(key);
  }
}
