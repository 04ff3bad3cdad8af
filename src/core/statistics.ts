/**
 * Triton's per-model-version statistics (the statistics extension; the Prometheus metrics are read
 * from the same numbers, so the two always agree).
 *
 * The layers a request passes through only write timestamps into its RequestTimes: the scheduler
 * when it queues and dispatches it, the instance for the call that ran it. The pipeline's account
 * stage (core/stages/account.ts), where every request ends exactly once, turns those into one
 * success or one failure here, and counts each call once. Semantics follow Triton's
 * InferenceStatsAggregator:
 *  - success / fail: one per request, ns = the request's whole time in the server;
 *  - queue, compute_*: accumulated for successful requests only, each request of a batch adding
 *    its call's compute durations; their count is the success count;
 *  - inference_count: rows of successful requests; execution_count and batch_stats: one per call
 *    whose handler ran (as Triton's python backend reports a batch whether or not it failed);
 *  - last_inference: wall-clock ms of the latest execution;
 *  - response_stats: a decoupled model's responses by index ("0", "1", … within each request), as
 *    Triton's square backend reports them through TRITONBACKEND_ModelInstanceReportResponseStatistics
 *    and InferenceStatsAggregator::UpdateResponse* adds them up. Other models have none (Triton's
 *    python and onnxruntime backends report none). See recordResponse for the durations.
 *
 * Durations are plain numbers of nanoseconds: a double counts exact nanoseconds up to 2^53 ns (104
 * days of cumulative time), and past that loses only sub-microsecond precision.
 */
import type { CallTiming, CoreRequest, RequestResult, RequestTimes } from "./types.js";

// The timestamps live with the request type (types.ts, the bottom of core); named here too, where
// they are read.
export type { CallTiming, RequestTimes } from "./types.js";

/** Triton's `reason` label of nv_inference_request_failure. */
export const FAILURE_REASONS = ["REJECTED", "CANCELED", "BACKEND", "OTHER"] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** Nanoseconds on this process's monotonic clock: only differences mean anything. */
export function nowNs(): number {
  return performance.now() * 1e6;
}

// The scheduler's and the instance's hooks: one line each where they are called.
export function markEnqueued(r: CoreRequest): void {
  if (r.times) r.times.enqueuedNs = nowNs();
}
export function markDispatched(r: CoreRequest): void {
  if (r.times) r.times.dispatchedNs = nowNs();
}
export function markRejected(r: CoreRequest): void {
  if (r.times) r.times.rejected = true;
}

/** Why a request failed, from where it got to (Triton's FailureReason). */
export function failureReason(times: RequestTimes, code: string | undefined): FailureReason {
  if (times.dispatchedNs !== undefined) return "BACKEND";
  if (code === "CANCELLED") return "CANCELED";
  if (times.rejected) return "REJECTED";
  return "OTHER";
}

/** Rows a request adds to inference_count and to its call's batch size (1 without batching). */
export function requestRows(r: CoreRequest, maxBatchSize: number): number {
  const dims = r.inputs[0]?.shape;
  return maxBatchSize > 0 && dims && dims.length > 0 ? Math.max(1, dims[0]) : 1;
}

export interface DurationStat {
  count: number;
  ns: number;
}

/** The statistics extension's $model_stat, in Triton's key order. */
export interface ModelStatJson {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: Record<"success" | "fail" | "queue" | "compute_input" | "compute_infer" | "compute_output" | "cache_hit" | "cache_miss", DurationStat>;
  /** Per-response statistics of decoupled models, by response index; {} for other models. */
  response_stats: Record<string, ResponseStatJson>;
  batch_stats: { batch_size: number; compute_input: DurationStat; compute_infer: DurationStat; compute_output: DurationStat }[];
  memory_usage: never[];
}

/** The statistics extension's $response_stats, in Triton's key order. */
export interface ResponseStatJson {
  compute_infer: DurationStat;
  compute_output: DurationStat;
  success: DurationStat;
  fail: DurationStat;
  empty_response: DurationStat;
  cancel: DurationStat;
}

/**
 * How a decoupled model's response went: a response with outputs, an error, a bare final flag
 * (Triton's empty response), or the request's cancellation.
 */
