/**
 * model_warmup against the real server: every instance runs each sample (batch_size requests in
 * one call, count times; batch 0 skipped) with its data (files from <model>/warmup/, BYTES in
 * Triton's layout; zeros) before the model is READY, and a replacement instance is warmed again
 * before it takes traffic; decoupled models are drained; a failing sample, a short file, a
 * variable dimension or a file outside the folder fail the load with Triton's texts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { FIXTURES, postJson, startServer, type RunningServer } from "./harness.js";
import { waitUntil } from "./stub-helpers.js";

const REPO = join(FIXTURES, "lifecycle-repo");

interface History {
  instance: string;
  calls: { requests: number; input0: number[][]; text: string[][] }[];
}

describe("model warmup", () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer(REPO, { args: ["--model-control-mode=explicit", "--load-model=warm", "--load-model=cold", "--load-model=warm_decoupled"] });
  }, 60_000);

  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  const infer = (model: string, parameters: Record<string, unknown> = {}) => postJson(`${server.url}/v2/models/${model}/infer`, {
    parameters, inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1], data: [7] }], outputs: [{ name: "HISTORY" }],
  });
  const history = async (model: string, parameters: Record<string, unknown> = {}): Promise<History> => {
    const r = await infer(model, parameters);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return JSON.parse(r.body.outputs[0].data[0]);
  };
  const load = (model: string, config?: Record<string, unknown>) =>
    postJson(`${server.url}/v2/repository/models/${model}/load`, config ? { parameters: { config: JSON.stringify(config) } } : {});

  /** The warmup calls an instance of `warm` ran, as its config has them. */
  const WARMED = [
    ...Array.from({ length: 3 }, () => ({ requests: 2, input0: [[1.5, 2.5, 3.5, 4.5], [1.5, 2.5, 3.5, 4.5]], text: [["hello", "wörld"], ["hello", "wörld"]] })),
    { requests: 1, input0: [[0, 0, 0]], text: [[]] },
  ];

  it("runs every sample on every instance before READY, with the files' data, batch 0 skipped", async () => {
    const seen = new Map<string, History>();
    // Two instances, round robin: a few requests reach both; each saw the warmup calls first.
    for (let i = 0; i < 6 && seen.size < 2; i++) {
      const h = await history("warm");
      if (!seen.has(h.instance)) seen.set(h.instance, h);
    }
    expect([...seen.keys()].sort()).toEqual(["warm_0_0", "warm_0_1"]);
    for (const h of seen.values()) expect(h.calls.slice(0, WARMED.length)).toEqual(WARMED);
    expect(server.log()).toMatch(/successfully loaded 'warm'/);
  });

  it("makes the first request fast: the cold path ran during warmup", async () => {
    // cold and warm share the handler, whose first call sleeps 400 ms (first_call_ms).
    const time = async (model: string) => {
      const t0 = performance.now();
      expect((await infer(model)).status).toBe(200);
      return performance.now() - t0;
    };
    await load("warm"); // a fresh version: its instances' first client request comes next
    const warm = await time("warm");
    const cold = await time("cold");
    expect(cold).toBeGreaterThan(380);
    expect(warm).toBeLessThan(cold - 200);
  });

  it("warms a decoupled model, draining every response of every request", async () => {
    const res = await fetch(`${server.url}/v2/models/warm_decoupled/generate_stream`, { method: "POST", body: JSON.stringify({ INPUT0: [1] }) });
    const text = await res.text();
    const first = JSON.parse(/data: (.*)/.exec(text)![1]!);
    // Two requests, twice: four received, and all four finished (their 3 responses each drained) before READY.
    expect(JSON.parse(first.HISTORY)).toEqual({ received: 4, finished: 4 });
  });

  it("warms a replacement instance before it takes traffic", async () => {
    // Crash one instance of warm; the replacement runs the samples before its first request.
    await infer("warm", { crash: true });
    await server.waitForLog(/warm:1:warm_0_\d] replacement stub ready/);
    const fresh = await waitUntil(async () => {
      for (let i = 0; i < 4; i++) {
        const r = await infer("warm");
        if (r.status !== 200) continue; // the request that met the dying instance
        const h: History = JSON.parse(r.body.outputs[0].data[0]);
        if (h.calls.length === WARMED.length) return h; // the replacement: its warmup calls only
      }
      return undefined;
    }, 15_000, "a request on the replacement instance");
    expect(fresh!.calls).toEqual(WARMED);
  });

  describe("a sample that cannot run fails the load", () => {
    it("a response error: Triton's text naming the sample", async () => {
      const r = await load("warm_fails");
      expect(r.status).toBe(400);
      expect(r.body.error).toContain("failed to run warmup sample 'bad': no warm welcome");
      expect((await fetch(`${server.url}/v2/models/warm_fails/ready`)).status).not.toBe(200);
    });

    const base = {
      name: "cold", backend: "typescript", max_batch_size: 0,
      input: [{ name: "INPUT0", data_type: "TYPE_FP32", dims: [-1] }],
      output: [{ name: "OUTPUT0", data_type: "TYPE_FP32", dims: [-1] }, { name: "HISTORY", data_type: "TYPE_STRING", dims: [1] }],
    };
    const sample = (input: Record<string, unknown>) => ({ ...base, model_warmup: [{ name: "s", batch_size: 1, inputs: { INPUT0: { data_type: "TYPE_FP32", ...input } } }] });

    it.each([
      [{ dims: [-1], zero_data: true }, "warmup setting expects all variable-size dimensions are specified for input 'INPUT0'"],
      [{ dims: [2] }, "warmup setting expects input 'INPUT0' to have input_data_type set"],
      [{ dims: [100], input_data_file: "../../warm/warmup/input0.bin" }, "is outside model directory"],
    ])("%j", async (input, text) => {
      const r = await load("cold", sample(input));
      expect(r.status).toBe(400);
      expect(r.body.error).toContain(text);
      // A failed reload keeps the serving version.
      expect((await infer("cold")).status).toBe(200);
    });

    it("a file shorter than the input", async () => {
      // warm's folder holds the file: load warm with a sample that needs more bytes than it has.
      const r = await load("warm", { ...sample({ dims: [100], input_data_file: "input0.bin" }), name: "warm" });
      expect(r.status).toBe(400);
      expect(r.body.error).toContain("warmup setting expects 400 bytes, but the data provided from input0.bin only has 39 bytes");
    });
  });
});
