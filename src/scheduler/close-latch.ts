/**
 * A scheduler's end (undici's idempotent close()): once closed it refuses new requests, and the
 * one promise every close() caller gets resolves when nothing is queued or executing. Calling
 * close() again, from anywhere, returns that same promise, so no caller is left waiting.
 */
import { modelUnloading, type ServerError } from "../errors/index.js";

export class CloseLatch {
  readonly #model: string;
  /** Requests queued or executing, as the scheduler counts them. */
  readonly #pending: () => number;
  /** Set by the first close(); the promise every caller shares. */
  #closed: Promise<void> | null = null;
  #resolve: (() => void) | null = null;

  constructor(model: string, pending: () => number) {
    this.#model = model;
    this.#pending = pending;
  }

  get closed(): boolean {
    return this.#closed !== null;
  }

  /** What a request gets once closed (Triton's text while a model unloads). */
  refusal(): ServerError {
    return modelUnloading(this.#model);
  }

  /** Refuses new requests from now on; resolves once nothing is pending. Idempotent. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = new Promise((resolve) => (this.#resolve = resolve));
      this.check();
    }
    return this.#closed;
  }

  /** Something ended: resolves the close once closed and nothing is pending. */
  check(): void {
    if (this.#resolve && this.#pending() === 0) {
      const resolve = this.#resolve;
      this.#resolve = null;
      resolve();
    }
  }
}
