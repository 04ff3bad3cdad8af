/**
 * Main's store of handlers' metrics, fed what a stub's flush could carry (valid or not): it never
 * throws, keeps every value finite, never lets a counter go down, exposes Prometheus text through
 * prom-client, keeps a series while an owner holds it and drops it on release.
 */
import fc from "fast-check";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { MetricFamilyDecl, MetricUpdate } from "../../../src/ipc/protocol.js";
import { CustomMetrics } from "../../../src/metrics/custom.js";
import { runs } from "../fuzz.js";

const NAMES = ["c_total", "g_now", "h_size", "nv_inference_count", "bad name"];
const familyArb: fc.Arbitrary<MetricFamilyDecl> = fc.record({
  name: fc.constantFrom(...NAMES), description: fc.string(), kind: fc.constantFrom("COUNTER", "GAUGE", "HISTOGRAM", "OTHER" as never),
});
const labelsArb = fc.oneof(fc.constant("[]"), fc.constant('[["a","1"]]'), fc.constant('[["a","2"],["b","x"]]'), fc.string(), fc.constant("{}"));
const num = fc.oneof(fc.double(), fc.integer({ min: -10, max: 10 }), fc.constant(Number.NaN), fc.constant(Number.POSITIVE_INFINITY));
const updateArb: fc.Arbitrary<MetricUpdate> = fc.record({
  family: fc.constantFrom(...NAMES), labels: labelsArb, set: fc.option(num, { nil: undefined }), add: fc.option(num, { nil: undefined }),
  buckets: fc.option(fc.constantFrom([1, 2], [1, 2, 3], [] as number[]), { nil: undefined }),
  bucketCounts: fc.option(fc.array(fc.nat(5), { maxLength: 4 }), { nil: undefined }), sum: fc.option(num, { nil: undefined }),
  count: fc.option(fc.nat(5), { nil: undefined }),
}, { requiredKeys: ["family", "labels"] });

describe("custom metrics store", () => {
  it("takes any flush without throwing; values stay finite; counters never go down", async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.array(familyArb, { maxLength: 3 }), fc.array(updateArb, { maxLength: 8 })), { maxLength: 6 }),
      async (flushes) => {
        const store = new CustomMetrics();
        const registry = new Registry();
        registry.registerMetric({ name: "nv_inference_count", help: "x", type: "counter", get: async () => ({ name: "nv_inference_count", help: "x", type: "counter", values: [], aggregator: "sum" }), reset: () => {} } as never);
        store.expose(registry);
        const owner = {};
        let counters = new Map<string, number>();
        for (const [families, updates] of flushes) {
          const touched = store.apply(owner, families, updates);
          const now = new Map(store.values(touched).map((v) => [`${v.family}/${v.labels}`, v.value]));
          for (const v of store.values(touched)) expect(Number.isFinite(v.value)).toBe(true);
          const kinds = new Map<string, string>((await registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
          for (const [k, v] of now) {
            if (kinds.get(k.split("/")[0]!) === "counter" && counters.has(k)) expect(v).toBeGreaterThanOrEqual(counters.get(k)!);
          }
          counters = new Map([...counters, ...now]);
        }
        const text = await registry.metrics();
        expect(text).not.toMatch(/NaN|Infinity/);
        expect(text).not.toContain("bad name");
        store.release(owner);
        expect((await registry.metrics()).trim().split("\n").filter((l) => !l.startsWith("#") && l.trim() !== "")).toEqual([]);
      }), runs(150));
  });

  it("keeps a series while another owner reports it, and histograms cumulative", async () => {
    const store = new CustomMetrics();
    const registry = new Registry();
    store.expose(registry);
    const a = {};
    const b = {};
    store.apply(a, [{ name: "h", description: "sizes", kind: "HISTOGRAM" }], [{ family: "h", labels: "[]", buckets: [1, 4], bucketCounts: [1, 2, 1], sum: 12, count: 4 }]);
    store.apply(b, [], [{ family: "h", labels: "[]", buckets: [1, 4], bucketCounts: [0, 1, 0], sum: 3, count: 1 }]);
    store.release(a);
    const text = await registry.metrics();
    expect(text).toContain('h_bucket{le="1"} 1');
    expect(text).toContain('h_bucket{le="4"} 4');
    expect(text).toContain('h_bucket{le="+Inf"} 5');
    expect(text).toContain("h_sum 15");
    expect(text).toContain("# TYPE h histogram");
    store.release(b);
    expect(await registry.metrics()).not.toContain("h_bucket");
  });
});
