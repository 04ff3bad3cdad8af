/**
 * tritonserver's flags → ServerOptions, and the process around the server: start, signals,
 * exit codes. `node server.js --help` lists every flag.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { configureLogging, logError, logInfo, type LogFormat } from "./logging.js";
import { DEFAULT_STUB_OPTIONS, type StubBackendOptions } from "./backends/stub/stub-model.js";
import { HeaderForward } from "./core/header-forward.js";
import { cacheSettingsFrom, type CacheSettings } from "./cache/cache-config.js";
import { GRPC_RESTRICTED_HEADER_PREFIX, RESTRICTED_CATEGORIES, RestrictedFeatures } from "./core/restricted.js";
import { TesseraServer, VERSION, type ServerOptions } from "./server.js";
import { envHelp, withEnvArgs } from "./deploy/env-args.js";
import { parseTraceFlags, type TraceConfig } from "./trace/trace-config.js";

const STUB_BACKEND_NAMES = new Set(["python", "typescript", "ts"]);

function bool(value: string): boolean {
  const v = value.toLowerCase();
  if (["true", "1", "yes", "on"].includes(v)) return true;
  if (["false", "0", "no", "off"].includes(v)) return false;
  throw new InvalidArgumentError(`expected true or false, got '${value}'`);
}

function int(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}, got '${value}'`);
    return n;
  };
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** A non-negative number of seconds (fractions allowed beyond Triton's integer, for quick polls). */
function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number of seconds >= 0, got '${value}'`);
  return n;
}

/** --backend-config=python,shm-default-byte-size=N (the stub backend answers to python, typescript, ts). */
export function stubOptionsFrom(settings: readonly string[]): Partial<StubBackendOptions> {
  const out: Partial<StubBackendOptions> = {};
  for (const s of settings) {
    const m = /^([^,]+),([^=]+)=(.*)$/.exec(s);
    if (!m) throw new InvalidArgumentError(`--backend-config expects <backend>,<setting>=<value>, got '${s}'`);
    const [, backend, key, value] = m;
    if (!STUB_BACKEND_NAMES.has(backend)) continue; // settings for other backends are theirs
    const n = Number(value);
    const positive = () => {
      if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`--backend-config ${backend},${key}: expected a positive number, got '${value}'`);
      return n;
    };
    switch (key) {
      case "shm-default-byte-size": out.arenaBytes = Math.floor(positive()); break;
      case "shm-growth-byte-size": out.growthBytes = Math.floor(positive()); break;
      case "stub-timeout-seconds": out.stubTimeoutMs = Math.floor(positive() * 1000); break;
      case "heartbeat-interval-ms": out.heartbeatMs = Math.floor(positive()); break;
      case "shm-message-queue-size": {
        const q = 2 ** Math.ceil(Math.log2(positive())); // the ring needs a power of two
        out.queueCapacity = q;
        break;
      }
      default: throw new InvalidArgumentError(`--backend-config: unknown setting '${key}' for backend '${backend}'`);
    }
  }
  return out;
}

/** Triton's --log-* flags, beside the server's options. */
export interface LogFlags {
  logVerbose: number;
  logFile: string | null;
  logInfo: boolean;
  logWarning: boolean;
  logError: boolean;
  logFormat: LogFormat;
}

export function parseArgs(argv: readonly string[]): ServerOptions & LogFlags {
  const program = new Command("tessera")
    .description("A Triton-compatible inference server: KServe v2 HTTP, model.ts handlers in stub processes")
    .version(VERSION)
    .requiredOption("--model-repository <path>", "model repository folder (repeatable)", collect, [])
    .option("--http-port <port>", "HTTP port (0 = any free port)", int(0), 8000)
    .option("--http-address <address>", "HTTP listen address", "0.0.0.0")
    .option("--grpc-port <port>", "gRPC port (0 = any free port)", int(0), 8001)
    .option("--grpc-address <address>", "gRPC listen address", "0.0.0.0")
    .option("--metrics-port <port>", "metrics port", int(0), 8002)
    .option("--metrics-address <address>", "metrics listen address (default: --http-address when HTTP is served, else 0.0.0.0)")
    .option("--metrics-interval-ms <ms>", "how often polled metrics (CPU) are refreshed", int(1), 2000)
    .option("--allow-cpu-metrics <bool>", "serve CPU utilization and memory metrics", bool, true)
    .option("--allow-gpu-metrics <bool>", "accepted for tritonserver compatibility; there are no GPU metrics", bool, true)
    .option("--allow-http <bool>", "serve HTTP", bool, true)
    .option("--allow-grpc <bool>", "serve gRPC", bool, true)
    .option("--allow-metrics <bool>", "serve Prometheus metrics", bool, true)
    .option("--allow-client-shm <bool>", "let clients register system shared-memory regions (off by default, as Triton)", bool, false)
    .addOption(new Option("--model-control-mode <mode>", "none: load everything at start; explicit: load/unload API; poll: load everything, then apply repository changes every --repository-poll-secs").choices(["none", "explicit", "poll"]).default("none"))
    .option("--repository-poll-secs <seconds>", "poll mode: seconds between polls of the model repository (0: none)", seconds, 15)
    .option("--model-config-name <name>", "load each model's configs/<name>.pbtxt instead of config.pbtxt where it exists")
    .option("--load-model <name>", "model to load at start in explicit mode (repeatable, * for all)", collect, [])
    .option("--strict-model-config <bool>", "require config.pbtxt; no auto-complete", bool, false)
    .option("--disable-auto-complete-config", "same as --strict-model-config=true")
    .option("--exit-on-error <bool>", "exit if any model fails to load at start", bool, true)
    .option("--strict-readiness <bool>", "ready only when every model is ready", bool, true)
    .option("--exit-timeout-secs <seconds>", "how long shutdown waits for in-flight requests", int(0), 30)
    .option("--drain-delay-secs <seconds>", "on SIGTERM: seconds to keep serving while not ready, so load balancers stop routing first", seconds, 0)
    .option("--log-verbose <level>", "verbose logging level", int(0), 0)
    .option("--log-file <path>", "write the log to this file")
    .option("--log-info <bool>", "write INFO lines", bool, true)
    .option("--log-warning <bool>", "write WARNING lines", bool, true)
    .option("--log-error <bool>", "write ERROR lines", bool, true)
    .addOption(new Option("--log-format <format>", "log line format: Triton's default or ISO8601, or json (JSON lines)").choices(["default", "ISO8601", "json"]).default("default"))
    .option("--backend-config <backend,setting=value>", "backend setting (repeatable), e.g. python,shm-default-byte-size=1048576", collect, [])
    .option("--http-max-input-size <bytes>", "largest HTTP request body accepted", int(1), 64 * 1024 * 1024)
    .option("--http-header-timeout-secs <seconds>", "time a client has to send its request headers (0 = no limit)", int(0), 30)
    .option("--http-request-timeout-secs <seconds>", "time a client has to send its whole request, body included (0 = no limit)", int(0), 60)
    .option("--http-restricted-api <apis:key=value>", `serve these APIs only to requests with header key=value (repeatable); APIs: ${RESTRICTED_CATEGORIES.join(", ")}`, collect, [])
    .option("--grpc-max-input-size <bytes>", "largest gRPC message accepted (default: --http-max-input-size)", int(1))
    .option("--grpc-restricted-protocol <protocols:key=value>", `serve these protocols only to calls with metadata triton-grpc-protocol-<key>=value (repeatable); protocols: ${RESTRICTED_CATEGORIES.join(", ")}`, collect, [])
    .option("--http-header-forward-pattern <regex>", "forward HTTP headers whose name matches (case-insensitive; (?-i) prefix: case-sensitive) as request parameters")
    .option("--grpc-header-forward-pattern <regex>", "forward gRPC metadata whose key matches (case-insensitive; (?-i) prefix: case-sensitive) as request parameters")
    .option("--openai-port <port>", "serve the OpenAI-compatible API on this port (0 = any free port); off unless given", int(0))
    .option("--openai-address <address>", "OpenAI-compatible API listen address (default: --http-address)")
    .option("--openai-on-http [bool]", "serve the OpenAI-compatible API on the HTTP port too, under /v1", bool, false)
    .option("--cache-config <cache,setting=value>", "response cache setting (repeatable): local,size=<bytes>", collect, [])
    .option("--response-cache-byte-size <bytes>", "DEPRECATED: Please use --cache-config instead.")
    .addHelpText("after", envHelp())
    // Tracing (docs/tracing.md): tritonserver's flag, and its deprecated forms.
    .option("--trace-config <[mode,]setting=value>", "trace setting (repeatable): rate=N, level=OFF|TIMESTAMPS|TENSORS, count=N, mode=triton|opentelemetry; triton,file=PATH, triton,log-frequency=N; opentelemetry,url=URL, opentelemetry,resource=KEY=VALUE, opentelemetry,bsp_max_queue_size=N, ...", collect, [])
    .option("--trace-file <path>", "DEPRECATED: use --trace-config triton,file=<path>")
    .option("--trace-level <level>", "DEPRECATED: use --trace-config level=<OFF|TIMESTAMPS|TENSORS> (repeatable)", collect, [])
    .option("--trace-rate <n>", "DEPRECATED: use --trace-config rate=<n>")
    .option("--trace-count <n>", "DEPRECATED: use --trace-config count=<n>")
    .option("--trace-log-frequency <n>", "DEPRECATED: use --trace-config triton,log-frequency=<n>")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  // tritonserver accepts both --flag=value and --flag value; commander does too.
  program.parse(argv, { from: "user" });
  const o = program.opts();
  // requiredOption is satisfied by the repeatable flag's [] default: check it here, as tritonserver does.
  if (o.modelRepository.length === 0) program.error("error: --model-repository must be specified");
  let stub: Partial<StubBackendOptions> = {};
  let httpRestrictedApi: RestrictedFeatures;
  let grpcRestrictedProtocol: RestrictedFeatures;
  let httpHeaderForward: HeaderForward | undefined;
  let grpcHeaderForward: HeaderForward | undefined;
  let cache: CacheSettings | null = null;
  let trace: TraceConfig;
  try {
    cache = cacheSettingsFrom(o.cacheConfig, o.responseCacheByteSize);
    trace = parseTraceFlags({
      traceConfig: o.traceConfig, traceFile: o.traceFile, traceLevel: o.traceLevel, traceRate: o.traceRate,
      traceCount: o.traceCount, traceLogFrequency: o.traceLogFrequency,
    });
    for (const w of trace.warnings) process.stderr.write(`${w}\n`);
    // Triton forwards nothing for an empty pattern (header_forward_pattern_.empty()).
    if (o.httpHeaderForwardPattern) httpHeaderForward = new HeaderForward(o.httpHeaderForwardPattern, "http-header-forward-pattern");
    if (o.grpcHeaderForwardPattern) grpcHeaderForward = new HeaderForward(o.grpcHeaderForwardPattern, "grpc-header-forward-pattern");
    stub = stubOptionsFrom(o.backendConfig);
    httpRestrictedApi = new RestrictedFeatures(o.httpRestrictedApi, { option: "http-restricted-api", feature: "api" });
    grpcRestrictedProtocol = new RestrictedFeatures(o.grpcRestrictedProtocol, {
      option: "grpc-restricted-protocol", feature: "protocol", headerPrefix: GRPC_RESTRICTED_HEADER_PREFIX,
    });
  } catch (err) {
    // Reported like commander's own errors: printed, then thrown with exitCode 1.
    program.error(`error: ${(err as Error).message}`);
  }
  return {
    modelRepositories: o.modelRepository,
    httpPort: o.httpPort,
    httpAddress: o.httpAddress,
    grpcPort: o.grpcPort,
    grpcAddress: o.grpcAddress,
    metricsPort: o.metricsPort,
    metricsAddress: o.metricsAddress,
    metricsIntervalMs: o.metricsIntervalMs,
    allowCpuMetrics: o.allowCpuMetrics,
    allowGpuMetrics: o.allowGpuMetrics,
    allowHttp: o.allowHttp,
    allowGrpc: o.allowGrpc,
    allowMetrics: o.allowMetrics,
    allowClientShm: o.allowClientShm,
    modelControlMode: o.modelControlMode,
    repositoryPollSecs: o.repositoryPollSecs,
    ...(o.modelConfigName ? { modelConfigName: o.modelConfigName } : {}),
    loadModels: o.loadModel,
    strictModelConfig: o.strictModelConfig || Boolean(o.disableAutoCompleteConfig),
    exitOnError: o.exitOnError,
    strictReadiness: o.strictReadiness,
    exitTimeoutSecs: o.exitTimeoutSecs,
    drainDelaySecs: o.drainDelaySecs,
    httpMaxInputSize: o.httpMaxInputSize,
    grpcMaxInputSize: o.grpcMaxInputSize ?? o.httpMaxInputSize,
    httpHeaderTimeoutSecs: o.httpHeaderTimeoutSecs,
    httpRequestTimeoutSecs: o.httpRequestTimeoutSecs,
    httpRestrictedApi: httpRestrictedApi!,
    grpcRestrictedProtocol: grpcRestrictedProtocol!,
    ...(httpHeaderForward ? { httpHeaderForward } : {}),
    ...(grpcHeaderForward ? { grpcHeaderForward } : {}),
    openaiPort: o.openaiPort,
    openaiAddress: o.openaiAddress,
    openaiOnHttp: o.openaiOnHttp,
    stub: { ...DEFAULT_STUB_OPTIONS, ...stub },
    ...(cache ? { cache } : {}),
    trace: trace!,
    logVerbose: o.logVerbose,
    logFile: o.logFile ?? null,
    logInfo: o.logInfo,
    logWarning: o.logWarning,
    logError: o.logError,
    logFormat: o.logFormat,
  };
}

const CODE_NAMES: Record<string, string> = {
  UNKNOWN: "Unknown", INTERNAL: "Internal", NOT_FOUND: "Not found", INVALID_ARG: "Invalid argument",
  UNAVAILABLE: "Unavailable", UNSUPPORTED: "Unsupported", ALREADY_EXISTS: "Already exists", CANCELLED: "Cancelled",
};

function errorCodeName(err: unknown): string {
  return CODE_NAMES[(err as { code?: string }).code ?? ""] ?? "Internal";
}

/** The whole process: returns the exit code once the server has stopped. */
export async function run(argv: readonly string[]): Promise<number> {
  let options: ReturnType<typeof parseArgs>;
  try {
    // TESSERA_* variables stand for flags the command line does not give (src/deploy/env-args.ts).
    options = parseArgs(withEnvArgs(argv, process.env));
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return 0;
    return e.exitCode ?? 1;
  }
  configureLogging({
    verbose: options.logVerbose, file: options.logFile, info: options.logInfo, warning: options.logWarning,
    error: options.logError, format: options.logFormat,
  });
  const server = new TesseraServer(options);
  let stopping: Promise<void> | null = null;
  const stop = (signal: string) => {
    if (stopping) {
      logError("server", `${signal} again: exiting now`);
      process.exit(1);
    }
    logInfo("server", `${signal} received: stopping (in-flight requests finish first)`);
    stopping = server.stop();
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  try {
    await server.start();
  } catch (err) {
    // Triton's shape: "error: creating server: Internal - <message>".
    logError("server", `error: creating server: ${errorCodeName(err)} - ${(err as Error).message}`);
    await server.stop();
    return 1;
  }
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (stopping) {
        clearInterval(check);
        stopping.then(resolve, resolve);
      }
    }, 50);
  });
  return 0;
}
