/**
 * Which requests' clients went away. Main names requests by their wire key; only keys still
 * alive in this stub are remembered, so a late cancellation leaves nothing behind.
 */
export class Cancellations {
  readonly #live = new Set<number>();
  readonly #cancelled = new Set<number>();

  /** A request reached the handler. */
  begin(key: number): void {
    this.#live.add(key);
  }

  /** The request is over (its call returned, or its final response went out). */
  end(key: number): void {
    this.#live.delete(key);
    this.#cancelled.delete(key);
  }

  cancel(keys: readonly number[]): void {
    for (const key of keys) if (this.#live.has(key)) this.#cancelled.add(key);
  }

  isCancelled(key: number): boolean {
    return this.#cancelled.has(key);
  }
}
