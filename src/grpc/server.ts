/**
 * The KServe v2 gRPC front end (inference.GRPCInferenceService, plus grpc.health.v1.Health/Check):
 * protocol ⇄ ServerApi and nothing else. Every failure is a ServerError whose gRPC status comes
 * from GRPC_STATUS; texts are the core's, so they match the HTTP front end's word for word.
 */
import * as grpc from "@grpc/grpc-js";
import type { ServerApi, TraceGate } from "../core/server-api.js";
import { nowNs } from "../core/statistics.js";
import { Cancellation, type RequestSignal } from "../core/cancellation.js";
import type { StreamItem } from "../core/response-stream.js";
import type { CoreResponse, LoadOptions, Parameters, RequestTrace } from "../core/types.js";
import { checkRepositoryName, checkUnloadDependents, loadOptionsFrom } from "../core/parameters.js";
import { RestrictedFeatures, type RestrictedCategory } from "../core/restricted.js";
import type { HeaderForward } from "../core/header-forward.js";
import { applyGrpcLogSettings } from "../core/log-settings.js";
import {
  GRPC_STATUS, RESTRICTED_STATUS, ServerError, clientCancelledRequest, clientCancelledStream, grpcDecoupled,
  grpcUnloadDependentsType, statisticsUnsupported, toServerError, tracingUnsupported, undecodableRequest,
} from "../errors/index.js";
import {
  decodeInferRequest, encodeInferResponse, outputRegions, parameterValue, takeEnableEmptyFinalResponse,
  type InferRequestMessage, type InferResponsePlain, type ParameterMessage,
} from "./infer-codec.js";
import { encodePlain, messageType, serviceDefinition } from "./proto.js";
import type { RegionRegistry } from "../shm/registry.js";
import { sharedMemoryMethods } from "./shared-memory.js";

export const SERVICE_NAME = "inference.GRPCInferenceService";
export const HEALTH_SERVICE_NAME = "grpc.health.v1.Health";

export interface GrpcFrontEndOptions {
  /**
   * Largest message received, in bytes, after decompression too (--grpc-max-input-size); larger
   * ones are refused by grpc-js with RESOURCE_EXHAUSTED before they are buffered. Unset: no limit.
   */
  maxInputSize?: number;
  /** --grpc-restricted-protocol: categories served only with their metadata key. */
  restricted?: RestrictedFeatures;
  /** --grpc-header-forward-pattern: matching metadata keys (lower-case in gRPC) become request parameters. */
  headerForward?: HeaderForward;
  /** While tracing is on, an infer request carries its receive time and the traceparent metadata. */
  tracing?: TraceGate;
  log?: (line: string) => void;
  /** The system shared-memory extension's regions (src/shm/); unset: every shared-memory call is refused. */
  regions?: RegionRegistry;
}

/**
 * What a request that protobufjs cannot decode deserializes to. grpc-js answers a deserializer
 * that throws with INTERNAL, which blames the server: the handlers answer this with INVALID_ARG.
 */
class UndecodableRequest {
  readonly error: ServerError;

  constructor(cause: unknown) {
    this.error = undecodableRequest(cause);
  }
}

/** `definition` whose request deserializers hand an UndecodableRequest over instead of throwing. */
function answeringUndecodable(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(definition)) {
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          return new UndecodableRequest(err);
        }
      },
    };
  }
  return out;
}

/** The restricted-protocol category of each RPC, as Triton's grpc_server.cc registers them. */
const CATEGORY: Readonly<Record<string, RestrictedCategory>> = {
  ServerLive: "health", ServerReady: "health", ModelReady: "health", Check: "health",
  ServerMetadata: "metadata", ModelMetadata: "metadata",
  ModelConfig: "model-config",
  ModelStatistics: "statistics",
  RepositoryIndex: "model-repository", RepositoryModelLoad: "model-repository", RepositoryModelUnload: "model-repository",
  ModelInfer: "inference", ModelStreamInfer: "inference",
  LogSettings: "logging",
  SystemSharedMemoryStatus: "shared-memory", SystemSharedMemoryRegister: "shared-memory", SystemSharedMemoryUnregister: "shared-memory",
  CudaSharedMemoryStatus: "shared-memory", CudaSharedMemoryRegister: "shared-memory", CudaSharedMemoryUnregister: "shared-memory",
  TraceSetting: "trace",
};

