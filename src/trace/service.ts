/**
 * Tracing, wired once by the server: the trace settings (from the trace flags), the mode's sink
 * (OpenTelemetry export, or Triton's trace file), the pipeline stage that samples and reports
 * requests, and the trace extension's one operation (get, or update then get).
 */
import type { TraceGate, TraceSettingResponse, TraceUpdateWire } from "../core/server-api.js";
import { traceModelUnknown } from "../errors/index.js";
import { TritonFileSink } from "./file-sink.js";
import { OtelSink } from "./otel.js";
import { decodeTraceUpdate } from "./setting-request.js";
import { TraceSettings } from "./settings.js";
import { TraceStage } from "./stage.js";
import type { TraceConfig } from "./trace-config.js";

export interface TraceServiceOptions {
  /** Whether a model has a ready version (the extension refuses others, as Triton does). */
  modelReady(model: string): boolean;
  log?: (line: string) => void;
}

export class TraceService implements TraceGate {
  readonly settings: TraceSettings;
  readonly stage: TraceStage;
  readonly #modelReady: (model: string) => boolean;
  /**
   * Whether any request can ever be traced: OpenTelemetry mode, or Triton's mode with a trace file
   * (the file cannot be set later, and without one no setting can trace). Otherwise the server
   * leaves the stage out of the pipeline: the default server pays nothing at all for tracing.
   */
  readonly canTrace: boolean;

  constructor(config: TraceConfig, options: TraceServiceOptions) {
    this.settings = new TraceSettings(config);
    this.canTrace = config.mode === "opentelemetry" || config.values.file !== "";
    const sink = config.mode === "opentelemetry" ? new OtelSink(config.otel) : new TritonFileSink(options.log);
    this.stage = new TraceStage(this.settings, sink);
    this.#modelReady = options.modelReady;
  }

  /** Some setting traces: the front ends attach the client's trace context only then. */
  get active(): boolean {
    return this.settings.active;
  }

  /** GET (no update) or POST `/v2[/models/{m}]/trace/setting`, gRPC TraceSetting. */
  traceSetting(model: string | undefined, update: TraceUpdateWire | undefined): TraceSettingResponse {
    if (model !== undefined && !this.#modelReady(model)) throw traceModelUnknown(model);
    if (update !== undefined) this.settings.update(model, decodeTraceUpdate(update));
    return this.settings.response(model);
  }

  /** Writes or exports what is still buffered. */
  shutdown(): Promise<void> {
    return this.stage.shutdown();
  }
}
