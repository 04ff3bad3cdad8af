/**
 * The tracing stage of the request pipeline (core/exchange.ts): decides on the request side
 * whether a request is traced (its model's setting's rate and count, or a client's trace context,
 * or a traced parent: an ensemble's steps), and once it settled turns the timestamps the request
 * collected for the statistics (RequestTimes, CallTiming) into Triton's trace activities, handed to
 * the mode's sink (OpenTelemetry spans, or Triton's JSON trace file). Nothing is traced, and
 * nothing allocated, for a request that is not sampled.
 */
import type { ServerError } from "../errors/index.js";
import type { Exchange, Stage } from "../core/exchange.js";
import { nowNs } from "../core/statistics.js";
import type { CoreResponse, CoreTensor, RequestTrace } from "../core/types.js";
import { TRACE_TENSORS, TRACE_TIMESTAMPS, type TraceSetting, type TraceSettings } from "./settings.js";

/** One traced request (Triton's InferenceTrace): ids as Triton numbers them, from 1. */
export interface TraceRecord {
  readonly id: number;
  /** The trace id of the ensemble request this one is a step of; 0 for a client's request. */
  readonly parentId: number;
  readonly parent: TraceRecord | undefined;
  readonly model: string;
  readonly version: number;
  readonly requestId: string;
  readonly level: number;
  readonly setting: TraceSetting;
  /** The client's trace context, for the top-level trace. */
  readonly context: RequestTrace | undefined;
  /** When the server began on it: the front end's receive, else admission (nowNs). */
  readonly startNs: number;
  /** When it was admitted (REQUEST_START, nowNs). */
  readonly requestStartNs: number;
  /** The sink's own state (open spans, buffered entries). */
  handle?: unknown;
}

/** Triton's activity names and when each happened (nowNs); those a request never reached are absent. */
export interface TraceTimeline {
  REQUEST_START: number;
  QUEUE_START?: number;
  COMPUTE_START?: number;
  COMPUTE_INPUT_END?: number;
  /** Not one of Triton's activities: where the handler's execute began (compute input end plus any wait in the stub). */
  INFER_START?: number;
  COMPUTE_OUTPUT_START?: number;
  COMPUTE_END?: number;
  REQUEST_END: number;
}

export type TensorActivity = "TENSOR_QUEUE_INPUT" | "TENSOR_BACKEND_OUTPUT";

export interface TraceSink {
  /** A sampled request begins (after admission). */
  begin(record: TraceRecord): void;
  /** It ended (error undefined: success). */
  end(record: TraceRecord, timeline: TraceTimeline, error: ServerError | undefined): void;
  /** TENSORS level: the request's inputs as queued, and each response's outputs. */
  tensors?(record: TraceRecord, activity: TensorActivity, tensors: readonly CoreTensor[]): void;
  shutdown(): Promise<void>;
}

const W3C_TRACEPARENT = /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/;

/** A traceparent header that names a trace (W3C: not all-zero ids, version not ff). */
export function validTraceparent(value: string | undefined): boolean {
  if (value === undefined) return false;
  const v = value.trim().toLowerCase();
  return W3C_TRACEPARENT.test(v) && !v.startsWith("ff") && !/^..-0{32}-/.test(v) && !/^.{35}0{16}-/.test(v);
}

export class TraceStage implements Stage {
  readonly #settings: TraceSettings;
  readonly #sink: TraceSink;
  #nextId = 1;

  constructor(settings: TraceSettings, sink: TraceSink) {
    this.#settings = settings;
    this.#sink = sink;
  }

  onRequest(ex: Exchange): void {
    const request = ex.request;
    const given = request.trace;
    if (!this.#settings.active && given?.sampled === undefined) return; // the cost of tracing off
    const target = ex.target!;
    let parent: TraceRecord | undefined;
    let setting: TraceSetting;
    if (given?.sampled !== undefined) {
      if (!ex.policy.internal) return; // a client cannot hand in a record
      parent = given.sampled as TraceRecord;
      setting = parent.setting;
    } else {
      if (ex.policy.internal) return; // BLS calls are traced only through a traced parent
      setting = this.#settings.setting(request.model);
      if (setting.level === 0) return;
      const force = this.#settings.mode === "opentelemetry" && validTraceparent(given?.traceparent);
      if (!setting.sample(force)) return;
    }
    const record: TraceRecord = {
      id: this.#nextId++, parentId: parent?.id ?? 0, parent, model: request.model, version: target.version,
      requestId: request.id, level: setting.level, setting, context: parent ? undefined : given,
      startNs: parent ? request.times!.startNs : given?.receivedNs ?? request.times!.startNs,
      requestStartNs: request.times!.startNs,
    };
    // The step's own trace object: the parent's stays as it was for its other steps.
    request.trace = { sampled: record };
    this.#sink.begin(record);
    if (record.level & TRACE_TENSORS && this.#sink.tensors) this.#sink.tensors(record, "TENSOR_QUEUE_INPUT", request.inputs);
  }

  onResponse(ex: Exchange, response: CoreResponse): CoreResponse {
    const record = ex.request.trace?.sampled as TraceRecord | undefined;
    if (record !== undefined && record.level & TRACE_TENSORS && this.#sink.tensors) {
      this.#sink.tensors(record, "TENSOR_BACKEND_OUTPUT", response.outputs);
    }
    return response;
  }

  onSettle(ex: Exchange, error: ServerError | undefined): void {
    const record = ex.request.trace?.sampled as TraceRecord | undefined;
    if (record === undefined) return;
    const timeline = record.level & TRACE_TIMESTAMPS ? timelineOf(ex) : { REQUEST_START: ex.request.times!.startNs, REQUEST_END: nowNs() };
    this.#sink.end(record, timeline, error);
  }

  shutdown(): Promise<void> {
    return this.#sink.shutdown();
  }
}

/**
 * The request's activities from its statistics timestamps. The call's split (core/types.ts
 * CallTiming) places compute input at the call's start, then any wait behind the stub's previous
 * call, the handler's execute, and compute output up to the call's end.
 */
export function timelineOf(ex: Exchange): TraceTimeline {
  const times = ex.request.times!;
  const t: TraceTimeline = { REQUEST_START: times.startNs, REQUEST_END: nowNs() };
  if (times.enqueuedNs !== undefined) t.QUEUE_START = times.enqueuedNs;
  const call = times.call;
  if (call?.startNs !== undefined && call.endNs !== undefined) {
    t.COMPUTE_START = call.startNs;
    t.COMPUTE_INPUT_END = call.startNs + call.inputNs;
    t.COMPUTE_OUTPUT_START = call.endNs - call.outputNs;
    t.INFER_START = t.COMPUTE_OUTPUT_START - call.inferNs;
    t.COMPUTE_END = call.endNs;
  } else if (times.dispatchedNs !== undefined && t.QUEUE_START !== undefined) {
    // No instance call (an ensemble, or a failure before the handler ran): queue ends at dispatch.
    t.COMPUTE_START = times.dispatchedNs;
  }
  return t;
}
