/**
 * The wire protocol between main and a stub: the one file both sides import.
 *
 * Two transports, each for what it is good at:
 *  - the shared-memory queues carry the hot path (execute, response, and the bookkeeping that
 *    frees their memory): a 16-byte descriptor pointing at a MessagePack body (body-codec.ts)
 *    in the sender's arena, whose tensors point (Loc) at bytes in the sender's arenas;
 *  - Node's IPC channel carries the control messages (init, log, heartbeat, finalize): rare,
 *    and its closing tells a stub at once that main is gone.
 */
import type { Datatype } from "./datatypes.js";
import type { ErrorInfo } from "../errors/index.js";

export { PROTOCOL_VERSION } from "./layout.js";

/** Descriptor kinds on the shared-memory queues. */
export const KIND = {
  /** main → stub: ExecuteBody. */
  EXECUTE: 1,
  /** stub → main: ResponseBody. */
  RESPONSE: 2,
  /** either way: the receiver is done with the message whose body is at (arena, offset). */
  RELEASE: 3,
  /** either way: the sender destroyed its extra arena `arena`; unmap it. */
  DROP_ARENA: 4,
  /** stub → main: StreamBody, one response of a decoupled model's request (sent any time). */
  STREAM: 5,
  /** stub → main: BlsRequestBody, a handler's inference request to a model of this server. */
  BLS_REQUEST: 6,
  /** main → stub: BlsResponseBody, one response to it. */
  BLS_RESPONSE: 7,
  /**
   * stub → main: BlsCancelBody, the handler cancelled its BLS call (the streamExec() iterator's
   * cancel()). On the same queue as the call's BLS_REQUEST, so it never overtakes it.
   */
  BLS_CANCEL: 8,
  /**
   * stub → main: ModelControlBody, a handler's loadModel / unloadModel / isModelReady (pb_utils'
   * load_model, unload_model, is_model_ready). Numbered apart from the kinds above so that other
   * services can take the next numbers.
   */
  MODEL_CONTROL: 20,
  /** main → stub: ModelControlResultBody, its answer. */
  MODEL_CONTROL_RESULT: 21,
  /**
   * main → stub: DropRegionBody, a client shared-memory region was unregistered and no request
   * uses it any more: unmap it (once the stub's own calls that use it have ended).
   */
  DROP_REGION: 30,
} as const;

/**
 * WireRequest.flags: Triton's TRITONSERVER_REQUEST_FLAG_SEQUENCE_START / _END (the SDK exports the
 * same values to handlers as TRITONSERVER_REQUEST_FLAG_SEQUENCE_*).
 */
export const REQUEST_FLAG = { SEQUENCE_START: 1, SEQUENCE_END: 2 } as const;

/** Where tensor bytes are: [arena id of the sender, byte offset in it, byte length]. */
export type Loc = [arena: number, offset: number, length: number];

/** bigint: a uint64 sequence_id past 2^53 (MessagePack carries it exactly). */
export type WireParams = Record<string, string | number | boolean | bigint>;

export interface WireTensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  loc: Loc;
  /**
   * The bytes lie in a client's shared-memory region instead (loc is then [0, 0, 0]): an input
   * the stub maps and views in place, or an output the stub wrote there (size: bytes written).
   */
  region?: WireRegion;
}

/**
 * A window of a client's registered shared-memory region (the system shared-memory extension).
 * The stub maps the region itself, by `path`: main's descriptor of it under /proc, so that it maps
 * the very object main registered (also after the client unlinked its name), and checks `inode`
 * so that a descriptor number main has since reused is never mistaken for it.
 */
export interface WireRegion {
  /** Unique per server process, never reused: the stub caches its mapping under it. */
  id: number;
  /** The region's name as the client registered it (for error texts). */
  name: string;
  path: string;
  inode: number;
  /** End of the registered window in the segment: the stub maps [0, end). */
  end: number;
  /** This tensor's window: byte offset in the segment, and length. */
  offset: number;
  size: number;
}

