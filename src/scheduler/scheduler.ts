/**
 * A scheduler owns a model's queue and decides which requests go to which instance, in which
 * calls: a policy over shared parts (queued-request.ts: a request settled once; instance-pool.ts:
 * which instance; close-latch.ts: the end). Implementations: direct (one request per call), the
 * dynamic batcher, the ensemble. Every enqueued request settles once.
 */
import type { ModelInstance } from "../backends/backend.js";
import type { CoreRequest, RequestResult } from "../core/types.js";

/** A request's outputs, as a scheduler resolves them (a failure rejects instead). */
export type RequestOutputs = Extract<RequestResult, { outputs: unknown }>;

export interface Scheduler {
  /**
   * Queues a validated request; resolves with its outputs. Every failure (refused, cancelled,
   * timed out, the handler's error for it, its call failed, failQueued, closed) rejects, with a
   * ServerError: one way to succeed, one way to fail. A decoupled request resolves with an empty
   * result once its call ended; its responses went to its sink.
   */
  enqueue(request: CoreRequest): Promise<RequestOutputs>;
  /** The instances calls may go to now (a replacement after a crash is added here). */
  setInstances(instances: readonly ModelInstance[]): void;
  /** Fails every queued request (no instance can take them: a restart failed). */
  failQueued(error: Error): void;
  /** Requests queued or executing. */
  readonly pending: number;
  /** Requests queued and not yet handed to an instance (nv_inference_pending_request_count). */
  readonly queued: number;
  /**
   * Refuses new requests from now on; resolves once nothing is queued or executing. Idempotent:
   * every caller's promise settles. `openWaitMs`: how long work that clients may still add to
   * (the sequence batcher's open sequences) may go on before it is ended (default: the
   * scheduler's own, --exit-timeout-secs); the first call's value counts.
   */
  close(openWaitMs?: number): Promise<void>;
}
