/**
 * Cancellation forwarding: when a request's client goes away, the stub hears of it
 * (request.isCancelled() turns true in the handler).
 */
import type { CoreRequest } from "../../core/types.js";

/** Calls `forward([key])` once the request's signal aborts (soon, if it already has); returns the unwatch. */
export function forwardCancellation(request: CoreRequest, key: number, forward: (keys: number[]) => void): () => void {
  const signal = request.signal;
  if (!signal) return () => {};
  const onAbort = () => forward([key]);
  if (signal.aborted) {
    queueMicrotask(onAbort);
    return () => {};
  }
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}
