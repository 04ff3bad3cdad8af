/**
 * The response cache against the real server (--cache-config local,size=N, response_cache in the
 * config): a hit runs nothing (the handler's call count and the step's execution count stay put),
 * the key tells apart datatype, shape, bytes and requested outputs, failures are not stored,
 * statistics and /metrics show Triton's cache figures, eviction is LRU by bytes, a decoupled model
 * (or an ensemble made decoupled by its step) fails its load with Triton's text, and without a
 * server cache a model's response_cache does nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { FIXTURES, grpcClientOf, inferBinary, postJson, startServer, type RunningServer } from "./harness.js";
import { metricValue, metricsUrl, modelStat, scrape } from "./stats-helpers.js";

const REPO = join(FIXTURES, "cache-repo");
const DECOUPLED_REPO = join(FIXTURES, "decoupled-repo");
const LOADED = ["add_sub_cache", "add_sub_plain", "sum_cache"].map((m) => `--load-model=${m}`);

interface Answer {
  status: number;
  body: any;
}

const addSub = (url: string, a: number[], b: number[], o: { shape?: number[]; outputs?: string[]; id?: string } = {}): Promise<Answer> =>
  postJson(`${url}/v2/models/add_sub_cache/infer`, {
    ...(o.id !== undefined ? { id: o.id } : {}),
    inputs: [
      { name: "A", datatype: "FP32", shape: o.shape ?? [1, a.length], data: a },
      { name: "B", datatype: "FP32", shape: o.shape ?? [1, b.length], data: b },
    ],
    ...(o.outputs ? { outputs: o.outputs.map((name) => ({ name })) } : {}),
  });

const output = (r: Answer, name: string) => r.body.outputs.find((o: { name: string }) => o.name === name);
const calls = (r: Answer) => Number(output(r, "CALLS").data[0]);

describe("response cache", () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer([REPO, DECOUPLED_REPO], {
      args: ["--cache-config", "local,size=1048576", "--model-control-mode=explicit", ...LOADED, "--allow-metrics", "true", "--metrics-port", "0", "--allow-grpc", "true", "--grpc-port", "0"],
    });
  }, 60_000);

  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it("answers a repeated request from the cache without running the model", async () => {
    const first = await addSub(server.url, [1, 2, 3, 4], [10, 20, 30, 40], { id: "one" });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const second = await addSub(server.url, [1, 2, 3, 4], [10, 20, 30, 40], { id: "two" });
    expect(second.status).toBe(200);
    expect(second.body.id).toBe("two");
    expect(second.body.model_name).toBe("add_sub_cache");
    expect(second.body.model_version).toBe("1");
    expect(output(second, "SUM").data).toEqual([11, 22, 33, 44]);
    expect(output(second, "DIFF").data).toEqual([-9, -18, -27, -36]);
    // The same call count: the handler did not run again.
    expect(calls(second)).toBe(calls(first));
    const third = await addSub(server.url, [1, 2, 3, 5], [10, 20, 30, 40]);
    expect(calls(third)).toBe(calls(first) + 1);
  });

  it("keys on shape and requested outputs as well as the bytes", async () => {
    const flat = await addSub(server.url, [5, 6, 7, 8], [1, 1, 1, 1], { shape: [1, 4] });
    const square = await addSub(server.url, [5, 6, 7, 8], [1, 1, 1, 1], { shape: [2, 2] });
    expect(square.status, JSON.stringify(square.body)).toBe(200);
    expect(output(square, "SUM").shape).toEqual([2, 2]);
    expect(calls(square)).toBe(calls(flat) + 1);
    const onlySum = await addSub(server.url, [5, 6, 7, 8], [1, 1, 1, 1], { shape: [1, 4], outputs: ["SUM", "CALLS"] });
    expect(onlySum.body.outputs.map((o: { name: string }) => o.name).sort()).toEqual(["CALLS", "SUM"]);
    expect(calls(onlySum)).toBe(calls(square) + 1);
    // The same outputs in another order is the same request.
    const again = await addSub(server.url, [5, 6, 7, 8], [1, 1, 1, 1], { shape: [1, 4], outputs: ["CALLS", "SUM"] });
    expect(calls(again)).toBe(calls(onlySum));
  });

  it("never stores a failure", async () => {
    const bad = await addSub(server.url, [-1, 0], [0, 0]);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/negative A/);
    const before = (await modelStat(server, "add_sub_cache")).inference_stats;
    const again = await addSub(server.url, [-1, 0], [0, 0]);
    expect(again.status).toBe(400);
    const after = (await modelStat(server, "add_sub_cache")).inference_stats;
    expect(after.fail.count).toBe(before.fail.count + 1);
    expect(after.cache_hit.count).toBe(before.cache_hit.count);
    expect(after.cache_miss.count).toBe(before.cache_miss.count);
  });

  it("counts hits and misses in the statistics extension and /metrics, as Triton does", async () => {
    const before = await modelStat(server, "add_sub_cache");
    await addSub(server.url, [9, 9], [1, 1]);
    await addSub(server.url, [9, 9], [1, 1]);
    await addSub(server.url, [9, 9], [1, 1]);
    const after = await modelStat(server, "add_sub_cache");
    const d = (f: string) => after.inference_stats[f].count - before.inference_stats[f].count;
    expect(d("cache_miss")).toBe(1);
    expect(d("cache_hit")).toBe(2);
    expect(d("success")).toBe(3);
    // Compute figures count only the requests that ran; a hit adds no inference or execution.
    expect(d("compute_infer")).toBe(1);
    expect(after.inference_count - before.inference_count).toBe(1);
    expect(after.execution_count - before.execution_count).toBe(1);
    expect(after.inference_stats.cache_hit.ns).toBeGreaterThan(before.inference_stats.cache_hit.ns);
    expect(after.inference_stats.cache_miss.ns).toBeGreaterThan(before.inference_stats.cache_miss.ns);
    expect(after.inference_stats.compute_infer.count).toBe(after.inference_stats.success.count - after.inference_stats.cache_hit.count);

    const text = await scrape(await metricsUrl(server));
    const labels = { model: "add_sub_cache", version: "1" };
    expect(metricValue(text, "nv_cache_num_hits_per_model", labels)).toBe(after.inference_stats.cache_hit.count);
    expect(metricValue(text, "nv_cache_num_misses_per_model", labels)).toBe(after.inference_stats.cache_miss.count);
    expect(metricValue(text, "nv_cache_hit_duration_per_model", labels)).toBe(Math.floor(after.inference_stats.cache_hit.ns / 1000));
    expect(metricValue(text, "nv_cache_miss_duration_per_model", labels)).toBe(Math.floor(after.inference_stats.cache_miss.ns / 1000));
    // A model without response_cache has no cache series.
    expect(metricValue(text, "nv_cache_num_hits_per_model", { model: "add_sub_plain", version: "1" })).toBeUndefined();
  });

  it("leaves a model without response_cache uncached", async () => {
    const req = { inputs: [{ name: "A", datatype: "FP32", shape: [1, 1], data: [1] }, { name: "B", datatype: "FP32", shape: [1, 1], data: [1] }] };
    const one = await postJson(`${server.url}/v2/models/add_sub_plain/infer`, req);
    const two = await postJson(`${server.url}/v2/models/add_sub_plain/infer`, req);
    expect(Number(output(two, "CALLS").data[0])).toBe(Number(output(one, "CALLS").data[0]) + 1);
    const stat = await modelStat(server, "add_sub_plain");
    expect(stat.inference_stats.cache_hit.count).toBe(0);
    expect(stat.inference_stats.cache_miss.count).toBe(0);
  });

  it("answers an ensemble's hit without running its steps", async () => {
    const req = { inputs: [{ name: "X", datatype: "FP32", shape: [1, 3], data: [7, 8, 9] }] };
    const first = await postJson(`${server.url}/v2/models/sum_cache/infer`, req);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const step = (await modelStat(server, "add_sub_plain")).execution_count;
    const second = await postJson(`${server.url}/v2/models/sum_cache/infer`, req);
    expect(second.status).toBe(200);
    expect(second.body.outputs).toEqual(first.body.outputs);
    expect((await modelStat(server, "add_sub_plain")).execution_count).toBe(step);
    const stat = await modelStat(server, "sum_cache");
    expect(stat.inference_stats.cache_hit.count).toBe(1);
    expect(stat.inference_stats.cache_miss.count).toBe(1);
  });

  it("writes each hit in the format and with the id its request asked for", async () => {
    const f32 = (v: number[]) => new Uint8Array(new Float32Array(v).buffer);
    const inputs = [
      { name: "A", datatype: "FP32", shape: [1, 2], data: f32([21, 22]) },
      { name: "B", datatype: "FP32", shape: [1, 2], data: f32([1, 2]) },
    ];
    const binary = async (id?: string) => {
      const r = await inferBinary(server.url, "add_sub_cache", inputs, id === undefined ? {} : { id });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      return r;
    };
    const first = await binary();
    for (const id of [undefined, "x", undefined, "y"]) {
      const r = await binary(id);
      expect(r.json.id).toBe(id);
      expect([...new Float32Array(r.outputs.get("SUM")!.slice().buffer)]).toEqual([22, 24]);
      expect(r.outputs.get("CALLS")).toEqual(first.outputs.get("CALLS"));
    }
    for (const id of [undefined, "z", undefined]) {
      const r = await addSub(server.url, [21, 22], [1, 2], id === undefined ? {} : { id });
      expect(r.body.id).toBe(id);
      expect(output(r, "SUM").data).toEqual([22, 24]);
      expect(output(r, "CALLS").data[0]).toBe(Number(new BigInt64Array(first.outputs.get("CALLS")!.slice().buffer)[0]));
    }
  });

  it("serves gRPC hits from the same cache", async () => {
    const client = await grpcClientOf(server);
    const floats = (v: number[]) => Buffer.from(new Float32Array(v).buffer);
    const call = () => new Promise<any>((resolve, reject) => client.ModelInfer({
      model_name: "add_sub_cache", id: "g",
      inputs: [{ name: "A", datatype: "FP32", shape: [1, 2] }, { name: "B", datatype: "FP32", shape: [1, 2] }],
      raw_input_contents: [floats([3, 1]), floats([4, 1])],
    }, (err: Error | null, r: any) => (err ? reject(err) : resolve(r))));
    const before = (await modelStat(server, "add_sub_cache")).inference_stats.cache_hit.count;
    const a = await call();
    const b = await call();
    // The HTTP request of the same tensors is a hit too: the key does not depend on the protocol.
    const c = await addSub(server.url, [3, 1], [4, 1]);
    expect(b.raw_output_contents).toEqual(a.raw_output_contents);
    expect(output(c, "SUM").data).toEqual([7, 2]);
    expect((await modelStat(server, "add_sub_cache")).inference_stats.cache_hit.count).toBe(before + 2);
    client.close();
  });

  it("fails a decoupled model's load, and an ensemble's made decoupled by its step, with Triton's text", async () => {
    const r = await postJson(`${server.url}/v2/repository/models/decoupled_cache/load`, {});
    expect(r.status).toBe(400);
    expect(r.body.error).toContain(
      "Response Cache does not currently support model decoupled_cache with 'decoupled' transaction policy. Please disable the response cache.");
    const e = await postJson(`${server.url}/v2/repository/models/repeat_cache/load`, {});
    expect(e.status).toBe(400);
    expect(e.body.error).toContain(
      "Response Cache does not currently support model repeat_cache with 'decoupled' transaction policy. Please disable the response cache.");
  });
});

describe("response cache limits", () => {
  it("evicts the least recently used entries to stay within its size", async () => {
    // Each add_sub_cache entry is a little under 400 bytes: three fit in 1200, not four.
    const server = await startServer(REPO, { args: ["--cache-config=local,size=1200", "--model-control-mode=explicit", "--load-model=add_sub_cache"] });
    try {
      const ask = (v: number) => addSub(server.url, [v, v, v, v], [0, 0, 0, 0]);
      const ran = async (v: number) => {
        const before = (await modelStat(server, "add_sub_cache")).execution_count;
        expect((await ask(v)).status).toBe(200);
        return (await modelStat(server, "add_sub_cache")).execution_count > before;
      };
      expect(await ran(1)).toBe(true);
      expect(await ran(2)).toBe(true);
      expect(await ran(3)).toBe(true);
      expect(await ran(1)).toBe(false); // 1 is now the most recently used; 2 the least
      expect(await ran(4)).toBe(true); // evicts 2
      expect(await ran(1)).toBe(false);
      expect(await ran(3)).toBe(false);
      expect(await ran(2)).toBe(true);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, 60_000);

  it("ignores response_cache when the server has no cache", async () => {
    const server = await startServer(REPO, { args: ["--model-control-mode=explicit", "--load-model=add_sub_cache"] });
    try {
      const one = await addSub(server.url, [1], [1]);
      const two = await addSub(server.url, [1], [1]);
      expect(calls(two)).toBe(calls(one) + 1);
      const stat = await modelStat(server, "add_sub_cache");
      expect(stat.inference_stats.cache_hit).toEqual({ count: 0, ns: 0 });
      expect(stat.inference_stats.cache_miss).toEqual({ count: 0, ns: 0 });
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, 60_000);

  it("refuses malformed and conflicting cache flags with Triton's texts", async () => {
    const cases: [string[], string][] = [
      [["--cache-config=local,size=8192", "--cache-config=redis,key=value"], "found multiple cache configurations, but only a single cache is currently supported"],
      [["--response-cache-byte-size=12345", "--cache-config=local,size=67890"], "Incompatible flags --response-cache-byte-size and --cache-config both provided"],
      [["--cache-config=size=10"], "No cache specified. --cache-config option format is <cache name>,<setting>=<value>. Got size=10"],
      [["--cache-config=local,size"], "--cache-config option format is '<cache name>,<setting>=<value>'. Got local,size"],
      [["--cache-config=redis,host=localhost"], "unknown cache 'redis'"],
    ];
    for (const [args, text] of cases) {
      const server = await startServer(REPO, { args: [...args, "--model-control-mode=explicit"], expectExit: true });
      expect(await server.stop()).not.toBe(0);
      expect(server.log()).toContain(text);
    }
  }, 60_000);
});
