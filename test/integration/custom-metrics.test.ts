/**
 * Handlers' custom metrics against the real server: a counter, a gauge and a histogram created in
 * initialize() appear on the metrics port beside Triton's families, value() counts what the
 * handler did, pb_utils' refusals come back as the request's error with their texts, the values
 * outlive an instance that died and restarted, and unloading the model removes its series.
 */
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyRepository, postJson, startServer, type RunningServer } from "./harness.js";
import { OBS_REPO, inferN } from "./observability-helpers.js";
import { metricType, metricValue, metricsUrl, scrape } from "./stats-helpers.js";
import { stopCleanly, waitUntil } from "./stub-helpers.js";

let server: RunningServer;
let url: string;
let repo: string;
beforeAll(async () => {
  repo = copyRepository(OBS_REPO);
  server = await startServer(repo, {
    args: ["--allow-metrics", "true", "--metrics-port", "0", "--model-control-mode", "explicit", "--load-model", "custom_metrics"],
  });
  url = await metricsUrl(server);
});
afterAll(async () => {
  if (server) await stopCleanly(server);
  if (repo) rmSync(repo, { recursive: true, force: true });
});

const LABELS = { model: "custom_metrics", version: "1" };

describe("custom metrics", () => {
  it("appear on the metrics port with their help, type and labels, beside Triton's", async () => {
    const text = await waitUntil(async () => {
      const t = await scrape(url);
      return t.includes("handler_input_size_count") ? t : null;
    }, 5000, "the custom families");
    expect(metricType(text, "handler_requests_total")).toBe("counter");
    expect(metricType(text, "handler_last_size")).toBe("gauge");
    expect(metricType(text, "handler_input_size")).toBe("histogram");
    expect(text).toContain("# HELP handler_requests_total Requests this handler executed\n");
    expect(metricValue(text, "handler_requests_total", LABELS)).toBe(0); // created at 0, as Triton's
    expect(metricType(text, "nv_inference_request_success")).toBe("counter");
  });

  it("count what the handler does, and value() reads it back", async () => {
    const sizes = [1, 3, 20, 3];
    for (const [i, n] of sizes.entries()) {
      const r = await inferN(server, "custom_metrics", n);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.outputs[0].data).toEqual([i + 1, n]);
    }
    const text = await waitUntil(async () => {
      const t = await scrape(url);
      return metricValue(t, "handler_requests_total", LABELS) === 4 ? t : null;
    }, 5000, "the counter at 4");
    expect(metricValue(text, "handler_last_size", LABELS)).toBe(3);
    expect(metricValue(text, "handler_input_size_bucket", { ...LABELS, le: "1" })).toBe(1);
    expect(metricValue(text, "handler_input_size_bucket", { ...LABELS, le: "4" })).toBe(3);
    expect(metricValue(text, "handler_input_size_bucket", { ...LABELS, le: "16" })).toBe(3);
    expect(metricValue(text, "handler_input_size_bucket", { ...LABELS, le: "+Inf" })).toBe(4);
    expect(metricValue(text, "handler_input_size_sum", LABELS)).toBe(27);
    expect(metricValue(text, "handler_input_size_count", LABELS)).toBe(4);
  });

  it("refuse bad names, labels, buckets and operations with pb_utils' texts", async () => {
    const cases: Record<string, string> = {
      name: "Error when creating MetricFamily: Invalid metric name",
      kind_clash: "Error when creating MetricFamily: Family name already exists with different type",
      labels_not_object: "Failed to create metric. Labels must be a dictionary.",
      label_name: "Error when creating Metric: Invalid label name",
      label_value: "Error when creating Metric: attempt to access JSON non-string as string",
      buckets_missing: "Failed to create metric. Missing required buckets.",
      buckets_unexpected: "Failed to create metric. Unexpected buckets found.",
      buckets_unsorted: "Error when creating Metric: Bucket Boundaries must be strictly sorted",
      negative: "Failed to increment metric value: TRITONSERVER_METRIC_KIND_COUNTER can only be incremented monotonically by non-negative values.",
      set_counter: "Failed to set metric value: TRITONSERVER_METRIC_KIND_COUNTER does not support Set",
      observe_gauge: "Failed to observe metric value: TRITONSERVER_METRIC_KIND_GAUGE does not support Observe",
      value_histogram: "Failed to get metric value: TRITONSERVER_METRIC_KIND_HISTOGRAM does not support Value",
    };
    for (const [probe, text] of Object.entries(cases)) {
      const r = await inferN(server, "custom_metrics", 1, { probe });
      expect(r.status, probe).toBe(400);
      expect(r.body.error, probe).toBe(text);
    }
    // The refusals changed nothing that was counted.
    expect(metricValue(await scrape(url), "handler_requests_total", LABELS)).toBe(4);
  });

  it("survive an instance that died and restarted", async () => {
    const r = await inferN(server, "custom_metrics", 1, { crash: true });
    expect(r.status).not.toBe(200);
    await server.waitForLog(/custom_metrics:1:custom_metrics_0_0\] replacement stub ready/, 30_000);
    const after = await inferN(server, "custom_metrics", 2);
    expect(after.status, JSON.stringify(after.body)).toBe(200);
    // The replacement's counter goes on from main's total.
    expect(after.body.outputs[0].data).toEqual([5, 2]);
    await waitUntil(async () => metricValue(await scrape(url), "handler_requests_total", LABELS) === 5, 5000, "the counter at 5");
    expect(metricValue(await scrape(url), "handler_input_size_count", LABELS)).toBe(5);
  });

  it("go when the model is unloaded", async () => {
    const r = await postJson(`${server.url}/v2/repository/models/custom_metrics/unload`, {});
    expect(r.status).toBe(200);
    const text = await waitUntil(async () => {
      const t = await scrape(url);
      return t.includes("handler_requests_total") ? null : t;
    }, 10_000, "the custom families to go");
    expect(text).not.toContain("handler_input_size");
  });
});
