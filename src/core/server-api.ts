/**
 * What the front ends (HTTP, gRPC) may ask of the server: nothing else crosses that boundary.
 * Every method reports failure by throwing (or rejecting with) a ServerError.
 */
import type { ResponseStream } from "./response-stream.js";
import type { ModelStatisticsResponse } from "./statistics.js";
import type {
  CoreRequest, CoreResponse, LoadOptions, ModelIndexEntry, ModelMetadata, ServerMetadata,
} from "./types.js";

export interface ServerApi {
  isLive(): boolean;
  /** All models that should be ready are ready (or, without --strict-readiness, the server is up). */
  isReady(): boolean;
  serverMetadata(): ServerMetadata;
  modelReady(model: string, version?: string): boolean;
  /**
   * Asks the handlers' isReady() of a model (none: of every model, under --strict-readiness), so
   * that the next isReady / modelReady answers with it. Optional: without it, the last answers.
   */
  refreshReadiness?(model?: string, version?: string): Promise<void>;
  modelMetadata(model: string, version?: string): ModelMetadata;
  /** The complete (auto-completed) model config, as Triton's JSON. */
  modelConfig(model: string, version?: string): Record<string, unknown>;
  /**
   * Statistics extension: every ready version of every model (no model), of one model (no
   * version), or one version. A model or version that is not ready is an INVALID_ARG error.
   */
  modelStatistics(model?: string, version?: string): ModelStatisticsResponse;
  /** model_transaction_policy.decoupled: the model answers through streams only. */
  isDecoupled(model: string, version?: string): boolean;
  /** One response; a decoupled model is refused (UNSUPPORTED). */
  infer(request: CoreRequest): Promise<CoreResponse>;
  /**
   * Any model's responses as a stream (decoupled: zero or more, then final). Throws for failures
   * before the request is scheduled; later failures are items of the stream.
   */
  inferStream(request: CoreRequest): ResponseStream;
  repositoryIndex(options: { ready?: boolean }): ModelIndexEntry[];
  loadModel(model: string, options: LoadOptions): Promise<void>;
  unloadModel(model: string): Promise<void>;
  /**
   * Trace extension: the trace settings of a model (or the server's), after applying `update`
   * when given (src/trace/). Absent on a server without tracing.
   */
  traceSetting?(model: string | undefined, update: TraceUpdateWire | undefined): TraceSettingResponse;
}

/** A trace setting update as the wire gave it: the HTTP JSON object, or the gRPC settings map. */
export type TraceUpdateWire =
  | { protocol: "http"; body: Record<string, unknown> }
  | { protocol: "grpc"; settings: Record<string, readonly string[]> };

/** The trace extension's response: each setting's value as a string, trace_level as a list. */
export type TraceSettingResponse = Record<string, string | string[]>;

/** What the front ends ask of tracing per request: whether to attach the client's trace context. */
export interface TraceGate {
  readonly active: boolean;
}
