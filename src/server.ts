/**
 * The composition root: the request pipeline, the model manager and the front ends, wired once;
 * start-up and graceful shutdown. The ServerApi the front ends call is delegated: queries to
 * core/server-queries.ts, inference to the pipeline (core/pipeline.ts).
 *
 * The pipeline is built first, from a late-bound resolve; the model manager then gets the
 * pipeline's dispatch for ensembles' steps and handlers' BLS calls. Nothing calls back into this
 * class.
 */
import { createServer, type Server as HttpServer } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startupLoadFailed } from "./errors/index.js";
import { RequestPipeline } from "./core/pipeline.js";
import { ResponseCache } from "./cache/response-cache.js";
import type { CacheSettings } from "./cache/cache-config.js";
import type { ResponseStream } from "./core/response-stream.js";
import type { ServerApi } from "./core/server-api.js";
import { ServerQueries } from "./core/server-queries.js";
import type { ModelStatisticsResponse } from "./core/statistics.js";
import type {
  CoreRequest, CoreResponse, LoadOptions, ModelIndexEntry, ModelMetadata, ServerMetadata,
} from "./core/types.js";
import type { RestrictedFeatures } from "./core/restricted.js";
import type { HeaderForward } from "./core/header-forward.js";
import { createHttpServer } from "./http/index.js";
import { GrpcFrontEnd } from "./grpc/index.js";
import { OpenAIFrontEnd } from "./openai/index.js";
import { MetricsService } from "./metrics/service.js";
import type { ModelSample } from "./metrics/registry.js";
import { PACKAGE_ROOT } from "./ipc/addon.js";
import { sweepStaleSegments } from "./ipc/segments.js";
import { DEFAULT_STUB_OPTIONS, type StubBackendOptions } from "./backends/stub/stub-model.js";
import { sweepStaleHandlerCaches } from "./backends/stub/handler-module.js";
import type { ModelControl } from "./backends/stub/model-control-service.js";
import { ModelManager } from "./repository/model-manager.js";
import { formatModelTable } from "./repository/model-table.js";
import { RepositoryPoller } from "./repository/poller.js";
import { log, logError, logInfo } from "./logging.js";
import type { LogLevel } from "./ipc/protocol.js";
import { RegionRegistry } from "./shm/registry.js";
import type { TraceSettingResponse, TraceUpdateWire } from "./core/server-api.js";
import { TraceService } from "./trace/service.js";
import { parseTraceFlags, type TraceConfig } from "./trace/trace-config.js";


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
  /** --repository-poll-secs (poll mode; Triton's default 15; 0: no periodic poll). */
  repositoryPollSecs?: number;
  /** --model-config-name: each model's <model>/configs/<name>.pbtxt over its config.pbtxt, where it exists. */
  modelConfigName?: string;
  loadModels: string[];
  strictModelConfig: boolean;
  exitOnError: boolean;
  strictReadiness: boolean;
  exitTimeoutSecs: number;
  /** --drain-delay-secs: after a stop begins, keep serving this long while not ready (0: none). */
  drainDelaySecs?: number;
  httpMaxInputSize: number;
  /** --grpc-max-input-size; unset: the HTTP limit. */
  grpcMaxInputSize?: number;
  /** --http-header-timeout-secs, --http-request-timeout-secs (0: none); unset: Node's defaults. */
  httpHeaderTimeoutSecs?: number;
  httpRequestTimeoutSecs?: number;
  /** --http-restricted-api, --grpc-restricted-protocol, parsed. */
  httpRestrictedApi?: RestrictedFeatures;
  grpcRestrictedProtocol?: RestrictedFeatures;
  /** --http-header-forward-pattern, --grpc-header-forward-pattern, compiled; unset: no header is forwarded. */
  httpHeaderForward?: HeaderForward;
  grpcHeaderForward?: HeaderForward;
  /** --openai-port: the OpenAI-compatible API on its own port (docs/openai.md); unset: not served. */
  openaiPort?: number;
  /** --openai-address; the HTTP address when unset. */
  openaiAddress?: string;
  /** --openai-on-http: the OpenAI-compatible API on the HTTP port too, under /v1. */
  openaiOnHttp?: boolean;
  stub: StubBackendOptions;
  /** --cache-config local,size=N: the response cache; unset: none (models' response_cache is then ignored). */
  cache?: CacheSettings;
  /** --allow-client-shm: the system shared-memory extension (src/shm/); off by default, as Triton's. */
  allowClientShm?: boolean;
  /** --trace-config and the deprecated --trace-* flags, parsed; unset: Triton's defaults (level OFF). */
  trace?: TraceConfig;
}

