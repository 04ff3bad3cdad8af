/**
 * The statistics extension against the real server: Triton's JSON shape, counts after successes
 * and failures, batch_stats per executed batch size under dynamic batching, the timing fields, and
 * Triton's errors for models and versions that are not available.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "./harness.js";
import { STATS_REPO, getStats, infer, modelStat } from "./stats-helpers.js";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer(STATS_REPO); // the harness passes --allow-metrics false
});
afterAll(async () => {
  await server?.stop();
});

/** A numeric field by dotted path. */
function field(stat: any, path: string): number {
  return path.split(".").reduce((o, k) => o[k], stat) as number;
}

function delta(before: any, after: any) {
  return (path: string) => field(after, path) - field(before, path);
}

/** The batch_stats entry of `size`, zeros when that size never ran. */
function batch(stat: any, size: number): { count: number; input: number; infer: number; output: number } {
  const b = stat.batch_stats.find((e: any) => e.batch_size === size);
  if (!b) return { count: 0, input: 0, infer: 0, output: 0 };
  expect(b.compute_input.count).toBe(b.compute_infer.count);
  expect(b.compute_output.count).toBe(b.compute_infer.count);
  return { count: b.compute_infer.count, input: b.compute_input.ns, infer: b.compute_infer.ns, output: b.compute_output.ns };
}

