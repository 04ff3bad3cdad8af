/**
 * --trace-config mode=opentelemetry: traced requests become spans, exported over OTLP/HTTP (JSON)
 * through the OpenTelemetry JS SDK's batch span processor, as Triton's OpenTelemetry mode exports
 * them (server src/tracer.cc):
 *  - "InferRequest", the top-level span, a child of the client's propagated context if it sent one;
 *  - a span named after the model (attributes triton.model_name, triton.model_version,
 *    triton.trace_id, triton.trace_parent_id, triton.request_id), a child of InferRequest, or of
 *    its ensemble's model span for an ensemble's step; events REQUEST_START, QUEUE_START, REQUEST_END;
 *  - "compute", a child of the model span; events COMPUTE_START, COMPUTE_INPUT_END,
 *    COMPUTE_OUTPUT_START, COMPUTE_END.
 * Beyond Triton, the queue and the three compute phases are spans too ("queue" under the model
 * span; "compute_input", "compute_infer", "compute_output" under compute), so a trace viewer shows
 * where the time went without reading events. compute_infer is the handler's execute() as the stub
 * measured it.
 *
 * Spans are started when the request is admitted and ended when it settles, with the request's own
 * timestamps (a monotonic clock, placed on the wall clock by performance.timeOrigin).
 */
import { ROOT_CONTEXT, SpanKind, trace, type Context, type HrTime, type Span, type Tracer } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { ServerError } from "../errors/index.js";
import type { TraceRecord, TraceSink, TraceTimeline } from "./stage.js";
import type { OtelConfig } from "./trace-config.js";

/** Triton's tracer name (kTritonTracer). */
const TRACER_NAME = "triton-server";

const ORIGIN_MS = performance.timeOrigin;

/** How long shutdown waits for the last export. */
const SHUTDOWN_FLUSH_MS = 2000;

/** A nowNs timestamp (ns on performance.now()'s clock) as OpenTelemetry's [seconds, nanoseconds] since the epoch. */
export function hrTimeOf(ns: number): HrTime {
  const ms = ORIGIN_MS + ns / 1e6;
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.min(999_999_999, Math.max(0, Math.round((ms - seconds * 1000) * 1e6)));
  return [seconds, nanos];
}

interface Spans {
  root: Span | undefined;
  model: Span;
}

const GETTER = {
  keys: (carrier: Record<string, string>) => Object.keys(carrier),
  get: (carrier: Record<string, string>, key: string) => carrier[key],
};

export class OtelSink implements TraceSink {
  readonly #provider: BasicTracerProvider;
  readonly #tracer: Tracer;
  readonly #propagator = new W3CTraceContextPropagator();

  constructor(config: OtelConfig) {
    const exporter = new OTLPTraceExporter({ url: config.url });
    this.#provider = new BasicTracerProvider({
      resource: resourceFromAttributes(config.resource),
      // Sampling is the trace settings' (rate, count, propagated context): every span made is kept.
      sampler: new AlwaysOnSampler(),
      spanProcessors: [new BatchSpanProcessor(exporter, {
        maxQueueSize: config.maxQueueSize,
        scheduledDelayMillis: config.scheduleDelayMs,
        maxExportBatchSize: Math.min(config.maxExportBatchSize, config.maxQueueSize),
      })],
    });
    this.#tracer = this.#provider.getTracer(TRACER_NAME);
  }

  begin(record: TraceRecord): void {
    let parent: Context;
    let root: Span | undefined;
    if (record.parent !== undefined) {
      parent = trace.setSpan(ROOT_CONTEXT, (record.parent.handle as Spans).model);
    } else {
      let client = ROOT_CONTEXT;
      const c = record.context;
      if (c?.traceparent !== undefined) {
        const carrier: Record<string, string> = { traceparent: c.traceparent };
        if (c.tracestate !== undefined) carrier.tracestate = c.tracestate;
        client = this.#propagator.extract(ROOT_CONTEXT, carrier, GETTER);
      }
      root = this.#tracer.startSpan("InferRequest", { kind: SpanKind.SERVER, startTime: hrTimeOf(record.startNs) }, client);
      parent = trace.setSpan(ROOT_CONTEXT, root);
    }
    const attributes: Record<string, string | number> = {
      "triton.model_name": record.model,
      "triton.model_version": record.version,
      "triton.trace_id": record.id,
      "triton.trace_parent_id": record.parentId,
    };
    if (record.requestId !== "") attributes["triton.request_id"] = record.requestId;
    const model = this.#tracer.startSpan(record.model, { kind: SpanKind.SERVER, startTime: hrTimeOf(record.requestStartNs), attributes }, parent);
    record.handle = { root, model } satisfies Spans;
  }

  end(record: TraceRecord, t: TraceTimeline, error: ServerError | undefined): void {
    const { root, model } = record.handle as Spans;
    model.addEvent("REQUEST_START", hrTimeOf(t.REQUEST_START));
    const inModel = trace.setSpan(ROOT_CONTEXT, model);
    if (t.QUEUE_START !== undefined) {
      model.addEvent("QUEUE_START", hrTimeOf(t.QUEUE_START));
      const queueEnd = t.COMPUTE_START ?? t.REQUEST_END;
      this.#span("queue", t.QUEUE_START, queueEnd, inModel);
    }
    if (t.COMPUTE_START !== undefined && t.COMPUTE_END !== undefined) {
      const compute = this.#tracer.startSpan("compute", { kind: SpanKind.SERVER, startTime: hrTimeOf(t.COMPUTE_START) }, inModel);
      compute.addEvent("COMPUTE_START", hrTimeOf(t.COMPUTE_START));
      compute.addEvent("COMPUTE_INPUT_END", hrTimeOf(t.COMPUTE_INPUT_END!));
      compute.addEvent("COMPUTE_OUTPUT_START", hrTimeOf(t.COMPUTE_OUTPUT_START!));
      compute.addEvent("COMPUTE_END", hrTimeOf(t.COMPUTE_END));
      const inCompute = trace.setSpan(ROOT_CONTEXT, compute);
      this.#span("compute_input", t.COMPUTE_START, t.COMPUTE_INPUT_END!, inCompute);
      this.#span("compute_infer", t.INFER_START!, t.COMPUTE_OUTPUT_START!, inCompute);
      this.#span("compute_output", t.COMPUTE_OUTPUT_START!, t.COMPUTE_END, inCompute);
      compute.end(hrTimeOf(t.COMPUTE_END));
    }
    model.addEvent("REQUEST_END", hrTimeOf(t.REQUEST_END));
    if (error !== undefined) {
      // SpanStatusCode.ERROR; the text a client got.
      model.setStatus({ code: 2, message: error.message });
    }
    model.end(hrTimeOf(t.REQUEST_END));
    root?.end(hrTimeOf(t.REQUEST_END));
  }

  #span(name: string, startNs: number, endNs: number, parent: Context): void {
    this.#tracer.startSpan(name, { kind: SpanKind.SERVER, startTime: hrTimeOf(startNs) }, parent).end(hrTimeOf(Math.max(startNs, endNs)));
  }

  /**
   * Exports what is still queued, then stops the exporter; bounded, so that an unreachable
   * collector (the exporter retries) does not hold up the server's exit.
   */
  async shutdown(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#provider.shutdown(),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_FLUSH_MS).unref())),
    ]);
    clearTimeout(timer);
  }
}

