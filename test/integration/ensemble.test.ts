/**
 * Ensembles (platform "ensemble") on the real server: steps run as a data-flow graph on their
 * composing models (real stubs), parallel steps included; outputs in JSON and binary; a composing
 * model's error comes back with Triton's "in ensemble" prefix; composing models count their own
 * statistics; loading an ensemble in explicit mode loads what it depends on, and a missing
 * dependency fails the load.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, inferBinary, postJson, startServer, type RunningServer } from "./harness.js";

const REPO = join(FIXTURES, "ensemble-repo");
const f32 = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);
const fromF32 = (bytes: Uint8Array) => Array.from(new Float32Array(Uint8Array.from(bytes).buffer));
const x = (data: number[]) => ({ inputs: [{ name: "X", datatype: "FP32", shape: [data.length], data }] });

describe("an ensemble, all models loaded at start-up", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(REPO);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
    expect(readdirSync("/dev/shm").filter((e) => e.startsWith(`tessera-${server.pid}-`))).toEqual([]);
  });

  it("serves its metadata with platform 'ensemble'", async () => {
    const meta = await (await fetch(`${server.url}/v2/models/pipeline`)).json();
    expect(meta).toEqual({
      name: "pipeline", versions: ["1"], platform: "ensemble",
      inputs: [{ name: "X", datatype: "FP32", shape: [-1] }],
      outputs: [{ name: "Y", datatype: "FP32", shape: [-1] }, { name: "Z", datatype: "FP32", shape: [-1] }],
    });
  });

  it("runs the steps in data-flow order and answers every output", async () => {
    const r = await postJson(`${server.url}/v2/models/pipeline/infer`, x([1, 2, 3]));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.outputs).toEqual([
      { name: "Y", datatype: "FP32", shape: [3], data: [4, 6, 8] },
      { name: "Z", datatype: "FP32", shape: [3], data: [2, 4, 6] },
    ]);
  });

  it("answers in binary, and only the outputs asked for", async () => {
    const r = await inferBinary(server.url, "pipeline", [{ name: "X", datatype: "FP32", shape: [2], data: f32([10, 20]) }], { outputs: [{ name: "Z" }] });
    expect(r.status).toBe(200);
    expect([...r.outputs.keys()]).toEqual(["Z"]);
    expect(fromF32(r.outputs.get("Z")!)).toEqual([20, 40]);
  });

  it("keeps concurrent requests apart", async () => {
    const all = await Promise.all(Array.from({ length: 40 }, (_, i) => postJson(`${server.url}/v2/models/pipeline/infer`, x([i, i + 0.5]))));
    all.forEach((r, i) => {
      expect(r.body.outputs[0].data).toEqual([(i + 1) * 2, (i + 1.5) * 2]);
      expect(r.body.outputs[1].data).toEqual([i * 2, (i + 0.5) * 2]);
    });
  });

  it("fails with the composing model's error, prefixed as Triton does, and its status", async () => {
    const r = await postJson(`${server.url}/v2/models/pipeline/infer`, { ...x([1]), parameters: { fail: "no good" } });
    expect(r).toEqual({ status: 400, body: { error: "in ensemble 'pipeline', no good" } });
  });

  it("validates the request against the ensemble's own inputs", async () => {
    const r = await postJson(`${server.url}/v2/models/pipeline/infer`, { inputs: [{ name: "NOPE", datatype: "FP32", shape: [1], data: [1] }] });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/pipeline/);
  });

  it("each composing model counts the requests its steps sent", async () => {
    const stat = async (m: string) => Number((await (await fetch(`${server.url}/v2/models/${m}/stats`)).json()).model_stats[0].inference_stats.success.count);
    const before = await Promise.all(["pipeline", "add_one", "double"].map(stat));
    await postJson(`${server.url}/v2/models/pipeline/infer`, x([1]));
    const after = await Promise.all(["pipeline", "add_one", "double"].map(stat));
    expect(after.map((n, i) => n - before[i])).toEqual([1, 1, 2]);
  });
});

describe("an ensemble in explicit model control", () => {
  it("loads the models it depends on, and a missing one fails its load", async () => {
    const server = await startServer(REPO, { args: ["--model-control-mode", "explicit", "--load-model", "pipeline"] });
    try {
      const index = await postJson(`${server.url}/v2/repository/index`, {});
      expect(index.body.filter((e: { state: string }) => e.state === "READY").map((e: { name: string }) => e.name).sort())
        .toEqual(["add_one", "double", "pipeline"]);
      const config = JSON.stringify({
        name: "pipeline", platform: "ensemble",
        input: [{ name: "X", data_type: "TYPE_FP32", dims: [-1] }], output: [{ name: "Y", data_type: "TYPE_FP32", dims: [-1] }],
        ensemble_scheduling: { step: [{ model_name: "nope", model_version: -1, input_map: { IN: "X" }, output_map: { OUT: "Y" } }] },
      });
      const r = await postJson(`${server.url}/v2/repository/models/pipeline/load`, { parameters: { config } });
      expect(r.status).toBe(400);
      expect(r.body.error).toContain("ensemble 'pipeline' depends on 'nope', which failed to load");
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
