/**
 * The responses of one request as a front end consumes them, for decoupled models and others
 * alike: a decoupled model sends zero or more responses (and errors) and then the final flag;
 * any other model exactly one response or error, final. Consumed in order with `for await`.
 *
 * Responses may view a stub's shared memory: the consumer releases each one once written, and
 * calls close() when it stops early (client gone), which releases whatever is buffered or still
 * to come.
 */
import type { ServerError } from "../errors/index.js";
import type { CoreResponse } from "./types.js";

/**
 * Responses held in shared memory while the consumer lags: past this many, later ones are copied
 * out and their memory given back, so a slow client cannot pin a stub's arena.
 */
const MAX_PINNED = 8;

function detach(response: CoreResponse): CoreResponse {
  const outputs = response.outputs.map((t) => ({ ...t, data: new Uint8Array(t.data) }));
  response.release();
  return { ...response, outputs, release() {} };
}

export interface StreamItem {
  /** Absent on an error, and on a bare final flag. */
  response?: CoreResponse;
  error?: ServerError;
  /** The last item of the stream. */
  final: boolean;
}

export class ResponseStream implements AsyncIterable<StreamItem> {
  readonly #items: StreamItem[] = [];
  #wake: (() => void) | null = null;
  #finished = false;
  #closed = false;

  /** The final item was pushed. */
  get finished(): boolean {
    return this.#finished;
  }

  /** Adds an item; anything after the final one, or after close(), is released and dropped. */
  push(item: StreamItem): void {
    if (this.#finished || this.#closed) {
      item.response?.release();
      return;
    }
    if (item.final) this.#finished = true;
    if (item.response && this.#items.length >= MAX_PINNED) item = { ...item, response: detach(item.response) };
    this.#items.push(item);
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** The consumer is gone: release what is buffered and drop what comes later. */
  close(): void {
    this.#closed = true;
    for (const item of this.#items.splice(0)) item.response?.release();
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<StreamItem> {
    for (;;) {
      if (this.#closed) return;
      const item = this.#items.shift();
      if (item) {
        yield item;
        if (item.final) return;
        continue;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
}