export const VERSION: string = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")).version;

const SEVERITY: Record<LogLevel, "I" | "W" | "E" | "V"> = { INFO: "I", WARNING: "W", ERROR: "E", VERBOSE: "V" };

export class TesseraServer implements ServerApi {
  readonly options: ServerOptions;
  readonly models: ModelManager;
  readonly #pipeline: RequestPipeline;
  readonly #cache: ResponseCache | null;
  readonly #queries: ServerQueries;
  #http: HttpServer | null = null;
  #grpc: GrpcFrontEnd | null = null;
  #metrics: MetricsService | null = null;
  #openai: HttpServer | null = null;
  #poller: RepositoryPoller | null = null;
  /** Clients' shared-memory regions (one registry per server). */
  readonly regions: RegionRegistry;
  #live = false;
  #stopping = false;
  readonly #trace: TraceService;

  constructor(options: ServerOptions) {
    this.options = options;
    this.regions = new RegionRegistry(options.allowClientShm === true);
    let models: ModelManager | null = null;
    this.#trace = new TraceService(options.trace ?? parseTraceFlags({ traceConfig: [] }), {
      modelReady: (model) => models!.isModelReady(model),
      log: (line) => logError("trace", line),
    });
    this.#cache = options.cache ? new ResponseCache(options.cache.size) : null;
    const pipeline = new RequestPipeline({
      resolve: (model, version) => models!.resolve(model, version),
      // Left out when no request could be traced (the default): then tracing costs nothing.
      ...(this.#cache ? { cache: this.#cache } : {}),
      interceptors: this.#trace.canTrace ? [this.#trace.stage] : [],
      onHandlerError: (err) => logError("server", `a response handler failed: ${(err as Error)?.stack ?? String(err)}`),
    });
    models = new ModelManager({
      repositories: options.modelRepositories,
      strictModelConfig: options.strictModelConfig,
      // Handlers' BLS calls: any model, streamed, and still served while the server drains.
      // Handlers' loadModel / unloadModel / isModelReady: the repository API, with its mode rules.
      stub: { ...DEFAULT_STUB_OPTIONS, ...options.stub, bls: pipeline.bls, modelControl: this.#modelControl() },
      // An ensemble's steps: one response each (streamed in a decoupled ensemble), also while the server drains.
      composingInfer: pipeline.composingInfer,
      composingStream: pipeline.composingStream,
      exitTimeoutMs: options.exitTimeoutSecs * 1000,
      modelConfigName: options.modelConfigName,
      log: (level, source, message) => log(SEVERITY[level], source, message),
    });
    this.#pipeline = pipeline;
    this.models = models;
    this.#queries = new ServerQueries(models, {
      version: VERSION, strictReadiness: options.strictReadiness, modelControlMode: options.modelControlMode,
    });
  }

  /** Loads the start-up models and opens the front ends. Throws if --exit-on-error and a model failed. */
  async start(): Promise<void> {
    const swept = sweepStaleSegments();
    if (swept.length > 0) logInfo("server", `removed ${swept.length} shared-memory segment(s) left by a server that is gone`);
    const caches = sweepStaleHandlerCaches();
    if (caches.length > 0) logInfo("server", `removed ${caches.length} handler cache folder(s) left by a server that is gone`);
    const o = this.options;
    const names = o.modelControlMode !== "explicit" || o.loadModels.includes("*") ? this.models.available() : o.loadModels;
    if (o.modelControlMode === "poll") {
      this.#poller = new RepositoryPoller(this.models, {
        repositories: this.models.repositories, intervalMs: (o.repositoryPollSecs ?? 15) * 1000, modelConfigName: o.modelConfigName,
        log: (level, source, message) => log(SEVERITY[level], source, message),
      });
      this.#poller.prime(names);
    }
    const results = await this.models.loadMany(names);
    for (const r of results) if (r.error) logError("model_manager", r.error.message);
    logInfo("server", formatModelTable(this.models.states()));
    this.#live = true;
    if (o.exitOnError && results.some((r) => r.error)) {
      throw startupLoadFailed();
    }
    this.#poller?.start();
    const openai = o.openaiPort !== undefined || o.openaiOnHttp ? this.#openaiFrontEnd() : null;
    if (o.allowHttp) {
      const ms = (secs: number | undefined) => (secs === undefined ? undefined : secs * 1000);
      this.#http = createHttpServer(this, {
        maxInputSize: o.httpMaxInputSize, restricted: o.httpRestrictedApi, headerForward: o.httpHeaderForward,
        headersTimeoutMs: ms(o.httpHeaderTimeoutSecs), requestTimeoutMs: ms(o.httpRequestTimeoutSecs),
        tracing: this.#trace,
        mount: o.openaiOnHttp && openai ? { handles: OpenAIFrontEnd.handles, handle: (req, res) => openai.handle(req, res) } : undefined,
        regions: this.regions,
      });
      await new Promise<void>((resolve, reject) => {
        this.#http!.once("error", reject);
        this.#http!.listen(o.httpPort, o.httpAddress, () => resolve());
      });
      const addr = this.#http.address();
      const where = typeof addr === "object" && addr ? `${addr.address}:${addr.port}` : String(addr);
      logInfo("server", `Started HTTPService at ${where}`);
      if (o.openaiOnHttp) logInfo("server", `Serving the OpenAI-compatible API at ${where}/v1`);
    }
    if (openai && o.openaiPort !== undefined) {
      this.#openai = createServer((req, res) => openai.handle(req, res));
      const server = this.#openai;
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(o.openaiPort, o.openaiAddress ?? o.httpAddress, () => resolve());
      });
      const addr = server.address();
      const where = typeof addr === "object" && addr ? `${addr.address}:${addr.port}` : String(addr);
      logInfo("server", `Started OpenAIService at ${where}`);
    }
    if (o.allowGrpc) {
      this.#grpc = new GrpcFrontEnd(this, {
        maxInputSize: o.grpcMaxInputSize ?? o.httpMaxInputSize, restricted: o.grpcRestrictedProtocol, headerForward: o.grpcHeaderForward,
        tracing: this.#trace,
        log: (line) => logError("grpc", line),
        regions: this.regions,
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
    // The drain: readiness is false from here on; with a drain delay, requests are still served
    // meanwhile, so that load balancers stop routing here before the listeners close.
    const drainMs = (this.options.drainDelaySecs ?? 0) * 1000;
    if (drainMs > 0) {
      logInfo("server", `Not ready; serving for ${this.options.drainDelaySecs} s more (--drain-delay-secs) before stopping`);
      await new Promise<void>((r) => setTimeout(r, drainMs));
    }
    this.#live = false;
    this.#pipeline.close();
    const http = this.#http;
    const httpClosed = new Promise<void>((r) => (http ? http.close(() => r()) : r()));
    const openai = this.#openai;
    const openaiClosed = new Promise<void>((r) => (openai ? openai.close(() => r()) : r()));
    // Stops accepting gRPC calls at once; open ones finish within the same exit timeout, plus the
    // moment it takes to write the errors that end streams still open then (models stop first).
    const grpcDown = this.#grpc?.shutdown(this.options.exitTimeoutSecs * 1000 + ANSWER_FLUSH_MS);
    this.#metrics?.stop();
    if (this.#pipeline.inFlight > 0) {
      logInfo("server", `Waiting for ${this.#pipeline.inFlight} in-flight request(s) to complete`);
      await Promise.race([
        this.#pipeline.whenIdle(),
        new Promise<void>((r) => setTimeout(r, this.options.exitTimeoutSecs * 1000).unref()),
      ]);
    }
    await this.#poller?.stop();
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
    if (openai) {
      openai.closeIdleConnections();
      await Promise.race([openaiClosed, new Promise<void>((r) => setTimeout(r, ANSWER_FLUSH_MS).unref())]);
      openai.closeAllConnections();
    }
    await grpcDown;
    this.regions.close();
    // The last traces: exported (OpenTelemetry) or written to the trace file.
    await this.#trace.shutdown().catch((err) => logError("trace", `flushing traces failed: ${(err as Error).message}`));
    logInfo("server", "all models unloaded; exiting");
  }

  // ---- ServerApi ----

  isLive(): boolean {
    return this.#live;
  }

  isReady(): boolean {
    return this.#queries.isReady(this.#live && !this.#stopping);
  }

  serverMetadata(): ServerMetadata {
    return this.#queries.serverMetadata();
  }

  modelReady(model: string, version?: string): boolean {
    return this.#queries.modelReady(model, version);
  }

  /** Handlers' isReady() (python_backend's is_ready), asked before a readiness answer. */
  async refreshReadiness(model?: string, version?: string): Promise<void> {
    if (model !== undefined) await this.models.checkReadiness(model, version);
    else if (this.options.strictReadiness) await this.models.checkReadiness();
  }

  modelMetadata(model: string, version?: string): ModelMetadata {
    return this.#queries.modelMetadata(model, version);
  }

  modelConfig(model: string, version?: string): Record<string, unknown> {
    return this.#queries.modelConfig(model, version);
  }

  repositoryIndex(options: { ready?: boolean }): ModelIndexEntry[] {
    return this.#queries.repositoryIndex(options);
  }

  loadModel(model: string, options: LoadOptions): Promise<void> {
    return this.#queries.loadModel(model, options);
  }

  unloadModel(model: string): Promise<void> {
    return this.#queries.unloadModel(model);
  }

  modelStatistics(model?: string, version?: string): ModelStatisticsResponse {
    return this.#queries.modelStatistics(model, version);
  }

  isDecoupled(model: string, version?: string): boolean {
    return this.#queries.isDecoupled(model, version);
  }

  infer(request: CoreRequest): Promise<CoreResponse> {
    return this.#pipeline.infer(request);
  }

  /**
   * Any model, one stream of responses: a decoupled model's as its handler sends them, any other
   * model's one response. Failures before the request is scheduled (unknown model, invalid
   * request, shutting down) throw here; later ones are items of the stream.
   */
  inferStream(request: CoreRequest): ResponseStream {
    return this.#pipeline.inferStream(request);
  }

  traceSetting(model: string | undefined, update: TraceUpdateWire | undefined): TraceSettingResponse {
    return this.#trace.traceSetting(model, update);
  }

  /** The repository API as handlers call it (late-bound: the queries exist once the constructor ends). */
  #modelControl(): ModelControl {
    return {
      load: (model, options) => this.#queries.loadModel(model, options),
      unload: (model) => this.#queries.unloadModel(model),
      isReady: (model, version) => this.#queries.modelReady(model, version),
    };
  }

  /**
   * The OpenAI front end over this ServerApi; it also gets each model's folder (for a
   * tokenizer_config.json chat template), keyed by the loaded version so a reload re-reads it.
   */
  #openaiFrontEnd(): OpenAIFrontEnd {
    return new OpenAIFrontEnd(this, {
      maxInputSize: this.options.httpMaxInputSize,
      modelFiles: (model) => {
        try {
          const v = this.models.resolve(model);
          return { dir: v.modelDir, version: String(v.version), identity: v };
        } catch {
          return undefined;
        }
      },
      log: (line) => logError("openai", line),
    });
  }

  /** The metrics' view of every loaded version, taken once per scrape. */
  #modelSamples(): ModelSample[] {
    return this.models.index(true).filter((e) => e.version !== undefined).map((e) => {
      const v = this.models.resolve(e.name, e.version);
      return {
        model: e.name, version: e.version!, stats: v.stats, queued: v.scheduler.queued, loadSeconds: v.loadSeconds,
        stubsAlive: v.backend?.instances.length ?? 0, stubRestarts: v.backend?.restartsTotal ?? 0,
        // Triton creates a model's nv_cache_* series only where the cache serves it.
        cached: this.#cache !== null && v.config.response_cache?.enable === true,
      };
    });
  }
}
