/**
 * Prometheus metrics against the real server: Triton's families (names, help, types, labels) on
 * --metrics-port, counts equal to the statistics endpoint's, the failure reasons, the pending
 * gauge, the stub restart counter after a SIGKILL, and the service closing with the server.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "./harness.js";
import { STATS_REPO, infer, metricType, metricValue, metricsUrl, modelStat, scrape } from "./stats-helpers.js";
import { sleep, waitUntil } from "./stub-helpers.js";

const METRICS = ["--allow-metrics", "true", "--metrics-port", "0"];
const MODELS = ["batcher", "limited", "slow"];

let server: RunningServer;
let url: string;
beforeAll(async () => {
  server = await startServer(STATS_REPO, { args: METRICS });
  url = await metricsUrl(server);
});
afterAll(async () => {
  await server?.stop();
});

const v1 = (model: string) => ({ model, version: "1" });

describe("metrics endpoint", () => {
  it("serves Triton's families with their help texts, types and labels", async () => {
    // --metrics-address defaults to --http-address when HTTP is served (the harness: 127.0.0.1).
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();

    const counters = ["nv_inference_request_success", "nv_inference_request_failure", "nv_inference_count",
      "nv_inference_exec_count", "nv_inference_request_duration_us", "nv_inference_queue_duration_us",
      "nv_inference_compute_input_duration_us", "nv_inference_compute_infer_duration_us",
      "nv_inference_compute_output_duration_us", "tessera_stub_restarts_total"];
    const gauges = ["nv_inference_pending_request_count", "nv_model_load_duration_secs", "nv_cpu_utilization",
      "nv_cpu_memory_total_bytes", "nv_cpu_memory_used_bytes", "tessera_stub_processes_alive"];
    for (const n of counters) expect(metricType(text, n), n).toBe("counter");
    for (const n of gauges) expect(metricType(text, n), n).toBe("gauge");
    expect(text).toContain("# HELP nv_inference_request_success Number of successful inference requests, all batch sizes\n");
    expect(text).toContain("# HELP nv_inference_pending_request_count Instantaneous number of pending requests awaiting execution per-model.\n");
    expect(text).toContain("# HELP nv_inference_compute_output_duration_us Cumulative inference compute output duration in microseconds (does not include cached requests)\n");
    expect(text).toContain("# HELP nv_cpu_memory_used_bytes CPU used memory (RAM), in bytes\n");

    for (const m of MODELS) {
      for (const reason of ["REJECTED", "CANCELED", "BACKEND", "OTHER"]) {
        expect(metricValue(text, "nv_inference_request_failure", { ...v1(m), reason }), `${m} ${reason}`).toBe(0);
      }
      expect(metricValue(text, "nv_inference_pending_request_count", v1(m))).toBe(0);
      expect(metricValue(text, "nv_model_load_duration_secs", v1(m))).toBeGreaterThan(0);
      expect(metricValue(text, "tessera_stub_processes_alive", v1(m))).toBe(1);
      expect(metricValue(text, "tessera_stub_restarts_total", v1(m))).toBe(0);
    }
    const total = metricValue(text, "nv_cpu_memory_total_bytes")!;
    expect(total).toBeGreaterThan(0);
    expect(metricValue(text, "nv_cpu_memory_used_bytes")).toBeLessThanOrEqual(total);
    const cpu = metricValue(text, "nv_cpu_utilization")!;
    expect(cpu >= 0 && cpu <= 1).toBe(true);
    expect((await fetch(url.replace(/\/metrics$/, "/other"))).status).toBe(404);
  });

  it("counts what the statistics endpoint counts, failures by reason", async () => {
    for (let i = 0; i < 3; i++) expect((await infer(server, "slow")).status).toBe(200);
    expect((await infer(server, "slow", { parameters: { fail: "call" } })).status).toBe(500);
    expect((await infer(server, "slow", { badShape: true })).status).toBe(400);
    const batched = await Promise.all([0, 1, 2, 3].map(() => infer(server, "batcher", { rows: 1 })));
    expect(batched.map((b) => b.status)).toEqual([200, 200, 200, 200]);

    const text = await scrape(url);
    for (const m of ["slow", "batcher"]) {
      const s = await modelStat(server, m);
      const value = (name: string) => metricValue(text, name, v1(m));
      const failures = ["REJECTED", "CANCELED", "BACKEND", "OTHER"]
        .reduce((n, reason) => n + metricValue(text, "nv_inference_request_failure", { ...v1(m), reason })!, 0);
      expect(value("nv_inference_request_success"), m).toBe(s.inference_stats.success.count);
      expect(failures, m).toBe(s.inference_stats.fail.count);
      expect(value("nv_inference_count"), m).toBe(s.inference_count);
      expect(value("nv_inference_exec_count"), m).toBe(s.execution_count);
      const us = (ns: number) => Math.floor(ns / 1000);
      expect(value("nv_inference_request_duration_us"), m).toBe(us(s.inference_stats.success.ns));
      expect(value("nv_inference_queue_duration_us"), m).toBe(us(s.inference_stats.queue.ns));
      expect(value("nv_inference_compute_input_duration_us"), m).toBe(us(s.inference_stats.compute_input.ns));
      expect(value("nv_inference_compute_infer_duration_us"), m).toBe(us(s.inference_stats.compute_infer.ns));
      expect(value("nv_inference_compute_output_duration_us"), m).toBe(us(s.inference_stats.compute_output.ns));
    }
    expect(metricValue(text, "nv_inference_request_success", v1("slow"))).toBe(3);
    expect(metricValue(text, "nv_inference_request_failure", { ...v1("slow"), reason: "BACKEND" })).toBe(1);
    expect(metricValue(text, "nv_inference_request_failure", { ...v1("slow"), reason: "OTHER" })).toBe(1);
    expect(metricValue(text, "nv_inference_count", v1("batcher"))).toBe(4);
    expect(metricValue(text, "nv_inference_exec_count", v1("batcher"))).toBe(1);
  });

  it("labels a full queue REJECTED and a cancelled queued request CANCELED", async () => {
    // limited holds one queued request: the third, while the first runs and the second waits, is refused.
    const pending = async (model: string) => metricValue(await scrape(url), "nv_inference_pending_request_count", v1(model));
    const first = infer(server, "limited", { rows: 1, parameters: { sleep_ms: 800 } });
    await sleep(150);
    const second = infer(server, "limited", { rows: 1 });
    await waitUntil(async () => (await pending("limited")) === 1, 2000, "limited's second request to queue");
    const third = await infer(server, "limited", { rows: 1 });
    expect(third).toEqual({ status: 503, body: { error: "Exceeds maximum queue size" } });
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);

    // slow runs one call and holds one more in its stub: a third request waits in the queue.
    const busy = [0, 1].map(() => infer(server, "slow", { parameters: { sleep_ms: 600 } }));
    await sleep(150);
    const abort = new AbortController();
    const queued = infer(server, "slow", { signal: abort.signal });
    await waitUntil(async () => (await pending("slow")) === 1, 2000, "slow's third request to queue");
    abort.abort();
    await expect(queued).rejects.toThrow();
    await waitUntil(async () =>
      metricValue(await scrape(url), "nv_inference_request_failure", { ...v1("slow"), reason: "CANCELED" }) === 1,
    5000, "a CANCELED failure of slow");
    for (const b of await Promise.all(busy)) expect(b.status).toBe(200);

    const text = await scrape(url);
    expect(metricValue(text, "nv_inference_request_failure", { ...v1("limited"), reason: "REJECTED" })).toBe(1);
    expect(metricValue(text, "nv_inference_request_failure", { ...v1("limited"), reason: "BACKEND" })).toBe(0);
    expect(metricValue(text, "nv_inference_request_failure", { ...v1("slow"), reason: "REJECTED" })).toBe(0);
  });

  it("shows requests waiting for an instance in nv_inference_pending_request_count", async () => {
    // A 4-row call goes at once and runs 1.5 s; three 1-row requests then wait for the instance.
    const running = infer(server, "batcher", { rows: 4, parameters: { sleep_ms: 1500 } });
    await sleep(200);
    const waiting = [0, 1, 2].map(() => infer(server, "batcher", { rows: 1 }));
    await waitUntil(async () => metricValue(await scrape(url), "nv_inference_pending_request_count", v1("batcher")) === 3,
      1000, "3 pending requests of batcher");
    expect(metricValue(await scrape(url), "nv_inference_pending_request_count", v1("slow"))).toBe(0);
    expect((await running).status).toBe(200);
    for (const w of await Promise.all(waiting)) expect(w.status).toBe(200);
    expect(metricValue(await scrape(url), "nv_inference_pending_request_count", v1("batcher"))).toBe(0);
  });

  it("counts a stub restart after the stub is SIGKILLed", async () => {
    const stubs = execFileSync("pgrep", ["-P", String(server.pid), "-f", "stub/main.js"], { encoding: "utf8" })
      .split("\n").filter(Boolean).map(Number);
    // Each stub is told its instance in its environment; slow's is slow_0_0.
    const slowStub = stubs.find((pid) => readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes("TESSERA_INSTANCE=slow_0_0"));
    expect(slowStub, `stubs ${stubs}`).toBeDefined();
    process.kill(slowStub!, "SIGKILL");
    await waitUntil(async () => {
      const text = await scrape(url);
      return metricValue(text, "tessera_stub_restarts_total", v1("slow")) === 1
        && metricValue(text, "tessera_stub_processes_alive", v1("slow")) === 1;
    }, 10_000, "slow's restart to be counted");
    await server.waitForLog(/replacement stub ready/);
    expect((await infer(server, "slow")).status).toBe(200);
    const text = await scrape(url);
    expect(metricValue(text, "tessera_stub_restarts_total", v1("batcher"))).toBe(0);
  });
});

describe("metrics options", () => {
  it("--allow-cpu-metrics false drops the CPU families; stopping the server closes the port", async () => {
    const bare = await startServer(STATS_REPO, { args: [...METRICS, "--allow-cpu-metrics", "false", "--model-control-mode", "explicit"] });
    try {
      const bareUrl = await metricsUrl(bare);
      const text = await scrape(bareUrl);
      expect(metricType(text, "nv_cpu_utilization")).toBeUndefined();
      expect(metricType(text, "nv_cpu_memory_total_bytes")).toBeUndefined();
      // No model loaded: the families are declared, with no series.
      expect(metricType(text, "nv_inference_request_success")).toBe("counter");
      expect(text).not.toMatch(/^nv_inference_request_success\{/m);
      expect(await bare.stop()).toBe(0);
      await expect(fetch(bareUrl)).rejects.toThrow();
    } finally {
      await bare.stop("SIGKILL");
    }
  });
});
