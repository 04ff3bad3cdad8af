import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { inferBinary, postJson, startServer, type RunningServer } from "./harness.js";
// @ts-expect-error: a plain JS module of the benchmark, without types
import { writeMlp } from "../../bench/models/make-mlp.js";
import { cudaUnavailableReason } from "../../stub/sdk/onnx.js";
import { discoverGpus } from "../../src/backends/gpus.js";

// The generated MLP served as an onnxruntime model with NO handler and NO config.pbtxt: the
// built-in backend runs it, auto-complete fills the config from the graph.
let repo: string;
let server: RunningServer;
let session: ort.InferenceSession;

const SIZES = { input: 16, hidden: 32, output: 8 };

function addMlp(name: string): string {
  mkdirSync(join(repo, name, "1"), { recursive: true });
  const file = join(repo, name, "1", "model.onnx");
  writeMlp(file, SIZES);
  return file;
}

beforeAll(async () => {
  repo = mkdtempSync(join(tmpdir(), "tessera-onnx-backend-"));
  const file = addMlp("mlp");
  for (const n of ["mlp_bad_type", "mlp_bad_dims", "mlp_gpu", "mlp_unknown_input"]) addMlp(n);
  session = await ort.InferenceSession.create(file);
  server = await startServer(repo, { args: ["--model-control-mode", "explicit", "--load-model", "mlp"] });
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
  rmSync(repo, { recursive: true, force: true });
});

const f32 = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const rows = (n: number, seed: number) => Float32Array.from({ length: n * SIZES.input }, (_, k) => Math.sin(seed * 13 + k));

async function inProcess(x: Float32Array, n: number): Promise<Float32Array> {
  return (await session.run({ INPUT0: new ort.Tensor("float32", x, [n, SIZES.input]) })).OUTPUT0.data as Float32Array;
}