export type ResponseKind = "success" | "fail" | "empty" | "cancel";

export function responseKind(result: RequestResult | null): ResponseKind {
  if (result === null) return "empty";
  if (!result.error) return "success";
  return result.error.code === "CANCELLED" ? "cancel" : "fail";
}

export interface ModelStatisticsResponse {
  model_stats: ModelStatJson[];
}

interface BatchTotals {
  count: number;
  inputNs: number;
  inferNs: number;
  outputNs: number;
}

const round = (ns: number) => Math.max(0, Math.round(ns));

export class ModelStatistics {
  #successCount = 0;
  #successNs = 0;
  #queueNs = 0;
  #inputNs = 0;
  #inferNs = 0;
  #outputNs = 0;
  #failNs = 0;
  #cacheHitCount = 0;
  #cacheHitNs = 0;
  #cacheMissCount = 0;
  #cacheMissNs = 0;
  readonly #failures: Record<FailureReason, number> = { REJECTED: 0, CANCELED: 0, BACKEND: 0, OTHER: 0 };
  #inferenceCount = 0;
  #executionCount = 0;
  #lastInferenceMs = 0;
  readonly #batches = new Map<number, BatchTotals>();
  readonly #responses = new Map<string, ResponseStatJson>();

  /** A request answered successfully at `endNs`, having `rows` rows. */
  recordSuccess(times: RequestTimes, rows: number, endNs: number): void {
    const call = times.call;
    this.#successCount++;
    this.#successNs += round(endNs - times.startNs);
    this.#inferenceCount += rows;
    const queued = times.enqueuedNs ?? times.startNs;
    this.#queueNs += round((times.dispatchedNs ?? endNs) - queued) + round(call?.waitNs ?? 0);
    if (call) {
      this.#inputNs += round(call.inputNs);
      this.#inferNs += round(call.inferNs);
      this.#outputNs += round(call.outputNs);
    }
  }

  /**
   * A request answered from the response cache at `endNs` (Triton's UpdateSuccessCacheHit): a
   * success, queued until its lookup began, that ran nothing (no inference or execution count).
   */
  recordCacheHit(times: RequestTimes, lookupStartNs: number, hitNs: number, endNs: number): void {
    this.#successCount++;
    this.#successNs += round(endNs - times.startNs);
    this.#queueNs += round(lookupStartNs - times.startNs);
    this.#cacheHitCount++;
    this.#cacheHitNs += round(hitNs);
  }

  /**
   * A successful request the cache did not hold (Triton's UpdateSuccessCacheMiss): its lookup and
   * insertion time, which is added to its request duration as well.
   */
  recordCacheMiss(missNs: number): void {
    this.#successNs += round(missNs);
    this.#cacheMissCount++;
    this.#cacheMissNs += round(missNs);
  }

  /** A request failed at `endNs`. */
  recordFailure(times: RequestTimes, reason: FailureReason, endNs: number): void {
    this.#failures[reason]++;
    this.#failNs += round(endNs - times.startNs);
  }

  /**
   * The call behind a finished request ran the handler: counted once per call, whichever of its
   * requests finishes first. `batchSize` is the rows of all its requests.
   */
  recordExecution(call: CallTiming, batchSize: number): void {
    if (call.counted) return;
    call.counted = true;
    this.#executionCount++;
    this.#lastInferenceMs = Math.max(this.#lastInferenceMs, Date.now());
    let b = this.#batches.get(batchSize);
    if (!b) {
      b = { count: 0, inputNs: 0, inferNs: 0, outputNs: 0 };
      this.#batches.set(batchSize, b);
    }
    b.count++;
    b.inputNs += round(call.inputNs);
    b.inferNs += round(call.inferNs);
    b.outputNs += round(call.outputNs);
  }

