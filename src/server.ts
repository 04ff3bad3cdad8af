/**
 * The composition root: model manager + front ends, start-up and graceful shutdown. It is also
 * the ServerApi the front ends call: resolve the model, validate, schedule, shape the response.
 */
import type { Server as HttpServer } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ServerError, VersionLoadError, invalidArg, toServerError, unavailable, unsupported } from "./errors/index.js";
import { configToJson, tensorShapeForMetadata } from "./config/schema.js";
import { classify, readLabels } from "./core/classification.js";
import { ResponseStream } from "./core/response-stream.js";
import type { ServerApi } from "./core/server-api.js";
import {
  failureReason, nowNs, requestRows, type ModelStatisticsResponse, type RequestTimes,
} from "./core/statistics.js";
import type {
  CoreRequest, CoreResponse, CoreTensor, LoadOptions, ModelIndexEntry, ModelMetadata, ServerMetadata,
} from "./core/types.js";
import { validateRequest } from "./core/validate.js";
import type { RestrictedFeatures } from "./core/restricted.js";
import { createHttpServer } from "./http/index.js";
import { GrpcFrontEnd } from "./grpc/index.js";
import { MetricsService } from "./metrics/service.js";
import type { ModelSample } from "./metrics/registry.js";
import { PACKAGE_ROOT } from "./ipc/addon.js";
import { datatypeFromConfig } from "./ipc/datatypes.js";
import { sweepStaleSegments } from "./ipc/segments.js";
import { DEFAULT_STUB_OPTIONS, type StubBackendOptions } from "./backends/stub/stub-model.js";
import { sweepStaleHandlerCaches } from "./backends/stub/handler-module.js";
import { ModelManager, type LoadedVersion } from "./repository/model-manager.js";
import { log, logError, logInfo, logWarn } from "./logging.js";
import type { LogLevel } from "./ipc/protocol.js";


/** How long answers still being written at shutdown may take to reach their clients. */
const ANSWER_FLUSH_MS = 2000;
export interface ServerOptions {
  modelRepositories: string[];
  httpPort: number;
  httpAddress: string;
  grpcPort: number;
  /** --grpc-address; 0.0.0.0 when unset. */
  grpcAddress?: string;
  metricsPort: number;
  /** Where the metrics listen; by default the HTTP address when HTTP is served, else 0.0.0.0 (Triton). */
  metricsAddress?: string;
  /** --metrics-interval-ms: how often polled metrics (CPU) refresh. */
  metricsIntervalMs: number;
  allowCpuMetrics: boolean;
  /** Accepted as tritonserver's flag; tessera has no GPU metrics to serve. */
  allowGpuMetrics: boolean;
  allowHttp: boolean;
  allowGrpc: boolean;
  allowMetrics: boolean;
  modelControlMode: "none" | "explicit" | "poll";
  loadModels: string[];
  strictModelConfig: boolean;
  exitOnError: boolean;
  strictReadiness: boolean;
  exitTimeoutSecs: number;
  httpMaxInputSize: number;
  /** --grpc-max-input-size; unset: the HTTP limit. */
  grpcMaxInputSize?: number;
  /** --http-header-timeout-secs, --http-request-timeout-secs (0: none); unset: Node's defaults. */
  httpHeaderTimeoutSecs?: number;
  httpRequestTimeoutSecs?: number;
  /** --http-restricted-api, --grpc-restricted-protocol, parsed. */
  httpRestrictedApi?: RestrictedFeatures;
  grpcRestrictedProtocol?: RestrictedFeatures;
  stub: StubBackendOptions;
}

export const VERSION: string = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")).version;

const EXTENSIONS = ["classification", "model_repository", "model_configuration", "binary_tensor_data", "parameters", "statistics"];

const SEVERITY: Record<LogLevel, "I" | "W" | "E" | "V"> = { INFO: "I", WARNING: "W", ERROR: "E", VERBOSE: "V" };

export class TesseraServer implements ServerApi {
  readonly options: ServerOptions;
  readonly models: ModelManager;
  #http: HttpServer | null = null;
  #grpc: GrpcFrontEnd | null = null;
  #metrics: MetricsService | null = null;
  #live = false;
  #stopping = false;
  #inFlight = 0;
  #idle: (() => void) | null = null;

