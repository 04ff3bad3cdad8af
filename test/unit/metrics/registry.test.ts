import { describe, expect, it } from "vitest";
import { ModelStatistics, type CallTiming } from "../../../src/core/statistics.js";
import { CpuSampler } from "../../../src/metrics/cpu.js";
import { createMetricsRegistry, type ModelSample } from "../../../src/metrics/registry.js";

function sample(model: string, over: Partial<ModelSample> = {}): ModelSample {
  return { model, version: "1", stats: new ModelStatistics(), queued: 0, loadSeconds: 0.25, stubsAlive: 1, stubRestarts: 0, ...over };
}

/** Series lines of a family: "name{labels} value". */
const series = (text: string, name: string) => text.split("\n").filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe("metrics registry", () => {
  it("renders each version's statistics under Triton's names and labels, counters in µs", async () => {
    const stats = new ModelStatistics();
    const call: CallTiming = { requests: [], inputNs: 1_500, inferNs: 2_000_999, outputNs: 999, waitNs: 0 };
    stats.recordSuccess({ startNs: 0, enqueuedNs: 0, dispatchedNs: 7_000, call }, 2, 3_000_000);
    stats.recordExecution(call, 2);
    stats.recordFailure({ startNs: 0 }, "REJECTED", 10);
    stats.recordFailure({ startNs: 0 }, "BACKEND", 10);
    stats.recordFailure({ startNs: 0 }, "BACKEND", 10);
    const models = [sample("a", { stats, queued: 3, stubRestarts: 2 }), sample("b", { loadSeconds: undefined, stubsAlive: 0 })];
    const text = await createMetricsRegistry(() => models, null).metrics();

    expect(series(text, "nv_inference_request_success")).toEqual([
      'nv_inference_request_success{model="a",version="1"} 1', 'nv_inference_request_success{model="b",version="1"} 0']);
    expect(series(text, "nv_inference_request_failure").slice(0, 4)).toEqual([
      'nv_inference_request_failure{model="a",reason="REJECTED",version="1"} 1',
      'nv_inference_request_failure{model="a",reason="CANCELED",version="1"} 0',
      'nv_inference_request_failure{model="a",reason="BACKEND",version="1"} 2',
      'nv_inference_request_failure{model="a",reason="OTHER",version="1"} 0',
    ]);
    expect(series(text, "nv_inference_count")[0]).toBe('nv_inference_count{model="a",version="1"} 2');
    expect(series(text, "nv_inference_exec_count")[0]).toBe('nv_inference_exec_count{model="a",version="1"} 1');
    expect(series(text, "nv_inference_request_duration_us")[0]).toBe('nv_inference_request_duration_us{model="a",version="1"} 3000');
    expect(series(text, "nv_inference_queue_duration_us")[0]).toBe('nv_inference_queue_duration_us{model="a",version="1"} 7');
    expect(series(text, "nv_inference_compute_input_duration_us")[0]).toBe('nv_inference_compute_input_duration_us{model="a",version="1"} 1');
    expect(series(text, "nv_inference_compute_infer_duration_us")[0]).toBe('nv_inference_compute_infer_duration_us{model="a",version="1"} 2000');
    expect(series(text, "nv_inference_compute_output_duration_us")[0]).toBe('nv_inference_compute_output_duration_us{model="a",version="1"} 0');
    expect(series(text, "nv_inference_pending_request_count")[0]).toBe('nv_inference_pending_request_count{model="a",version="1"} 3');
    // A version whose load time is unknown has no load-time series.
    expect(series(text, "nv_model_load_duration_secs")).toEqual(['nv_model_load_duration_secs{model="a",version="1"} 0.25']);
    expect(series(text, "tessera_stub_processes_alive")).toEqual([
      'tessera_stub_processes_alive{model="a",version="1"} 1', 'tessera_stub_processes_alive{model="b",version="1"} 0']);
    expect(series(text, "tessera_stub_restarts_total")[0]).toBe('tessera_stub_restarts_total{model="a",version="1"} 2');
    expect(text).toContain("# TYPE nv_inference_request_failure counter\n");
    expect(text).toContain("# TYPE nv_model_load_duration_secs gauge\n");
    expect(text).toContain("# HELP nv_inference_exec_count Number of model executions performed (does not include cached requests)\n");
    expect(text).not.toContain("nv_cpu_");
  });

  it("follows the loaded versions from scrape to scrape", async () => {
    let models = [sample("a"), sample("b")];
    const registry = createMetricsRegistry(() => models, null);
    expect(series(await registry.metrics(), "nv_inference_count")).toHaveLength(2);
    models = [sample("b")];
    const text = await registry.metrics();
    expect(series(text, "nv_inference_count")).toEqual(['nv_inference_count{model="b",version="1"} 0']);
    expect(series(text, "nv_inference_request_failure")).toHaveLength(4);
    models = [];
    expect(series(await registry.metrics(), "nv_inference_count")).toEqual([]);
  });

  it("adds the CPU gauges from the sampler", async () => {
    const cpu = new CpuSampler();
    cpu.reading = { utilization: 0.5, totalBytes: 1000, usedBytes: 400 };
    const text = await createMetricsRegistry(() => [], cpu).metrics();
    expect(series(text, "nv_cpu_utilization")).toEqual(["nv_cpu_utilization 0.5"]);
    expect(series(text, "nv_cpu_memory_total_bytes")).toEqual(["nv_cpu_memory_total_bytes 1000"]);
    expect(series(text, "nv_cpu_memory_used_bytes")).toEqual(["nv_cpu_memory_used_bytes 400"]);
    expect(text).toContain("# HELP nv_cpu_utilization CPU utilization rate [0.0 - 1.0]\n");
  });
});