  /**
   * One of a decoupled request's responses, which reached main at `arrivedNs` and was handed on
   * (its outputs picked, given to the front end or caller) at `endNs`. Its computing began when
   * the request was dispatched (the first response) or the previous response was handed on. As
   * Triton's UpdateResponse*: success adds arrival - start to compute_infer, end - arrival to
   * compute_output and end - start to success; fail adds end - start to compute_infer and fail
   * (no outputs to extract); empty adds arrival - start to compute_infer and empty_response;
   * cancel adds end - start to cancel alone.
   */
  recordResponse(times: RequestTimes, kind: ResponseKind, arrivedNs: number, endNs: number): void {
    const index = times.responses ?? 0;
    times.responses = index + 1;
    const startNs = times.lastResponseNs ?? times.dispatchedNs ?? times.startNs;
    times.lastResponseNs = endNs;
    const key = String(index);
    let r = this.#responses.get(key);
    if (!r) {
      const none = (): DurationStat => ({ count: 0, ns: 0 });
      r = { compute_infer: none(), compute_output: none(), success: none(), fail: none(), empty_response: none(), cancel: none() };
      this.#responses.set(key, r);
    }
    const add = (d: DurationStat, ns: number) => {
      d.count++;
      d.ns += round(ns);
    };
    switch (kind) {
      case "success":
        add(r.compute_infer, arrivedNs - startNs);
        add(r.compute_output, endNs - arrivedNs);
        add(r.success, endNs - startNs);
        break;
      case "fail":
        add(r.compute_infer, endNs - startNs);
        add(r.fail, endNs - startNs);
        break;
      case "empty":
        add(r.compute_infer, arrivedNs - startNs);
        add(r.empty_response, arrivedNs - startNs);
        break;
      case "cancel":
        add(r.cancel, endNs - startNs);
        break;
    }
  }

  get successCount(): number {
    return this.#successCount;
  }

  failureCount(reason: FailureReason): number {
    return this.#failures[reason];
  }

  /** Cache hits and misses with their cumulative ns (the nv_cache_* metrics). */
  get cache(): { hits: number; hitNs: number; misses: number; missNs: number } {
    return { hits: this.#cacheHitCount, hitNs: this.#cacheHitNs, misses: this.#cacheMissCount, missNs: this.#cacheMissNs };
  }

  get inferenceCount(): number {
    return this.#inferenceCount;
  }

  get executionCount(): number {
    return this.#executionCount;
  }

  /** Cumulative ns of successful requests: whole, queue, compute input / infer / output. */
  get durations(): { request: number; queue: number; input: number; infer: number; output: number } {
    return { request: this.#successNs, queue: this.#queueNs, input: this.#inputNs, infer: this.#inferNs, output: this.#outputNs };
  }

  toJson(name: string, version: string): ModelStatJson {
    const n = this.#successCount;
    // Compute figures are only taken for requests that ran (Triton subtracts the cache hits).
    const computed = n - this.#cacheHitCount;
    const fails = FAILURE_REASONS.reduce((sum, r) => sum + this.#failures[r], 0);
    return {
      name,
      version,
      last_inference: this.#lastInferenceMs,
      inference_count: this.#inferenceCount,
      execution_count: this.#executionCount,
      inference_stats: {
        success: { count: n, ns: this.#successNs },
        fail: { count: fails, ns: this.#failNs },
        queue: { count: n, ns: this.#queueNs },
        compute_input: { count: computed, ns: this.#inputNs },
        compute_infer: { count: computed, ns: this.#inferNs },
        compute_output: { count: computed, ns: this.#outputNs },
        cache_hit: { count: this.#cacheHitCount, ns: this.#cacheHitNs },
        cache_miss: { count: this.#cacheMissCount, ns: this.#cacheMissNs },
      },
      response_stats: Object.fromEntries([...this.#responses.entries()].sort(([a], [b]) => Number(a) - Number(b))
        .map(([key, r]) => [key, {
          compute_infer: { ...r.compute_infer }, compute_output: { ...r.compute_output }, success: { ...r.success },
          fail: { ...r.fail }, empty_response: { ...r.empty_response }, cancel: { ...r.cancel },
        }])),
      batch_stats: [...this.#batches.entries()].sort(([a], [b]) => a - b).map(([size, b]) => ({
        batch_size: size,
        compute_input: { count: b.count, ns: b.inputNs },
        compute_infer: { count: b.count, ns: b.inferNs },
        compute_output: { count: b.count, ns: b.outputNs },
      })),
      memory_usage: [],
    };
  }
}
