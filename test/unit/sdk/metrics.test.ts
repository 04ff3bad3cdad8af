/**
 * The SDK's MetricFamily / Metric without a server: updates gather into one flush, value() is
 * main's total plus what main has not applied yet (a heartbeat's ack), refusals carry pb_utils'
 * texts, and the same labels (in any order) are the same series.
 */
import { describe, expect, it } from "vitest";
import { type Metric, MetricFamily } from "../../../stub/sdk/metrics.js";
import { flushMetrics, setMetricsSink, syncMetrics } from "../../../stub/sdk/metrics.js";
import { TritonError } from "../../../stub/sdk/errors.js";
import type { MetricUpdate } from "../../../src/ipc/protocol.js";

const flushes: { seq: number; updates: MetricUpdate[] }[] = [];
setMetricsSink((m) => flushes.push(m), [{ family: "sdk_restarted_total", labels: "[]", value: 41 }]);

describe("SDK custom metrics", () => {
  it("gather updates into one flush, and value() follows main's acks", () => {
    const m = new MetricFamily("sdk_requests_total", "d", MetricFamily.COUNTER).Metric({ labels: { b: "2", a: "1" } });
    for (let i = 0; i < 100; i++) m.increment(1);
    flushMetrics();
    const f = flushes.at(-1)!;
    expect(f.updates).toEqual([{ family: "sdk_requests_total", labels: '[["a","1"],["b","2"]]', add: 100 }]);
    expect(m.value()).toBe(100);
    m.increment(5);
    // Main applied the flush (and another instance added 7): total 107, then our 5 still pending.
    syncMetrics(f.seq, [{ family: "sdk_requests_total", labels: '[["a","1"],["b","2"]]', value: 107 }]);
    expect(m.value()).toBe(112);
    const same = new MetricFamily("sdk_requests_total", "other", MetricFamily.COUNTER).Metric({ labels: { a: "1", b: "2" } });
    expect(same.value()).toBe(112);
  });

  it("a gauge's set replaces what came before it", () => {
    const g = new MetricFamily("sdk_level", "d", MetricFamily.GAUGE).Metric();
    g.increment(3);
    g.set(10);
    g.increment(-2);
    expect(g.value()).toBe(8);
    flushMetrics();
    expect(flushes.at(-1)!.updates.filter((u) => u.family === "sdk_level")).toEqual([{ family: "sdk_level", labels: "[]", set: 10, add: -2 }]);
  });

  it("starts from main's value after a restart", () => {
    expect(new MetricFamily("sdk_restarted_total", "d", MetricFamily.COUNTER).Metric().value()).toBe(41);
  });

  it("refuses with TritonError and pb_utils' texts", () => {
    const thrown = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(TritonError);
        return (e as TritonError).message();
      }
      throw new Error("nothing thrown");
    };
    expect(thrown(() => new MetricFamily("1bad", "", MetricFamily.GAUGE))).toBe("Error when creating MetricFamily: Invalid metric name");
    expect(thrown(() => new MetricFamily("nv_mine", "", MetricFamily.GAUGE))).toMatch(/reserved for the server's own metrics/);
    expect(thrown(() => new MetricFamily("x", "", "SUMMARY" as never))).toBe("Error when creating MetricFamily: Unsupported kind passed to MetricFamily constructor.");
    const h = new MetricFamily("sdk_h", "", MetricFamily.HISTOGRAM);
    expect(thrown(() => h.Metric({ labels: { __x: "1" }, buckets: [1] }))).toBe("Error when creating Metric: Invalid label name");
    expect(thrown(() => h.Metric({ buckets: "1" as never }))).toBe("Failed to create metric. Buckets must be a list.");
    const m: Metric = h.Metric({ buckets: [1, 2] });
    m.observe(1.5);
    expect(thrown(() => m.increment(1))).toBe("Failed to increment metric value: TRITONSERVER_METRIC_KIND_HISTOGRAM does not support Increment");
    expect(thrown(() => m.set(1))).toBe("Failed to set metric value: TRITONSERVER_METRIC_KIND_HISTOGRAM does not support Set");
    expect(() => m.observe("x" as never)).toThrow(TypeError);
  });
});
