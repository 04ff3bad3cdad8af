/**
 * The Prometheus families, with Triton's names, help texts, types and labels (model, version;
 * reason on failures), plus tessera's stub gauges.
 *
 * Values are read at scrape time from each loaded version's ModelStatistics (the numbers behind
 * the statistics extension), so /metrics and /v2/models/stats never disagree. Each collect()
 * rebuilds its family from the current versions: an unloaded version's series disappear, as
 * Triton removes a model's metrics when the model goes. Triton adds ns / 1000 per request; here
 * the total is divided once, which differs only by the sub-microsecond remainders.
 */
import { Counter, Gauge, Registry } from "prom-client";
import { FAILURE_REASONS, type ModelStatistics } from "../core/statistics.js";
import type { CpuSampler } from "./cpu.js";

/** What the metrics know of one loaded model version at scrape time. */
export interface ModelSample {
  model: string;
  version: string;
  stats: ModelStatistics;
  /** Requests queued, not yet executing. */
  queued: number;
  loadSeconds?: number;
  /** Stub processes that exist now (starting or serving). */
  stubsAlive: number;
  /** Stub replacements started since the version loaded. */
  stubRestarts: number;
  /** The response cache serves this version (server cache configured, response_cache enabled). */
  cached?: boolean;
}

type Labels = { model: string; version: string };
type Read = (s: ModelSample) => number | undefined;

const us = (ns: number) => Math.floor(ns / 1000);

/** Builds the registry; every family calls `models` on every scrape, so it should return a snapshot. */
export function createMetricsRegistry(models: () => ModelSample[], cpu: CpuSampler | null): Registry {
  const registry = new Registry();
  const labelNames = ["model", "version"] as const;

  // One series per loaded version, rebuilt from `read` on every scrape (undefined: no series).
  const perModel = (kind: "counter" | "gauge", name: string, help: string, read: Read) => {
    const each = (put: (labels: Labels, value: number) => void) => {
      for (const s of models()) {
        const value = read(s);
        if (value !== undefined) put({ model: s.model, version: s.version }, value);
      }
    };
    if (kind === "counter") {
      new Counter({ name, help, labelNames, registers: [registry], collect() {
        this.reset();
        each((labels, value) => this.inc(labels, value));
      } });
    } else {
      new Gauge({ name, help, labelNames, registers: [registry], collect() {
        this.reset();
        each((labels, value) => this.set(labels, value));
      } });
    }
  };

  perModel("counter", "nv_inference_request_success", "Number of successful inference requests, all batch sizes",
    (s) => s.stats.successCount);
  new Counter({
    name: "nv_inference_request_failure",
    help: "Number of failed inference requests, all batch sizes",
    labelNames: ["model", "reason", "version"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of models()) {
        for (const reason of FAILURE_REASONS) {
          this.inc({ model: s.model, reason, version: s.version }, s.stats.failureCount(reason));
        }
      }
    },
  });
  perModel("counter", "nv_inference_count", "Number of inferences performed (does not include cached requests)",
    (s) => s.stats.inferenceCount);
  perModel("counter", "nv_inference_exec_count", "Number of model executions performed (does not include cached requests)",
    (s) => s.stats.executionCount);
  perModel("counter", "nv_inference_request_duration_us",
    "Cumulative inference request duration in microseconds (includes cached requests)", (s) => us(s.stats.durations.request));
  perModel("counter", "nv_inference_queue_duration_us",
    "Cumulative inference queuing duration in microseconds (includes cached requests)", (s) => us(s.stats.durations.queue));
  perModel("counter", "nv_inference_compute_input_duration_us",
    "Cumulative compute input duration in microseconds (does not include cached requests)", (s) => us(s.stats.durations.input));
  perModel("counter", "nv_inference_compute_infer_duration_us",
    "Cumulative compute inference duration in microseconds (does not include cached requests)", (s) => us(s.stats.durations.infer));
  perModel("counter", "nv_inference_compute_output_duration_us",
    "Cumulative inference compute output duration in microseconds (does not include cached requests)",
    (s) => us(s.stats.durations.output));
  // The response cache's (Triton's per-model cache families, in microseconds), for cached versions only.
  const cached = (read: (c: ModelStatistics["cache"]) => number): Read => (s) => (s.cached ? read(s.stats.cache) : undefined);
  perModel("counter", "nv_cache_num_hits_per_model", "Number of cache hits per model", cached((c) => c.hits));
  perModel("counter", "nv_cache_hit_duration_per_model", "Total cache hit duration per model, in microseconds", cached((c) => us(c.hitNs)));
  perModel("counter", "nv_cache_num_misses_per_model", "Number of cache misses per model", cached((c) => c.misses));
  perModel("counter", "nv_cache_miss_duration_per_model", "Total cache miss (insert+lookup) duration per model, in microseconds",
    cached((c) => us(c.missNs)));
  perModel("gauge", "nv_inference_pending_request_count",
    "Instantaneous number of pending requests awaiting execution per-model.", (s) => s.queued);
  perModel("gauge", "nv_model_load_duration_secs", "Model load time in seconds", (s) => s.loadSeconds);

  if (cpu) {
    const system = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
    system("nv_cpu_utilization", "CPU utilization rate [0.0 - 1.0]", () => cpu.reading.utilization);
    system("nv_cpu_memory_total_bytes", "CPU total memory (RAM), in bytes", () => cpu.reading.totalBytes);
    system("nv_cpu_memory_used_bytes", "CPU used memory (RAM), in bytes", () => cpu.reading.usedBytes);
  }

  // tessera's own: the health of the out-of-process instances behind each version.
  perModel("gauge", "tessera_stub_processes_alive", "Number of stub processes of the model version that are running",
    (s) => s.stubsAlive);
  perModel("counter", "tessera_stub_restarts_total",
    "Number of stub processes of the model version restarted after they died", (s) => s.stubRestarts);
  return registry;
}
