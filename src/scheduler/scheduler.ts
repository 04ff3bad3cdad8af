/**
 * A scheduler owns a model's queue and decides which requests go to which instance, in which
 * calls: a policy over shared parts (queued-request.ts: a request settled once; instance-pool.ts:
 * which instance; close-latch.ts: the end). Implementations: direct (one request per call), the
 * dynamic batcher, the ensemble. Every enqueued request settles once.
 */
import type { InstanceResult, ModelInstance } from "../backends/backend.js";
import type { CoreRequest } from "../core/types.js";

export interface Scheduler {
  /**
   * Queues a validated request; resolves with its result. Never rejects: every failure (refused,
   * cancelled, timed out, its call failed, failQueued, closed) is a result `{ error }`.
   */
  enqueue(request: CoreRequest): Promise<InstanceResult>;
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
   * every caller's promise settles.
   */
  close(): Promise<void>;
}