/** Unmap the client region `id` (KIND.DROP_REGION). */
export interface DropRegionBody {
  id: number;
}

export interface WireRequest {
  /**
   * Names this request, unique per stub while it lives: decoupled responses (StreamBody) and
   * cancellations refer to it.
   */
  key: number;
  id: string;
  /** The sequence id: a string, or a uint64 (bigint); "" for none. */
  correlationId: string | bigint;
  /** TRITONSERVER_REQUEST_FLAG_SEQUENCE_START (1) | _END (2). */
  flags: number;
  /**
   * The sequence batcher's batch slot of this request's sequence on this instance, -1 for none:
   * the stub keeps a sequence's implicit state per slot (stub/sequence-state.ts).
   */
  slot: number;
  parameters: WireParams;
  requestedOutputs: string[];
  inputs: WireTensor[];
  /** Requested outputs the stub writes straight into a client's shared-memory region, by name. */
  outputRegions?: Record<string, WireRegion>;
}

export interface ExecuteBody {
  /** Unique per stub while in flight; the response carries it back. */
  id: number;
  requests: WireRequest[];
}

export interface WireResponse {
  outputs: WireTensor[];
  parameters?: WireParams;
  error?: ErrorInfo;
}

export interface ResponseBody {
  id: number;
  /** One per request, in order, unless the whole call failed. */
  responses?: WireResponse[];
  error?: ErrorInfo;
  /**
   * Iterative sequences: the requests (indices) whose handler asked for them to run again
   * (setReleaseFlags(TRITONSERVER_REQUEST_RELEASE_RESCHEDULE)). Their responses, if any, are
   * placeholders; a decoupled one's stream stays open for its next call, under a new key.
   */
  reschedule?: number[];
  /**
   * How long the handler's execute() took (ns, the stub's clock), whether it returned or threw;
   * absent when it never ran. Main reports it as compute_infer (statistics, metrics).
   */
  execNs?: number;
}

/**
 * A decoupled model's response for the request `key`. `final` is the sender's
 * TRITONSERVER_RESPONSE_COMPLETE_FINAL: the last message for that request (it may carry no
 * response). A decoupled call's ResponseBody only says that execute() returned.
 */
export interface StreamBody {
  key: number;
  response?: WireResponse;
  final: boolean;
}

/** A BLS call: inputs lie in the stub's arenas until main RELEASEs this message (at its end). */
export interface BlsRequestBody {
  /** Unique per stub while the call lives; its responses carry it back. */
  bls: number;
  model: string;
  /** "" picks by the model's version policy. */
  version: string;
  id: string;
  parameters: WireParams;
  requestedOutputs: string[];
  inputs: WireTensor[];
  /** Ends the call with an error when it has not finished by then. */
  timeoutMs?: number;
}

/** One response of a BLS call (outputs in main's arenas); `final` marks the last message. */
export interface BlsResponseBody {
  bls: number;
  response?: WireResponse;
  final: boolean;
}

/** Cancel the BLS call `bls`: its target request's signal aborts; its responses keep coming until the final one. */
export interface BlsCancelBody {
  bls: number;
}

/** A handler's model control call; file contents lie in the stub's arenas until main RELEASEs it. */
export interface ModelControlBody {
  /** Unique per stub while the call lives; the answer carries it back. */
  ctl: number;
  op: "load" | "unload" | "ready";
  model: string;
  /** ready: the version asked about ("" for the model's). */
  version?: string;
  /** load: a JSON config that replaces config.pbtxt. */
  config?: string;
  /** load: `file:<path>` overrides ("file:" kept in the key). */
  files?: { key: string; loc: Loc }[];
  /** unload: pb_utils' unload_dependents. */
  unloadDependents?: boolean;
}

export interface ModelControlResultBody {
  ctl: number;
  /** ready: the answer. */
  ready?: boolean;
  error?: ErrorInfo;
}

// ---- control messages (Node IPC channel) ----

export interface ModelArgs {
  model_config: string;
  model_instance_kind: string;
  model_instance_name: string;
  model_instance_device_id: string;
  model_repository: string;
  model_version: string;
  model_name: string;
}

