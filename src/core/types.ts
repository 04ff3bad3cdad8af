/**
 * The inference request and response as the core sees them, whichever front end they came from.
 * Tensor data is always raw little-endian bytes (BYTES: Triton's 4-byte-length serialization), so
 * a binary body or gRPC raw contents pass through as views; JSON data is converted by the front end.
 */
import type { ServerError } from "../errors/index.js";
import type { RequestSignal } from "./cancellation.js";
import type { Datatype } from "../ipc/datatypes.js";
import type { WireRegion } from "../ipc/protocol.js";

/** bigint only for a sequence_id past 2^53 (a uint64 correlation id, kept exact). */
export type ParamValue = string | number | boolean | bigint;
export type Parameters = Record<string, ParamValue>;

export interface CoreTensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  /** Raw bytes, possibly a view over a request body or shared memory. */
  data: Uint8Array;
  /**
   * The bytes lie in a client's shared-memory region (src/shm/): `data` is main's view of it, and
   * the stub path passes the reference instead of copying. On an output: already written there.
   */
  region?: RegionRef;
}

/** A window of a client's registered shared-memory region, held for one request (src/shm/). */
export interface RegionRef {
  /** What a stub is told, to map and use the window itself. */
  wire: WireRegion;
  /** Main's view of the window (its own mapping), for everything that is not a stub. */
  view: Uint8Array;
}

export interface RequestedOutput {
  name: string;
  /** Classification extension: return the top-N classes as "value:index[:label]" BYTES. */
  classification?: number;
  /** System shared-memory extension: the output goes into this window, not into the response. */
  region?: RegionRef;
}

export interface CoreRequest {
  model: string;
  /** A version number as a string; undefined or "" picks by the model's version policy (latest). */
  version?: string;
  /** The client's request id, echoed in the response; may be "". */
  id: string;
  inputs: CoreTensor[];
  /** Outputs the client asked for; undefined or empty means all of the model's outputs. */
  outputs?: RequestedOutput[];
  parameters: Parameters;
  /** Aborts when the client went away: the request is cancelled wherever it is. */
  signal?: RequestSignal;
  /** Statistics timestamps, set by the server for the requests it counts (core/statistics.ts). */
  times?: RequestTimes;
  /**
   * Decoupled models: where the instance delivers this request's responses, as they come. The
   * call's own result then carries nothing.
   */
  sink?: ResponseSink;
  /**
   * Set by the sequence batcher when it sends the request: the sequence id and flags the handler
   * sees (overriding those from the parameters), and the sequence's batch slot on the instance
   * (where the instance keeps the sequence's implicit state).
   */
  sequence?: { id: string | bigint; flags: number; slot: number };
  /** Tracing (src/trace/): the client's trace context, and the trace once the request is sampled. */
  trace?: RequestTrace;
}

/**
 * Set by a front end only while tracing is on (or the request carries trace context), so that a
 * request costs nothing more when it is off; ensemble steps carry their parent's.
 */
export interface RequestTrace {
  /** The W3C trace context the client sent (HTTP headers, gRPC metadata). */
  traceparent?: string;
  tracestate?: string;
  /** When the front end began on the request (nowNs). */
  receivedNs?: number;
  /** The tracing stage's record once the request is sampled: its steps' traces hang from it. */
  sampled?: unknown;
}

/**
 * What an instance produces for one request: outputs (data may be views over a stub's shared
 * memory, given back by release()) or an error.
 */
export type RequestResult =
  | {
    outputs: CoreTensor[]; parameters: Parameters; error?: undefined; release(): void;
    /** The handler asked for the request to run again (iterative sequences): no answer yet. */
    rescheduled?: true;
  }
  | { error: ServerError };

/**
 * Receives a decoupled request's responses in order; `final` marks the last call (its result may
 * be null: a bare final flag). Called at most once with final, and never after.
 */
export type ResponseSink = (result: RequestResult | null, final: boolean) => void;

export interface CoreResponse {
  model: string;
  version: string;
  id: string;
  outputs: CoreTensor[];
  parameters: Parameters;
  /**
   * Output data may be views over a stub's shared memory: the front end calls release() once it
   * has written them out (or failed to). Calling it twice is harmless.
   */
  release(): void;
  /**
   * Set on answers whose outputs outlive the request (the response cache's hits): where a front
   * end may keep what it derived from these outputs (their wire encoding), for the next answer
   * that shares them. Keys are the front end's own; entries must depend only on the outputs, the
   * model, the version and the key.
   */
  memo?: Map<string, unknown>;
}

export interface TensorMetadata {
  name: string;
  datatype: Datatype;
  /** -1 for a variable dim; a leading -1 batch dim when max_batch_size > 0. */
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

export interface ModelIndexEntry {
  name: string;
  version?: string;
  /** Triton's states: READY, UNAVAILABLE, LOADING, UNLOADING. */
  state?: string;
  reason?: string;
}

export interface LoadOptions {
  /** A JSON model config that replaces config.pbtxt (repository load extension). */
  config?: string;
  /** `file:<path>` overrides, in the order given: the path (key, "file:" kept) and its bytes. */
  files?: { key: string; data: Uint8Array }[];
}

/** One instance call, shared by every request it ran. Filled in by the instance. */
export interface CallTiming {
  /** Every request of the call, in order: their rows make the call's batch size. */
  requests: readonly CoreRequest[];
  /** Main preparing the inputs: the copy into shared memory and the send. */
  inputNs: number;
  /** The handler's execute, as the stub measured it. */
  inferNs: number;
  /** The rest until the outputs were readable in main (stub encoding, IPC, decoding). */
  outputNs: number;
  /**
   * Time the call waited in the stub behind the call before it (main sends the next call while
   * one executes): queue time in Triton's terms, added to each request's queue duration.
   */
  waitNs: number;
  /** Set once the call is in execution_count and batch_stats, so a batch is counted once. */
  counted?: boolean;
  /** When main began the call and when its outputs were readable (nowNs), for trace spans. */
  startNs?: number;
  endNs?: number;
}

/** Timestamps (nowNs) a request collects on its way; set by the server, the scheduler, the instance. */
export interface RequestTimes {
  /** The server received it, before validation. */
  startNs: number;
  /** The scheduler queued it. */
  enqueuedNs?: number;
  /** The scheduler handed it to an instance: from here on a failure is the backend's. */
  dispatchedNs?: number;
  /** The scheduler's queue policy refused it (queue full, or its timeout expired). */
  rejected?: boolean;
  /** The call that ran it, once the handler has run. */
  call?: CallTiming;
  /** Decoupled: responses counted so far in response_stats (the next one's index). */
  responses?: number;
  /** Decoupled: when the previous response was handed on (the next one's computing began). */
  lastResponseNs?: number;
}