describe("an onnxruntime_onnx model without a handler", () => {
  it("auto-completes its config from the graph: names, types, dims, max_batch_size 4, dynamic batching", async () => {
    const cfg = await (await fetch(`${server.url}/v2/models/mlp/config`)).json();
    expect(cfg.platform).toBe("onnxruntime_onnx");
    expect(cfg.backend).toBe("onnxruntime");
    expect(cfg.max_batch_size).toBe(4);
    expect(cfg.dynamic_batching).toBeDefined();
    expect(cfg.input.map((t: any) => [t.name, t.data_type, t.dims.map(Number)])).toEqual([["INPUT0", "TYPE_FP32", [SIZES.input]]]);
    expect(cfg.output.map((t: any) => [t.name, t.data_type, t.dims.map(Number)])).toEqual([["OUTPUT0", "TYPE_FP32", [SIZES.output]]]);
    const meta = await (await fetch(`${server.url}/v2/models/mlp`)).json();
    expect(meta.platform).toBe("onnxruntime_onnx");
    expect(meta.inputs[0].shape).toEqual([-1, SIZES.input]);
  });

  it("logs the execution provider each instance uses, and shows it in the config", async () => {
    if (discoverGpus().ids.length > 0) {
      await server.waitForLog(/'mlp' instance group 'mlp': KIND_AUTO → KIND_GPU on GPU/);
      return; // which GPU provider starts depends on the machine: the GPU tests below check it
    }
    await server.waitForLog(/'mlp' instance group 'mlp': KIND_AUTO → KIND_CPU \(no NVIDIA GPU found/);
    await server.waitForLog(/uses execution provider cpu \(KIND_CPU\)/);
    const cfg = await (await fetch(`${server.url}/v2/models/mlp/config`)).json();
    expect(cfg.parameters.execution_providers).toEqual({ string_value: "mlp_0:cpu,mlp_1:cpu" });
  });

  it("answers with the same outputs as onnxruntime in-process, batch 1 and batch 3", async () => {
    for (const n of [1, 3]) {
      const x = rows(n, n);
      const r = await inferBinary(server.url, "mlp", [{ name: "INPUT0", datatype: "FP32", shape: [n, SIZES.input], data: f32(x) }]);
      expect(r.status).toBe(200);
      expect(r.json.outputs[0]).toMatchObject({ name: "OUTPUT0", datatype: "FP32", shape: [n, SIZES.output] });
      const got = new Float32Array(r.outputs.get("OUTPUT0")!.slice().buffer);
      const want = await inProcess(x, n);
      expect(got.length).toBe(want.length);
      for (let k = 0; k < want.length; k++) expect(got[k]).toBeCloseTo(want[k], 5);
    }
  });

  it("batches concurrent requests dynamically and gives each its own rows", async () => {
    const inputs = Array.from({ length: 16 }, (_, i) => rows(1, 100 + i));
    const served = await Promise.all(inputs.map((x) =>
      inferBinary(server.url, "mlp", [{ name: "INPUT0", datatype: "FP32", shape: [1, SIZES.input], data: f32(x) }])));
    for (let i = 0; i < inputs.length; i++) {
      expect(served[i].status).toBe(200);
      const got = new Float32Array(served[i].outputs.get("OUTPUT0")!.slice().buffer);
      const want = await inProcess(inputs[i], 1);
      for (let k = 0; k < want.length; k++) expect(got[k]).toBeCloseTo(want[k], 5);
    }
    const stats = await (await fetch(`${server.url}/v2/models/mlp/stats`)).json().catch(() => null);
    const s = stats?.model_stats?.[0];
    if (s) expect(Number(s.execution_count)).toBeLessThanOrEqual(Number(s.inference_count));
  });

  it("a request over max_batch_size is refused", async () => {
    const x = rows(5, 1);
    const r = await inferBinary(server.url, "mlp", [{ name: "INPUT0", datatype: "FP32", shape: [5, SIZES.input], data: f32(x) }]);
    expect(r.status).toBe(400);
  });

  it("a config that contradicts the model's datatype is a load error naming the tensor", async () => {
    const config = JSON.stringify({ platform: "onnxruntime_onnx", max_batch_size: 4,
      input: [{ name: "INPUT0", data_type: "TYPE_INT32", dims: [SIZES.input] }] });
    const r = await postJson(`${server.url}/v2/repository/models/mlp_bad_type/load`, { parameters: { config } });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/'INPUT0'/);
    expect(r.body.error).toMatch(/TYPE_INT32/);
  });

  it("a config that contradicts the model's dims is a load error naming the tensor", async () => {
    const config = JSON.stringify({ platform: "onnxruntime_onnx", max_batch_size: 4,
      output: [{ name: "OUTPUT0", data_type: "TYPE_FP32", dims: [SIZES.output + 1] }] });
    const r = await postJson(`${server.url}/v2/repository/models/mlp_bad_dims/load`, { parameters: { config } });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/'OUTPUT0'/);
  });

  it("a config naming a tensor the model lacks is a load error naming it", async () => {
    const config = JSON.stringify({ platform: "onnxruntime_onnx", max_batch_size: 4,
      input: [{ name: "NOPE", data_type: "TYPE_FP32", dims: [SIZES.input] }] });
    const r = await postJson(`${server.url}/v2/repository/models/mlp_unknown_input/load`, { parameters: { config } });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/'NOPE'/);
  });

  const gpuMissing = cudaUnavailableReason();
  if (!gpuMissing) console.log("skipping the KIND_GPU-without-GPU test: this machine has CUDA for onnxruntime");
  else console.log(`skipping the KIND_GPU-on-CUDA test: no CUDA for onnxruntime here (${gpuMissing})`);

  it.skipIf(!!gpuMissing)("KIND_GPU on a machine with CUDA runs on the CUDA provider and says so", async () => {
    const config = JSON.stringify({ platform: "onnxruntime_onnx", instance_group: [{ kind: "KIND_GPU", count: 1, gpus: [0] }] });
    const r = await postJson(`${server.url}/v2/repository/models/mlp_gpu/load`, { parameters: { config } });
    expect(r.status).toBe(200);
    await server.waitForLog(/instance 'mlp_gpu_0_0' \(GPU device 0\) uses execution provider cuda/);
    const x = rows(2, 9);
    const res = await inferBinary(server.url, "mlp_gpu", [{ name: "INPUT0", datatype: "FP32", shape: [2, SIZES.input], data: f32(x) }]);
    const got = new Float32Array(res.outputs.get("OUTPUT0")!.slice().buffer);
    const want = await inProcess(x, 2);
    for (let k = 0; k < want.length; k++) expect(got[k]).toBeCloseTo(want[k], 3);
    await postJson(`${server.url}/v2/repository/models/mlp_gpu/unload`, {});
  });
  it.skipIf(!gpuMissing)("KIND_GPU without a usable GPU is a clear load error, not a silent CPU fallback", async () => {
    const config = JSON.stringify({ platform: "onnxruntime_onnx", instance_group: [{ kind: "KIND_GPU", count: 1 }] });
    const r = await postJson(`${server.url}/v2/repository/models/mlp_gpu/load`, { parameters: { config } });
    console.log(`KIND_GPU load error: ${r.body.error}`);
    // Triton's repository-load answer for a version that failed to start: 400, version and cause named.
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/^load failed for model 'mlp_gpu': version 1 is at UNAVAILABLE state: \w[\w ]*: /);
    expect(r.body.error).toMatch(/KIND_GPU instance: no GPU execution provider could start/);
    expect(r.body.error).toMatch(/cuda: /);
    expect(r.body.error).toMatch(/webgpu: /);
    const ready = await fetch(`${server.url}/v2/models/mlp_gpu/ready`);
    expect(ready.status).not.toBe(200);
  });
});