describe("statistics extension", () => {
  it("lists every ready model in Triton's shape, one model, one version; errors as Triton", async () => {
    const all = await getStats(server, "/v2/models/stats");
    expect(all.status).toBe(200);
    expect(all.body.model_stats.map((s: any) => [s.name, s.version])).toEqual([["batcher", "1"], ["limited", "1"], ["slow", "1"]]);
    const s = all.body.model_stats[2];
    expect(Object.keys(s)).toEqual([
      "name", "version", "last_inference", "inference_count", "execution_count", "inference_stats", "response_stats",
      "batch_stats", "memory_usage",
    ]);
    expect(Object.keys(s.inference_stats)).toEqual([
      "success", "fail", "queue", "compute_input", "compute_infer", "compute_output", "cache_hit", "cache_miss",
    ]);
    for (const d of Object.values(s.inference_stats)) expect(Object.keys(d as object)).toEqual(["count", "ns"]);
    expect(s.response_stats).toEqual({});
    expect(s.memory_usage).toEqual([]);

    const one = await getStats(server, "/v2/models/slow/stats");
    expect(one.status).toBe(200);
    expect(one.body.model_stats.map((m: any) => m.name)).toEqual(["slow"]);

    expect(await getStats(server, "/v2/models/nope/stats")).toEqual({ status: 400, body: { error: "requested model 'nope' is not available" } });
    expect(await getStats(server, "/v2/models/slow/versions/2/stats"))
      .toEqual({ status: 400, body: { error: "requested model version is not available for model 'slow'" } });
    expect((await fetch(`${server.url}/v2/models/slow/stats`, { method: "POST" })).status).toBe(405);

    const meta = await (await fetch(`${server.url}/v2`)).json();
    expect(meta.extensions).toContain("statistics");
    // The harness turned metrics off: no metrics service, and no warning about one either.
    expect(server.log()).not.toMatch(/Metrics Service|metrics endpoint/);
  });

  it("counts successes, backend failures and invalid requests of a model without batching", async () => {
    const before = await modelStat(server, "slow");
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) {
      const r = await infer(server, "slow");
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.outputs[0].data).toEqual([0, 1]);
    }
    const thrown = await infer(server, "slow", { parameters: { fail: "call" } });
    expect(thrown.body.error).toMatch(/the handler failed the whole call/);
    const invalid = await infer(server, "slow", { badShape: true });
    expect(invalid.status).toBe(400);
    const after = await modelStat(server, "slow");
    const d = delta(before, after);

    expect(d("inference_stats.success.count")).toBe(3);
    expect(d("inference_stats.fail.count")).toBe(2);
    expect(d("inference_stats.fail.ns")).toBeGreaterThan(0);
    expect(d("inference_count")).toBe(3);
    // The call that threw still ran the handler: an execution, as Triton's python backend reports it.
    expect(d("execution_count")).toBe(4);
    expect(batch(after, 1).count - batch(before, 1).count).toBe(4);
    for (const k of ["queue", "compute_input", "compute_infer", "compute_output"]) {
      expect(d(`inference_stats.${k}.count`), k).toBe(3);
      expect(d(`inference_stats.${k}.ns`), k).toBeGreaterThan(0);
    }
    // The handler sleeps 20 ms per call: that is compute_infer, measured in the stub.
    expect(d("inference_stats.compute_infer.ns")).toBeGreaterThanOrEqual(3 * 15e6);
    // The parts are disjoint intervals inside each request's whole time.
    const parts = ["queue", "compute_input", "compute_infer", "compute_output"].reduce((n, k) => n + d(`inference_stats.${k}.ns`), 0);
    expect(d("inference_stats.success.ns")).toBeGreaterThanOrEqual(parts);
    expect(after.last_inference).toBeGreaterThanOrEqual(t0);
    expect(after.last_inference).toBeLessThanOrEqual(Date.now());
    expect(d("last_inference")).toBeGreaterThan(0);
    for (const k of ["cache_hit", "cache_miss"]) expect(after.inference_stats[k]).toEqual({ count: 0, ns: 0 });
  });

  it("records one execution per dynamic batch, under its batch size", async () => {
    const before = await modelStat(server, "batcher");
    // Four 1-row requests at once: the batcher sends them together at 4 rows (its preferred size).
    const answers = await Promise.all([0, 1, 2, 3].map(() => infer(server, "batcher", { rows: 1 })));
    for (const a of answers) {
      expect(a.status, JSON.stringify(a.body)).toBe(200);
      expect(a.body.outputs[0].shape).toEqual([1, 2]);
    }
    const mid = await modelStat(server, "batcher");
    let d = delta(before, mid);
    expect(d("inference_stats.success.count")).toBe(4);
    expect(d("inference_count")).toBe(4);
    expect(d("execution_count")).toBe(1);
    const b4 = { count: batch(mid, 4).count - batch(before, 4).count, infer: batch(mid, 4).infer - batch(before, 4).infer };
    expect(b4.count).toBe(1);
    expect(b4.infer).toBeGreaterThanOrEqual(15e6);
    // Every request of the batch adds its call's durations; the batch counts them once.
    expect(d("inference_stats.compute_infer.ns")).toBe(4 * b4.infer);
    expect(d("inference_stats.compute_infer.count")).toBe(4);

    // A lone 2-row request waits out max_queue_delay (500 ms), then runs as a batch of 2.
    const lone = await infer(server, "batcher", { rows: 2 });
    expect(lone.status).toBe(200);
    const after = await modelStat(server, "batcher");
    d = delta(mid, after);
    expect(d("inference_count")).toBe(2);
    expect(d("execution_count")).toBe(1);
    expect(batch(after, 2).count - batch(mid, 2).count).toBe(1);
    expect(d("inference_stats.queue.ns")).toBeGreaterThanOrEqual(400e6);
    expect(after.batch_stats.map((b: any) => b.batch_size)).toEqual([...after.batch_stats.map((b: any) => b.batch_size)].sort((a, b) => a - b));
  });

  it("counts a request the handler failed inside a batch as a failure, and the batch once", async () => {
    const before = await modelStat(server, "batcher");
    const answers = await Promise.all([0, 1, 2, 3].map((i) =>
      infer(server, "batcher", { rows: 1, parameters: i === 2 ? { fail: "request" } : {} })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 500, 200]);
    const after = await modelStat(server, "batcher");
    const d = delta(before, after);
    expect(d("inference_stats.success.count")).toBe(3);
    expect(d("inference_stats.fail.count")).toBe(1);
    expect(d("inference_count")).toBe(3);
    expect(d("execution_count")).toBe(1);
    expect(batch(after, 4).count - batch(before, 4).count).toBe(1);
  });
});