  constructor(options: ServerOptions) {
    this.options = options;
    this.models = new ModelManager({
      repositories: options.modelRepositories,
      strictModelConfig: options.strictModelConfig,
      // Handlers' BLS calls: any model, streamed, and still served while the server drains.
      stub: { ...DEFAULT_STUB_OPTIONS, ...options.stub, bls: (request) => this.#stream(request, true) },
      // An ensemble's steps: one response each, also while the server drains.
      composingInfer: (request) => this.#inferInternal(request),
      log: (level, source, message) => log(SEVERITY[level], source, message),
    });
  }

  /** Loads the start-up models and opens the front ends. Throws if --exit-on-error and a model failed. */
  async start(): Promise<void> {
    const swept = sweepStaleSegments();
    if (swept.length > 0) logInfo("server", `removed ${swept.length} shared-memory segment(s) left by a server that is gone`);
    const caches = sweepStaleHandlerCaches();
    if (caches.length > 0) logInfo("server", `removed ${caches.length} handler cache folder(s) left by a server that is gone`);
    const o = this.options;
    if (o.modelControlMode === "poll") {
      throw invalidArg("--model-control-mode=poll is not supported yet; use none or explicit");
    }
    const names = o.modelControlMode === "none" || o.loadModels.includes("*") ? this.models.available() : o.loadModels;
    const results = await this.models.loadMany(names);
    for (const r of results) if (r.error) logError("model_manager", r.error.message);
    this.#printModelTable();
    this.#live = true;
    if (o.exitOnError && results.some((r) => r.error)) {
      throw new ServerError("INTERNAL", "failed to load all models");
    }
    if (o.allowHttp) {
      const ms = (secs: number | undefined) => (secs === undefined ? undefined : secs * 1000);
      this.#http = createHttpServer(this, {
        maxInputSize: o.httpMaxInputSize, restricted: o.httpRestrictedApi,
        headersTimeoutMs: ms(o.httpHeaderTimeoutSecs), requestTimeoutMs: ms(o.httpRequestTimeoutSecs),
      });
      await new Promise<void>((resolve, reject) => {
        this.#http!.once("error", reject);
        this.#http!.listen(o.httpPort, o.httpAddress, () => resolve());
      });
      const addr = this.#http.address();
      const where = typeof addr === "object" && addr ? `${addr.address}:${addr.port}` : String(addr);
      logInfo("server", `Started HTTPService at ${where}`);
    }
    if (o.allowGrpc) {
      this.#grpc = new GrpcFrontEnd(this, {
        maxInputSize: o.grpcMaxInputSize ?? o.httpMaxInputSize, restricted: o.grpcRestrictedProtocol,
        log: (line) => logError("grpc", line),
      });
      const address = o.grpcAddress ?? "0.0.0.0";
      const port = await this.#grpc.listen(address, o.grpcPort);
      logInfo("server", `Started GRPCInferenceService at ${address}:${port}`);
    }
    if (o.allowMetrics) {
      this.#metrics = new MetricsService(() => this.#modelSamples(), {
        port: o.metricsPort,
        address: o.metricsAddress ?? (o.allowHttp ? o.httpAddress : "0.0.0.0"),
        intervalMs: o.metricsIntervalMs,
        cpu: o.allowCpuMetrics,
        log: (line) => logError("metrics", line),
      });
      logInfo("server", `Started Metrics Service at ${await this.#metrics.start()}`);
    }
  }

  /** Graceful shutdown: stop accepting, let in-flight requests finish (bounded), finalize, unlink. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#live = false;
    const http = this.#http;
    const httpClosed = new Promise<void>((r) => (http ? http.close(() => r()) : r()));
    // Stops accepting gRPC calls at once; open ones finish within the same exit timeout, plus the
    // moment it takes to write the errors that end streams still open then (models stop first).
    const grpcDown = this.#grpc?.shutdown(this.options.exitTimeoutSecs * 1000 + ANSWER_FLUSH_MS);
    this.#metrics?.stop();
    if (this.#inFlight > 0) {
      logInfo("server", `Waiting for ${this.#inFlight} in-flight request(s) to complete`);
      await Promise.race([
        new Promise<void>((r) => (this.#idle = r)),
        new Promise<void>((r) => setTimeout(r, this.options.exitTimeoutSecs * 1000).unref()),
      ]);
    }
    // Models go first: whatever is still in flight (a stream that would not end) ends now with an
    // error its client still receives.
    await this.models.shutdown();
    if (http) {
      // Answers still being written finish (briefly bounded); idle keep-alive sockets go now.
      const sweep = setInterval(() => http.closeIdleConnections(), 10);
      http.closeIdleConnections();
      await Promise.race([httpClosed, new Promise<void>((r) => setTimeout(r, ANSWER_FLUSH_MS).unref())]);
      clearInterval(sweep);
      http.closeAllConnections();
    }
    await grpcDown;
    logInfo("server", "all models unloaded; exiting");
  }

  // ---- ServerApi ----

  isLive(): boolean {
    return this.#live;
  }

  isReady(): boolean {
    if (!this.#live || this.#stopping) return false;
    return !this.options.strictReadiness || this.models.allReady();
  }

  serverMetadata(): ServerMetadata {
    return { name: "tessera", version: VERSION, extensions: EXTENSIONS };
  }

  modelReady(model: string, version?: string): boolean {
    return this.models.isModelReady(model, version);
  }

  modelMetadata(model: string, version?: string): ModelMetadata {
    const v = this.models.resolve(model, version);
    const cfg = v.config;
    const tensors = (list: typeof cfg.input | typeof cfg.output) =>
      list.map((t) => ({ name: t.name, datatype: datatypeFromConfig(t.data_type)!, shape: tensorShapeForMetadata(cfg, t) }));
    const versions = version ? [String(v.version)] : this.models.index(true).filter((e) => e.name === model && e.version).map((e) => e.version!);
    return { name: model, versions, platform: cfg.platform || cfg.backend, inputs: tensors(cfg.input), outputs: tensors(cfg.output) };
  }

  modelConfig(model: string, version?: string): Record<string, unknown> {
    return configToJson(this.models.resolve(model, version).config);
  }

  repositoryIndex(options: { ready?: boolean }): ModelIndexEntry[] {
    return this.models.index(options.ready === true);
  }

  async loadModel(model: string, options: LoadOptions): Promise<void> {
    this.#checkExplicit();
    try {
      await this.models.load(model, options.config);
    } catch (err) {
      throw err instanceof VersionLoadError ? err.forRepositoryApi() : err;
    }
  }

  async unloadModel(model: string): Promise<void> {
    this.#checkExplicit();
    await this.models.unload(model);
  }

  modelStatistics(model?: string, version?: string): ModelStatisticsResponse {
    // Triton lists ready versions only, and answers INVALID_ARG (its texts) for anything else.
    let ready = this.models.index(true).filter((e) => e.version !== undefined && (model === undefined || e.name === model));
    if (model !== undefined) {
      if (ready.length === 0) throw invalidArg(`requested model '${model}' is not available`);
      if (version !== undefined && version !== "" && version !== "-1") {
        ready = ready.filter((e) => Number(e.version) === Number(version));
        if (ready.length === 0) throw invalidArg(`requested model version is not available for model '${model}'`);
      }
    }
    return {
      model_stats: ready.map((e) => this.models.resolve(e.name, e.version).stats.toJson(e.name, e.version!)),
    };
  }

  isDecoupled(model: string, version?: string): boolean {
    return this.models.resolve(model, version).config.model_transaction_policy.decoupled;
  }

  async infer(request: CoreRequest): Promise<CoreResponse> {
    const v = this.#admit(request);
    if (v.config.model_transaction_policy.decoupled) {
      // The front ends refuse these first, each with Triton's own text; this guards the rest.
      throw unsupported(`model '${request.model}' is decoupled: its responses stream (gRPC ModelStreamInfer, HTTP generate_stream)`);
    }
    return this.#run(v, request);
  }

  #inferInternal(request: CoreRequest): Promise<CoreResponse> {
    let v: LoadedVersion;
    try {
      v = this.#admit(request, true);
    } catch (err) {
      return Promise.reject(err);
    }
    if (v.config.model_transaction_policy.decoupled) {
      return Promise.reject(unsupported(`model '${request.model}' is decoupled: an ensemble step takes exactly one response`));
    }
    return this.#run(v, request);
  }

  /**
   * Any model, one stream of responses: a decoupled model's as its handler sends them, any other
   * model's one response. Failures before the request is scheduled (unknown model, invalid
   * request, shutting down) throw here; later ones are items of the stream.
   */
  inferStream(request: CoreRequest): ResponseStream {
    return this.#stream(request, false);
  }

  #stream(request: CoreRequest, internal: boolean): ResponseStream {
    const v = this.#admit(request, internal);
    const stream = new ResponseStream();
    if (!v.config.model_transaction_policy.decoupled) {
      this.#run(v, request).then(
        (response) => stream.push({ response, final: true }),
        (error) => stream.push({ error: toServerError(error), final: true }),
      );
      return stream;
    }
    this.#inFlight++;
    // Counted once both are known: the final response (an error there fails the request; errors
    // mid-stream do not), and the call's end, which brings its timing.
    let ended: { error?: ServerError } | null = null;
    let callDone = false;
    let counted = false;
    const count = () => {
      if (counted || !ended || !callDone) return;
      counted = true;
      this.#account(v, request, ended.error);
      if (--this.#inFlight === 0 && this.#idle) this.#idle();
    };
    request.sink = (result, final) => {
      if (stream.finished) {
        if (result && !result.error) result.release();
        return;
      }
      let error = result?.error;
      if (result && !result.error) {
        try {
          stream.push({ response: this.#response(request, v, result.outputs, result.parameters, result.release), final });
        } catch (err) {
          error = toServerError(err);
        }
      }
      if (error) stream.push({ error, final });
      else if (!result) stream.push({ final });
      if (final) {
        ended = { error };
        count();
      }
    };
    // The call's own result is empty; a failure before the handler ran ends the stream here.
    v.scheduler.enqueue(request).then(
      (result) => result.error && request.sink!(result, true),
      (err) => request.sink!({ error: toServerError(err) }, true),
    ).finally(() => {
      callDone = true;
      count();
    });
    return stream;
  }

  /**
   * Resolves and validates a request; a known model's invalid request counts as its failure.
   * Internal requests (BLS) are taken while the server drains: in-flight requests depend on them.
   */
  #admit(request: CoreRequest, internal = false): LoadedVersion {
    if (this.#stopping && !internal) throw unavailable("Server is shutting down");
    const times: RequestTimes = { startNs: nowNs() };
    const v = this.models.resolve(request.model, request.version);
    request.times = times;
    try {
      validateRequest(request, v.config);
    } catch (err) {
      this.#account(v, request, err); // Triton counts a known model's invalid requests as failures
      throw err;
    }
    return v;
  }

  async #run(v: LoadedVersion, request: CoreRequest): Promise<CoreResponse> {
    this.#inFlight++;
    let response: CoreResponse;
    try {
      const result = await v.scheduler.enqueue(request);
      if (result.error) throw result.error;
      response = this.#response(request, v, result.outputs, result.parameters, result.release);
    } catch (err) {
      this.#account(v, request, err);
      throw err;
    } finally {
      if (--this.#inFlight === 0 && this.#idle) this.#idle();
    }
    this.#account(v, request);
    return response;
  }

  /** Every request ends here exactly once: one success or one failure, and its call counted once. */
  #account(v: LoadedVersion, request: CoreRequest, error?: unknown): void {
    const times = request.times!;
    const endNs = nowNs();
    const maxBatch = v.config.max_batch_size;
    if (error === undefined) v.stats.recordSuccess(times, requestRows(request, maxBatch), endNs);
    else v.stats.recordFailure(times, failureReason(times, (error as { code?: string }).code), endNs);
    const call = times.call;
    if (call) v.stats.recordExecution(call, call.requests.reduce((n, r) => n + requestRows(r, maxBatch), 0));
  }

  /** The metrics' view of every loaded version, taken once per scrape. */
  #modelSamples(): ModelSample[] {
    return this.models.index(true).filter((e) => e.version !== undefined).map((e) => {
      const v = this.models.resolve(e.name, e.version);
      return {
        model: e.name, version: e.version!, stats: v.stats, queued: v.scheduler.queued, loadSeconds: v.loadSeconds,
        stubsAlive: v.backend?.instances.length ?? 0, stubRestarts: v.backend?.restartsTotal ?? 0,
      };
    });
  }

  #response(
    request: CoreRequest, v: LoadedVersion, outputs: CoreTensor[], parameters: CoreResponse["parameters"], release: () => void,
  ): CoreResponse {
    const requested = request.outputs ?? [];
    let shaped = outputs;
    try {
      if (requested.length > 0) {
        shaped = [];
        for (const want of requested) {
          const t = outputs.find((o) => o.name === want.name);
          if (!t) throw new ServerError("INTERNAL", `model '${request.model}' did not produce the requested output '${want.name}'`);
          if (want.classification === undefined) {
            shaped.push(t);
            continue;
          }
          const spec = v.config.output.find((o) => o.name === want.name);
          const labels = spec?.label_filename ? readLabels(v.modelDir, spec.label_filename) : null;
          shaped.push(classify(t, want.classification, v.config.max_batch_size > 0, labels));
        }
      }
    } catch (err) {
      release();
      throw toServerError(err);
    }
    return { model: request.model, version: String(v.version), id: request.id, outputs: shaped, parameters, release };
  }

  #checkExplicit(): void {
    if (this.options.modelControlMode !== "explicit") {
      // Triton's text, which names polling even in "none" mode.
      throw unavailable("explicit model load / unload is not allowed if polling is enabled");
    }
  }

  #printModelTable(): void {
    const rows = this.models.states().flatMap((s) =>
      s.versions.length > 0
        ? s.versions.map((v) => [s.name, String(v), s.state])
        : [[s.name, "-", s.state === "READY" ? "READY" : `UNAVAILABLE: ${s.reason}`]],
    );
    const head = ["Model", "Version", "Status"];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = "+" + widths.map((w) => "-".repeat(w + 2)).join("+") + "+";
    const fmt = (r: string[]) => "| " + r.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
    logInfo("server", ["", line, fmt(head), line, ...rows.map(fmt), line].join("\n"));
  }
}
