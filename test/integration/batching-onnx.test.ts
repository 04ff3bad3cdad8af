import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { ROOT, inferBinary, startServer, type RunningServer } from "./harness.js";
// @ts-expect-error: a plain JS module of the benchmark, without types
import { writeMlp } from "../../bench/models/make-mlp.js";

// The benchmark's MLP handler, served from a repository outside the project tree (no
// node_modules there: "tessera" and "onnxruntime-node" must still resolve).
let repo: string;
let server: RunningServer;

beforeAll(async () => {
  repo = mkdtempSync(join(tmpdir(), "tessera-onnx-"));
  cpSync(join(ROOT, "bench", "models", "mlp"), join(repo, "mlp"), { recursive: true });
  writeMlp(join(repo, "mlp", "1", "model.onnx"));
  server = await startServer(repo);
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
  rmSync(repo, { recursive: true, force: true });
});

describe("an onnxruntime handler working on whole batches", () => {
  it("answers every request with its own rows, equal to running the model in-process", async () => {
    const session = await ort.InferenceSession.create(join(repo, "mlp", "1", "model.onnx"));
    const inputs = Array.from({ length: 12 }, (_, i) => Float32Array.from({ length: 512 }, (_, k) => Math.sin(i * 7 + k)));
    const served = await Promise.all(inputs.map((x) =>
      inferBinary(server.url, "mlp", [{ name: "INPUT0", datatype: "FP32", shape: [1, 512], data: new Uint8Array(x.buffer) }])));
    const cfg = await (await fetch(`${server.url}/v2/models/mlp/config`)).json();
    expect(cfg.dynamic_batching).toBeDefined(); // Triton's default for max_batch_size > 1
    for (let i = 0; i < inputs.length; i++) {
      expect(served[i].status).toBe(200);
      const got = new Float32Array(served[i].outputs.get("OUTPUT0")!.slice().buffer);
      const want = (await session.run({ INPUT0: new ort.Tensor("float32", inputs[i], [1, 512]) })).OUTPUT0.data as Float32Array;
      expect(got.length).toBe(512);
      for (let k = 0; k < 512; k += 37) expect(got[k]).toBeCloseTo(want[k], 4);
    }
  });
});
