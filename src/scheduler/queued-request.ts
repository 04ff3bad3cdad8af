/**
 * One request inside a scheduler, from enqueue to its answer (piscina's TaskInfo, with its
 * settle-once done()). Whatever ends it first wins: the instance's result, a cancellation while it
 * waits, the failure of its call (a stub crash), failQueued; every later attempt is a no-op. So a
 * race between, say, an abort and a call's end can never answer a request twice.
 *
 * The promise a scheduler hands out settles exactly once: resolved with the outputs, or
 * rejected with the ServerError (an instance's per-request `{ error }` becomes that rejection).
 */
import { instanceNoResult, requestCancelled, toServerError, type ServerError } from "../errors/index.js";
import type { InstanceResult, ModelInstance } from "../backends/backend.js";
import { markDispatched } from "../core/statistics.js";
import type { CoreRequest } from "../core/types.js";
import type { RequestOutputs } from "./scheduler.js";

export class QueuedRequest {
  /** What the instance receives; the sequence batcher replaces it when the request runs again. */
  request: CoreRequest;
  /** Settles once: the request's outputs, or a rejection with its error. */
  readonly result: Promise<RequestOutputs>;
  readonly #model: string;
  /** Null once settled: the invariant that makes every later settle a no-op. */
  #resolve: ((result: InstanceResult) => void) | null = null;
  #reject: ((error: ServerError) => void) | null = null;
  /** The abort listener while one is registered (only while the request waits in a queue). */
  #onAbort: (() => void) | null = null;

  constructor(request: CoreRequest, model: string) {
    this.request = request;
    this.#model = model;
    this.result = new Promise((resolve, reject) => {
      this.#resolve = resolve as (result: InstanceResult) => void;
      this.#reject = reject;
    });
  }

  get settled(): boolean {
    return this.#resolve === null;
  }

  /** Ends the request with `result` unless it already ended; true when this call ended it. */
  settle(result: InstanceResult): boolean {
    const resolve = this.#resolve;
    if (!resolve) return false;
    const reject = this.#reject!;
    this.#resolve = this.#reject = null;
    this.#unwatch();
    if (result.error) reject(result.error);
    else resolve(result);
    return true;
  }

  /** Ends it with `err` (as a ServerError) unless it already ended. */
  fail(err: unknown): boolean {
    return !this.settled && this.settle({ error: toServerError(err) });
  }

  /** Ends it as cancelled unless it already ended. */
  cancel(): boolean {
    return !this.settled && this.settle({ error: requestCancelled(this.#model) });
  }

  /** Already cancelled when it arrived: it ends now, as cancelled, and should not be queued. */
  cancelledOnArrival(): boolean {
    return this.request.signal?.aborted === true && this.cancel();
  }

  /**
   * While it waits: a cancellation calls `onAbort`, which takes it out of its queue and ends it
   * (cancel()). The listener goes once it settles or leaves for an instance, which then watches
   * the signal itself.
   */
  watchAbort(onAbort: () => void): void {
    const signal = this.request.signal;
    if (!signal || this.settled || this.#onAbort) return;
    this.#onAbort = onAbort;
    signal.addEventListener("abort", onAbort, { once: true });
  }

  /** It leaves its queue for an instance: no abort listener here from now on; stamped. */
  dispatched(): void {
    this.#unwatch();
    markDispatched(this.request);
  }

  #unwatch(): void {
    if (!this.#onAbort) return;
    this.request.signal!.removeEventListener("abort", this.#onAbort);
    this.#onAbort = null;
  }
}

/**
 * Sends `items` to `instance` as one call. Each settles with its own result, or all with the
 * call's error (a crash, a stopped stub); one whose handler asked to run again (iterative
 * sequences) goes to `onRescheduled` instead, unsettled. Then `onEnd` runs, in the same turn. The promise
 * resolves after that and never rejects.
 */
export function executeCall(
  instance: ModelInstance, items: readonly QueuedRequest[], onEnd?: () => void, onRescheduled?: (q: QueuedRequest) => void,
): Promise<void> {
  for (const q of items) q.dispatched();
  let call: Promise<InstanceResult[]>;
  try {
    call = instance.execute(items.map((q) => q.request));
  } catch (err) {
    call = Promise.reject(err);
  }
  return call.then(
    (results) => {
      items.forEach((q, i) => {
        const result = results[i] ?? { error: instanceNoResult(instance.name) };
        if (!result.error && result.rescheduled && onRescheduled) onRescheduled(q);
        else q.settle(result);
      });
      onEnd?.();
    },
    (err) => {
      const error = toServerError(err);
      for (const q of items) q.settle({ error });
      onEnd?.();
    },
  );
}