export type ToStub =
  /** First message: attach to the control segment, load the handler module. */
  | { type: "attach"; version: number; segment: string; serverPid: number; growthBytes: number;
      /** The stub's fds of the two doorbells: [rung by main, rung by the stub]. */
      doorbells: [number, number];
      modulePath: string; modelName: string; modelVersion: string; instanceName: string; heartbeatMs: number;
      /** stub-timeout-seconds: how long a response sender may stay open after execute() returned. */
      stubTimeoutMs: number;
      /** The server's log levels now: the stub drops handlers' Logger lines they turn off. */
      logLevels?: StubLogLevels;
      /** Custom metrics' values main holds for this model (they outlive a restarted instance). */
      metricValues?: MetricValue[] }
  /** Run the handler's static autoCompleteConfig on this config (once per load, first instance). */
  | { type: "autocomplete"; config: Record<string, unknown> }
  | { type: "initialize"; args: ModelArgs }
  | { type: "ping"; seq: number;
      /** Custom metrics: main's totals of the series this stub reports, after its flush `ack`. */
      metrics?: { ack: number; values: MetricValue[] } }
  /** The log levels changed (the logging extension). */
  | { type: "log-settings"; levels: StubLogLevels }
  /** Run the handler's isReady() (pb_utils' is_ready) and answer with `ready-result`. */
  | { type: "ready-check"; seq: number }
  /** The clients of these requests went away: request.isCancelled() turns true. */
  | { type: "cancel"; keys: number[] }
  | { type: "finalize" };

export type FromStub =
  | { type: "attached"; version: number; pid: number }
  | { type: "autocompleted"; config: Record<string, unknown> }
  /** `hasIsReady`: the model class has isReady() (readiness then asks the stub). */
  | { type: "initialized"; hasIsReady?: boolean }
  /**
   * A failure of attach, autocomplete or initialize; the stub then exits. `during: "import"`: the
   * handler module failed to import, and error.message is the detail alone (main names the module).
   */
  | { type: "failed"; error: ErrorInfo; during?: "import" }
  | { type: "log"; level: LogLevel; message: string }
  /** createSession chose this onnxruntime execution provider (main shows it in the config). */
  | { type: "execution-provider"; provider: string }
  | { type: "pong"; seq: number }
  /** Custom metrics changed since flush `seq - 1`: families declared, then each series' change. */
  | { type: "metrics"; seq: number; families: MetricFamilyDecl[]; updates: MetricUpdate[] }
  /** The answer to ready-check `seq`: the handler's boolean, or why it has none. */
  | { type: "ready-result"; seq: number; ready: boolean; error?: string }
  | { type: "finalized"; error?: ErrorInfo };

export type LogLevel = "INFO" | "WARNING" | "ERROR" | "VERBOSE";

/** What a stub filters at the source: main filters again (stdout, stderr, its own lines). */
export interface StubLogLevels {
  info: boolean;
  warning: boolean;
  error: boolean;
  verbose: number;
}

export type MetricKind = "COUNTER" | "GAUGE" | "HISTOGRAM";

/** A custom metric family, as a handler's MetricFamily(name, description, kind) declared it. */
export interface MetricFamilyDecl {
  name: string;
  description: string;
  kind: MetricKind;
}

/** A series: family name and its labels, as JSON of the sorted [key, value] pairs. */
export interface MetricSeriesKey {
  family: string;
  labels: string;
}

/**
 * One series' change since the last flush. Counter and gauge: an optional `set` (the last one,
 * gauges only) and then `add`. Histogram: `buckets` (upper bounds, once, on the first flush),
 * the count added per bucket (+Inf last), `sum` and `count` added.
 */
export interface MetricUpdate extends MetricSeriesKey {
  set?: number;
  add?: number;
  buckets?: number[];
  bucketCounts?: number[];
  sum?: number;
  count?: number;
}

/** Main's value of a counter or gauge series. */
export interface MetricValue extends MetricSeriesKey {
  value: number;
}