type Unary = (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => void;

/** The optional statistics method, called when the server has it (see ModelStatistics). */
interface StatisticsApi {
  modelStatistics?(model?: string, version?: string): unknown;
}

/**
 * Owns one grpc.Server. Streams are tracked so that shutdown can end the idle ones: tryShutdown
 * waits for every open call, and a client that keeps a stream open would otherwise hold the
 * server up until the deadline.
 */
export class GrpcFrontEnd {
  readonly #api: ServerApi;
  readonly #log: (line: string) => void;
  readonly #restricted: RestrictedFeatures;
  readonly #headerForward: HeaderForward | undefined;
  readonly #regions: RegionRegistry | undefined;
  readonly #tracing: TraceGate | undefined;
  readonly #server: grpc.Server;
  readonly #streams = new Set<StreamState>();
  #closing = false;

  constructor(api: ServerApi, options: GrpcFrontEndOptions = {}) {
    this.#api = api;
    this.#log = options.log ?? (() => {});
    this.#restricted = options.restricted ?? RestrictedFeatures.NONE;
    this.#headerForward = options.headerForward;
    this.#regions = options.regions;
    this.#tracing = options.tracing;
    // Triton accepts messages up to INT32_MAX; grpc-js defaults to 4 MiB in. What the server
    // receives is bounded by --grpc-max-input-size; what it sends is the model's to decide.
    this.#server = new grpc.Server({
      "grpc.max_receive_message_length": options.maxInputSize ?? -1,
      "grpc.max_send_message_length": -1,
    });
    this.#server.addService(answeringUndecodable(serviceDefinition(SERVICE_NAME)), this.#guarded(this.#handlers()));
    this.#server.addService(answeringUndecodable(serviceDefinition(HEALTH_SERVICE_NAME)), this.#guarded({
      Check: this.#unary(() => ({ status: this.#ready() ? 1 : 2 })), // SERVING : NOT_SERVING
    }));
  }

  /** Binds `address:port` (port 0: any free port) and resolves with the port bound. */
  listen(address: string, port: number): Promise<number> {
    const host = address.includes(":") && !address.startsWith("[") ? `[${address}]` : address;
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
        if (err) reject(err);
        else resolve(bound);
      });
    });
  }

  /**
   * Stops accepting calls, lets the open ones finish (idle streams are ended, busy ones end once
   * their requests have answered), and after `deadlineMs` cuts whatever is left.
   */
  async shutdown(deadlineMs: number): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const s of this.#streams) s.endWhenIdle();
    let timer: NodeJS.Timeout | undefined;
    const graceful = new Promise<boolean>((resolve) => this.#server.tryShutdown(() => resolve(true)));
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), deadlineMs);
      timer.unref();
    });
    const done = await Promise.race([graceful, expired]);
    clearTimeout(timer);
    if (!done) this.#server.forceShutdown();
  }

  #ready(): boolean {
    try {
      return this.#api.isReady();
    } catch {
      return false;
    }
  }

  /**
   * Every handler behind the two checks that come before a request is looked at: the restricted
   * protocol's metadata (Triton: UNAVAILABLE, its text) and, for unary calls, a request that could
   * not be decoded (INVALID_ARG). A stream's messages are checked one by one (streamInfer).
   */
  #guarded(handlers: grpc.UntypedServiceImplementation): grpc.UntypedServiceImplementation {
    const out: grpc.UntypedServiceImplementation = {};
    for (const [name, handler] of Object.entries(handlers)) {
      const category = CATEGORY[name];
      if (category === undefined) throw new Error(`gRPC method ${name} has no restricted-protocol category`);
      const stream = name === "ModelStreamInfer";
      out[name] = ((call: any, callback?: grpc.sendUnaryData<unknown>) => {
        const refusal = this.#restricted.refusal(category, (key) => {
          const value = (call.metadata as grpc.Metadata).get(key)[0];
          return typeof value === "string" ? value : undefined;
        });
        let status: Partial<grpc.StatusObject> | null = null;
        if (refusal !== null) status = { code: RESTRICTED_STATUS.grpc, details: refusal };
        else if (!stream && call.request instanceof UndecodableRequest) status = this.#status(call.request.error);
        if (status === null) (handler as (call: any, callback?: unknown) => void)(call, callback);
        else if (stream) call.emit("error", status); // ends the call with this status
        else callback!(status);
      }) as grpc.UntypedHandleCall;
    }
    return out;
  }

  /** A unary handler whose result (or thrown ServerError) becomes the reply. */
  #unary(fn: (req: any, call: grpc.ServerUnaryCall<any, any>) => unknown): Unary {
    return (call, callback) => {
      let result: unknown;
      try {
        result = fn(call.request, call);
      } catch (err) {
        callback(this.#status(err));
        return;
      }
      if (result instanceof Promise) {
        result.then((value) => callback(null, value), (err) => callback(this.#status(err)));
      } else {
        callback(null, result);
      }
    };
  }

  #status(err: unknown): Partial<grpc.StatusObject> {
    const error = toServerError(err);
    if (!(err instanceof ServerError)) {
      this.#log(`unexpected failure: ${err instanceof Error ? err.stack : String(err)}`);
    } else if (error.code === "INTERNAL") {
      this.#log(`internal error: ${error.message}`);
    }
    return { code: GRPC_STATUS[error.code], details: error.message };
  }

  #handlers(): grpc.UntypedServiceImplementation {
    const api = this.#api;
    const shm = Object.fromEntries(Object.entries(sharedMemoryMethods(this.#regions)).map(([name, fn]) => [name, this.#unary(fn)]));
    return {
      ...shm,
      ServerLive: this.#unary(() => ({ live: api.isLive() })),
      ServerReady: this.#unary(async () => {
        await api.refreshReadiness?.().catch(() => {});
        return { ready: api.isReady() };
      }),
      ModelReady: this.#unary(async (r) => {
        await api.refreshReadiness?.(r.name, r.version || undefined).catch(() => {});
        return { ready: api.modelReady(r.name, r.version || undefined) };
      }),
      ServerMetadata: this.#unary(() => api.serverMetadata()),
      ModelMetadata: this.#unary((r) => api.modelMetadata(r.name, r.version || undefined)),
      ModelConfig: this.#unary((r) => ({ config: api.modelConfig(r.name, r.version || undefined) })),
      ModelStatistics: this.#unary((r) => {
        const stats = api as ServerApi & StatisticsApi;
        if (typeof stats.modelStatistics !== "function") {
          throw statisticsUnsupported();
        }
        // Triton's statistics JSON has the message's field names: fromObject maps it as is.
        return stats.modelStatistics(r.name || undefined, r.version || undefined);
      }),
      // Trace extension: an empty settings map reads; any setting given updates first.
      TraceSetting: this.#unary((r) => {
        if (!api.traceSetting) throw tracingUnsupported();
        const settings: Record<string, string[]> = {};
        for (const [key, v] of Object.entries((r.settings ?? {}) as Record<string, { value?: string[] }>)) settings[key] = v.value ?? [];
        const update = Object.keys(settings).length > 0 ? { protocol: "grpc" as const, settings } : undefined;
        const out = api.traceSetting(r.model_name || undefined, update);
        return { settings: Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { value: Array.isArray(v) ? v : [v] }])) };
      }),
      RepositoryIndex: this.#unary((r) => {
        checkRepositoryName(r.repository_name || undefined); // proto3: "" means not set
        return { models: api.repositoryIndex({ ready: Boolean(r.ready) }) };
      }),
      RepositoryModelLoad: this.#unary(async (r) => {
        checkRepositoryName(r.repository_name || undefined); // proto3: "" means not set
        await api.loadModel(r.model_name, loadOptions(r.parameters));
        return {};
      }),
      RepositoryModelUnload: this.#unary(async (r) => {
        checkRepositoryName(r.repository_name || undefined); // proto3: "" means not set
        checkUnloadParameters(r.parameters);
        await api.unloadModel(r.model_name);
        return {};
      }),
      LogSettings: this.#unary((r) => ({ settings: applyGrpcLogSettings(r.settings) })),
      ModelInfer: (call: grpc.ServerUnaryCall<InferRequestMessage, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        const controller = new Cancellation();
        let answered = false;
        // grpc-js also reports 'cancelled' when the stream closes after the status went out:
        // only a call still unanswered is a cancellation.
        call.once("cancelled", () => {
          if (!answered) controller.abort(clientCancelledRequest());
        });
        this.#infer(call.request, controller, call.metadata).then(
          (encoded) => {
            answered = true;
            callback(null, encoded);
          },
          (err) => {
            answered = true;
            callback(this.#status(err));
          },
        );
      },
      ModelStreamInfer: (call: grpc.ServerDuplexStream<InferRequestMessage, Buffer>) => {
        const state = new StreamState(call, this);
        this.#streams.add(state);
        call.once("close", () => this.#streams.delete(state));
        if (this.#closing) state.endWhenIdle();
      },
    };
  }

  /**
   * --grpc-header-forward-pattern: the call's metadata (keys lower-case, as gRPC sends them) as
   * request parameters, after the request was decoded, as Triton's ForwardHeadersAsParameters.
   */
  #forwardHeaders(metadata: grpc.Metadata | undefined, parameters: Parameters): void {
    if (!this.#headerForward || !metadata) return;
    const pairs = Object.entries(metadata.getMap()).map(([k, v]) => [k, typeof v === "string" ? v : v.toString("latin1")] as const);
    this.#headerForward.apply(pairs, parameters);
  }

  /** One inference, encoded: the response's views are copied into the message, then released. */
  async #infer(msg: InferRequestMessage, signal: RequestSignal, metadata?: grpc.Metadata): Promise<Buffer> {
    const traceStartNs = this.#tracing?.active ? nowNs() : 0;
    if (this.#api.isDecoupled(msg.model_name ?? "", msg.model_version || undefined)) {
      throw grpcDecoupled();
    }
    // Meaningless for one response, yet clients (perf_analyzer) send it and Triton accepts it.
    takeEnableEmptyFinalResponse(msg);
    // Windows of client regions this request uses: held until its response is encoded.
    const leases = this.#regions?.leases();
    try {
      const request = decodeInferRequest(msg, leases);
      this.#forwardHeaders(metadata, request.parameters);
      request.signal = signal;
      if (traceStartNs !== 0) request.trace = traceContext(metadata, traceStartNs);
      const response: CoreResponse = await this.#api.infer(request);
      try {
        return INFER_RESPONSE(encodeInferResponse(response, outputRegions(request)));
      } finally {
        this.#release(response);
      }
    } finally {
      leases?.release();
    }
  }

  /**
   * @internal For StreamState: one stream request, any model. Writes each response as it comes
   * with `triton_final_response`, an error as error_message (the stream goes on), and a bare
   * final flag only when the request asked (triton_enable_empty_final_response). With `fatal`
   * (the stream's triton_grpc_error mode), an error response of a scheduled request goes to it
   * instead and this request writes nothing more; a request refused before it was scheduled
   * still answers in the stream, as Triton's does (its ServerInferAsync error is not a response).
   */
  async streamInfer(
    msg: InferRequestMessage, signal: RequestSignal, write: (encoded: Buffer | null) => boolean,
    fatal?: (status: Partial<grpc.StatusObject>) => void, metadata?: grpc.Metadata,
  ): Promise<void> {
    if ((msg as unknown) instanceof UndecodableRequest) {
      // A message of the stream that could not be decoded: its error, and the stream goes on.
      write(STREAM_ERROR((msg as unknown as UndecodableRequest).error.message, { id: "" }));
      return;
    }
    const head = { id: msg.id ?? "", model_name: msg.model_name ?? "", model_version: msg.model_version ?? "" };
    let results;
    let enableEmptyFinal = false;
    let regions: Map<string, import("../core/types.js").RegionRef> | undefined;
    // Windows of client regions this request uses: held until its last response is encoded.
    const leases = this.#regions?.leases();
    try {
      enableEmptyFinal = takeEnableEmptyFinalResponse(msg);
      const request = decodeInferRequest(msg, leases);
      regions = outputRegions(request);
      this.#forwardHeaders(metadata, request.parameters);
      request.signal = signal;
      if (this.#tracing?.active) request.trace = traceContext(metadata, nowNs());
      results = this.#api.inferStream(request);
    } catch (err) {
      leases?.release();
      // Refused before it was scheduled: the error and the request's id, no final flag.
      write(STREAM_ERROR(this.#streamError(err), { id: head.id }));
      return;
    }
    // A cancelled stream stops waiting at once, not at the next response.
    const stop = () => results.close();
    signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const item of results) {
        if (fatal && item.error) {
          fatal(this.#status(item.error));
          break;
        }
        if (!write(this.#streamItem(item, head, enableEmptyFinal, fatal, regions))) break;
      }
    } finally {
      signal.removeEventListener("abort", stop);
      results.close();
      leases?.release();
    }
  }

  /** One stream item, encoded; null when nothing is to be written (a bare final flag, not asked for). */
  #streamItem(
    item: StreamItem, head: { id: string; model_name: string; model_version: string }, enableEmptyFinal: boolean,
    fatal?: (status: Partial<grpc.StatusObject>) => void, regions?: ReadonlyMap<string, import("../core/types.js").RegionRef>,
  ): Buffer | null {
    const final = { triton_final_response: { bool_param: item.final } };
    if (item.response) {
      try {
        const plain = encodeInferResponse(item.response, regions);
        plain.parameters = { ...plain.parameters, ...final };
        return STREAM_RESPONSE(plain);
      } catch (err) {
        // Triton: a response that fails InferResponseCompleteCommon is an error response too.
        if (fatal) {
          fatal(this.#status(err));
          return null;
        }
        return STREAM_ERROR(this.#streamError(err), { ...head, parameters: final });
      } finally {
        this.#release(item.response);
      }
    }
    if (item.error) return STREAM_ERROR(this.#streamError(item.error), { ...head, parameters: final });
    if (item.final && enableEmptyFinal) return STREAM_RESPONSE({ ...head, parameters: final, outputs: [], raw_output_contents: [] });
    return null;
  }

  #streamError(err: unknown): string {
    if (!(err instanceof ServerError)) this.#status(err); // logs it
    return toServerError(err).message;
  }

  #release(response: CoreResponse): void {
    try {
      response.release();
    } catch (err) {
      this.#log(`releasing the response of model '${response.model}' failed: ${String(err)}`);
    }
  }
}

// Types are looked up once, at first use (a lookup walks the namespace tree).
let inferResponseType: ReturnType<typeof messageType> | undefined;
let streamResponseType: ReturnType<typeof messageType> | undefined;
const INFER_RESPONSE = (plain: object) =>
  encodePlain((inferResponseType ??= messageType("inference.ModelInferResponse")), plain);
const STREAM_RESPONSE = (plain: InferResponsePlain | object) =>
  encodePlain((streamResponseType ??= messageType("inference.ModelStreamInferResponse")), { infer_response: plain });
const STREAM_ERROR = (message: string, infer: object) =>
  encodePlain((streamResponseType ??= messageType("inference.ModelStreamInferResponse")), { error_message: message, infer_response: infer });

/**
 * One ModelStreamInfer call. Each request's responses are written as they come: one for most
 * models, any number for a decoupled one (so requests' responses may interleave, as in Triton;
 * clients match them by id). A failed request answers with error_message and the stream goes on.
 * The call ends once the client has half-closed and every request has had its final response; a
 * cancelled call aborts them all.
 *
 * With the metadata `triton_grpc_error: true` (Triton's opt-in, the value exactly "true"), the
 * first error response ends the call with that error's gRPC status and message instead; as in
 * Triton's stream handler the call then counts as cancelled: requests in flight are cancelled,
 * their later responses and the stream's later requests are dropped.
 */
class StreamState {
  readonly #call: grpc.ServerDuplexStream<InferRequestMessage, Buffer>;
  readonly #front: GrpcFrontEnd;
  readonly #controller = new Cancellation();
  #pending = 0;
  #inputDone = false;
  #ended = false;
  /** triton_grpc_error mode: an error response ends the call with its status (see the class). */
  readonly #fatal: ((status: Partial<grpc.StatusObject>) => void) | undefined;

  constructor(call: grpc.ServerDuplexStream<InferRequestMessage, Buffer>, front: GrpcFrontEnd) {
    this.#call = call;
    this.#front = front;
    if (call.metadata.get("triton_grpc_error")[0] === "true") this.#fatal = (status) => this.#endWithError(status);
    call.on("data", (msg: InferRequestMessage) => this.#request(msg));
    call.once("end", () => {
      this.#inputDone = true;
      this.#maybeEnd();
    });
    call.once("cancelled", () => {
      if (this.#ended) return; // the close after a normal end is reported as 'cancelled' too
      this.#ended = true;
      this.#controller.abort(clientCancelledStream());
    });
    call.on("error", () => {});
  }

  /** Shutdown: no more requests are taken; the call ends once the pending ones have answered. */
  endWhenIdle(): void {
    this.#inputDone = true;
    this.#maybeEnd();
  }

  #request(msg: InferRequestMessage): void {
    if (this.#inputDone || this.#ended) return;
    this.#pending++;
    // null: nothing to write for this item (a bare final flag nobody asked to see).
    const write = (encoded: Buffer | null) => {
      if (this.#ended) return false;
      if (encoded) this.#call.write(encoded);
      return true;
    };
    void this.#front.streamInfer(msg, this.#controller, write, this.#fatal, this.#call.metadata).finally(() => {
      this.#pending--;
      this.#maybeEnd();
    });
  }

  /** The first error response in triton_grpc_error mode: the call ends with it, the rest is cancelled. */
  #endWithError(status: Partial<grpc.StatusObject>): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#controller.abort(clientCancelledStream());
    this.#call.emit("error", status); // grpc-js ends the call with this status
  }

  #maybeEnd(): void {
    if (this.#ended || !this.#inputDone || this.#pending > 0) return;
    this.#ended = true;
    this.#call.end();
  }
}

/** Load parameters: the choice each was sent with (core/parameters.ts checks them). */
/** The client's W3C trace context from the call's metadata, and when the request arrived. */
function traceContext(metadata: grpc.Metadata | undefined, receivedNs: number): RequestTrace {
  const trace: RequestTrace = { receivedNs };
  const parent = metadata?.get("traceparent")[0];
  if (typeof parent === "string") trace.traceparent = parent;
  const state = metadata?.get("tracestate")[0];
  if (typeof state === "string") trace.tracestate = state;
  return trace;
}

function loadOptions(params: Record<string, ParameterMessage> | undefined): LoadOptions {
  const plain: Record<string, unknown> = {};
  for (const [key, p] of Object.entries(params ?? {})) {
    plain[key] = p.parameter_choice === "bytes_param" ? p.bytes_param : parameterValue(p, key);
  }
  return loadOptionsFrom("grpc", plain);
}

// Unload: as Triton's gRPC front end, "unload_dependents" must be a bool_param (its own text, not
// the HTTP front end's), and a refused parameter unloads nothing.
function checkUnloadParameters(params: Record<string, ParameterMessage> | undefined): void {
  const p = params?.unload_dependents;
  if (p === undefined) return;
  if (p.parameter_choice !== "bool_param") throw grpcUnloadDependentsType();
  checkUnloadDependents(p.bool_param);
}
