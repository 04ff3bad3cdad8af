/**
 * Every model of examples/model_repository loads and serves over the real HTTP front end, with
 * the metadata, config and results a Triton user expects from the same repository.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, inferBinary, postJson, startServer, type RunningServer } from "./harness.js";

const EXAMPLES = join(ROOT, "examples", "model_repository");

let server: RunningServer;

beforeAll(async () => {
  server = await startServer(EXAMPLES);
});

afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

const f32 = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);
const fromF32 = (bytes: Uint8Array) => Array.from(new Float32Array(Uint8Array.from(bytes).buffer));

async function getJson(path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}${path}`);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

describe("server", () => {
  it("is live and ready", async () => {
    expect((await fetch(`${server.url}/v2/health/live`)).status).toBe(200);
    expect((await fetch(`${server.url}/v2/health/ready`)).status).toBe(200);
  });

  it("serves its metadata at /v2", async () => {
    const { status, body } = await getJson("/v2");
    expect(status).toBe(200);
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(Object.keys(body)).toEqual(["name", "version", "extensions"]);
    // Triton's name (clients check it), tessera's version.
    expect(body.name).toBe("triton");
    expect(body.version).toBe(pkg.version);
    // The extensions this server implements, by Triton's names.
    expect(body.extensions).toEqual(expect.arrayContaining(
      ["classification", "model_repository", "model_configuration", "binary_tensor_data", "parameters"]));
  });

  it("prints the start-up table with every example model READY", () => {
    expect(server.log()).toMatch(/\|\s*add_sub\s*\|\s*1\s*\|\s*READY\s*\|/);
    expect(server.log()).toMatch(/\|\s*my_python_model\s*\|\s*1\s*\|\s*READY\s*\|/);
    expect(server.log()).toMatch(/\|\s*running_mean\s*\|\s*1\s*\|\s*READY\s*\|/);
    expect(server.log()).toMatch(/\|\s*text_generator\s*\|\s*1\s*\|\s*READY\s*\|/);
    for (const m of ["embedding", "tokenizer", "text_encoder", "ppocr_cls", "ppocr_rec", "ocr"]) {
      expect(server.log()).toMatch(new RegExp(`\\|\\s*${m}\\s*\\|\\s*1\\s*\\|\\s*READY\\s*\\|`));
    }
  });

  it("lists every example model READY in the repository index", async () => {
    const { status, body } = await postJson(`${server.url}/v2/repository/index`, {});
    expect(status).toBe(200);
    expect(body).toEqual([
      { name: "add_sub", version: "1", state: "READY", reason: "" },
      { name: "embedding", version: "1", state: "READY", reason: "" },
      { name: "my_python_model", version: "1", state: "READY", reason: "" },
      { name: "ocr", version: "1", state: "READY", reason: "" },
      { name: "ppocr_cls", version: "1", state: "READY", reason: "" },
      { name: "ppocr_rec", version: "1", state: "READY", reason: "" },
      { name: "running_mean", version: "1", state: "READY", reason: "" },
      { name: "text_encoder", version: "1", state: "READY", reason: "" },
      { name: "text_generator", version: "1", state: "READY", reason: "" },
      { name: "tokenizer", version: "1", state: "READY", reason: "" },
    ]);
  });

  it("reports each model and version ready, and an absent version not ready", async () => {
    for (const m of ["add_sub", "my_python_model", "running_mean", "text_generator", "embedding", "tokenizer", "text_encoder", "ppocr_cls", "ocr"]) {
      expect((await fetch(`${server.url}/v2/models/${m}/ready`)).status).toBe(200);
      expect((await fetch(`${server.url}/v2/models/${m}/versions/1/ready`)).status).toBe(200);
      expect((await fetch(`${server.url}/v2/models/${m}/versions/2/ready`)).status).toBe(400);
    }
  });
});

describe("my_python_model (OUTPUT0 = INPUT0 + 1)", () => {
  it("has Triton's metadata", async () => {
    const { status, body } = await getJson("/v2/models/my_python_model");
    expect(status).toBe(200);
    expect(body).toEqual({
      name: "my_python_model",
      versions: ["1"],
      platform: "python",
      inputs: [{ name: "INPUT0", datatype: "FP32", shape: [-1] }],
      outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [-1] }],
    });
    const v1 = await getJson("/v2/models/my_python_model/versions/1");
    expect(v1.body).toEqual(body);
  });

  it("has the config Triton prints (proto field names, defaults filled)", async () => {
    const { status, body } = await getJson("/v2/models/my_python_model/config");
    expect(status).toBe(200);
    expect(body).toMatchObject({
      name: "my_python_model",
      platform: "",
      backend: "python",
      version_policy: { latest: { num_versions: 1 } },
      max_batch_size: 0,
      input: [{
        name: "INPUT0", data_type: "TYPE_FP32", format: "FORMAT_NONE", dims: [-1],
        is_shape_tensor: false, allow_ragged_batch: false, optional: false,
      }],
      output: [{ name: "OUTPUT0", data_type: "TYPE_FP32", dims: [-1], label_filename: "", is_shape_tensor: false }],
      batch_input: [],
      batch_output: [],
      instance_group: [{ name: "my_python_model_0", kind: "KIND_CPU", count: 1, gpus: [], profile: [], passive: false, host_policy: "" }],
      parameters: {},
      model_warmup: [],
    });
    // No dynamic batching, ensemble or sequence batching was configured: Triton omits them.
    expect(body).not.toHaveProperty("dynamic_batching");
    expect(body).not.toHaveProperty("sequence_batching");
    expect(body).not.toHaveProperty("ensemble_scheduling");
  });

  it("adds one (JSON in, JSON out) and echoes the id", async () => {
    const { status, body } = await postJson(`${server.url}/v2/models/my_python_model/infer`, {
      id: "req-1",
      inputs: [{ name: "INPUT0", datatype: "FP32", shape: [4], data: [0, 1.5, -2, 100] }],
    });
    expect(status).toBe(200);
    expect(body).toEqual({
      id: "req-1",
      model_name: "my_python_model",
      model_version: "1",
      outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [4], data: [1, 2.5, -1, 101] }],
    });
  });

  it("adds one (binary in, binary out), also at an explicit version", async () => {
    for (const path of ["my_python_model", "my_python_model/versions/1"]) {
      const r = await inferBinary(server.url, path, [{ name: "INPUT0", datatype: "FP32", shape: [3], data: f32([1, 2, 3]) }]);
      expect(r.status).toBe(200);
      expect(r.json.model_name).toBe("my_python_model");
      expect(r.json.model_version).toBe("1");
      expect(r.json.outputs).toEqual([{ name: "OUTPUT0", datatype: "FP32", shape: [3], parameters: { binary_data_size: 12 } }]);
      expect(fromF32(r.outputs.get("OUTPUT0")!)).toEqual([2, 3, 4]);
    }
  });

  it("handles an empty tensor and a large one (past the default 1 MiB arena)", async () => {
    const empty = await postJson(`${server.url}/v2/models/my_python_model/infer`, {
      inputs: [{ name: "INPUT0", datatype: "FP32", shape: [0], data: [] }],
    });
    expect(empty.status).toBe(200);
    expect(empty.body.outputs).toEqual([{ name: "OUTPUT0", datatype: "FP32", shape: [0], data: [] }]);

    const n = 1_000_000; // 4 MB each way
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = i % 977;
    const r = await inferBinary(server.url, "my_python_model", [{ name: "INPUT0", datatype: "FP32", shape: [n], data: new Uint8Array(values.buffer) }]);
    expect(r.status).toBe(200);
    const out = new Float32Array(r.outputs.get("OUTPUT0")!.slice().buffer);
    expect(out.length).toBe(n);
    let wrong = 0;
    for (let i = 0; i < n; i++) if (out[i] !== values[i] + 1) wrong++;
    expect(wrong).toBe(0);
  });

  it("serves concurrent requests, each with its own result", async () => {
    const results = await Promise.all(Array.from({ length: 16 }, (_, k) =>
      inferBinary(server.url, "my_python_model", [{ name: "INPUT0", datatype: "FP32", shape: [2], data: f32([k, -k]) }])));
    results.forEach((r, k) => {
      expect(r.status).toBe(200);
      expect(fromF32(r.outputs.get("OUTPUT0")!)).toEqual([k + 1, -k + 1]);
    });
  });
});

describe("running_mean (a sequence model with implicit state)", () => {
  const step = (id: number | string, value: number, parameters: Record<string, unknown>) => postJson(`${server.url}/v2/models/running_mean/infer`, {
    inputs: [{ name: "VALUE", datatype: "FP32", shape: [1, 1], data: [value] }],
    parameters: { sequence_id: id, ...parameters },
  });
  const mean = (r: { body: any }) => r.body.outputs.find((o: { name: string }) => o.name === "MEAN").data[0];

  it("answers the README's curl example: the mean of its sequence's values so far", async () => {
    expect(mean(await step(42, 10, { sequence_start: true }))).toBe(10);
    expect(mean(await step(42, 20, {}))).toBe(15);
    expect(mean(await step(42, 60, { sequence_end: true }))).toBe(30);
  });

  it("keeps concurrent sequences apart, string ids too; refuses a request without START", async () => {
    const run = async (id: number | string, values: number[]) => {
      const out: number[] = [];
      for (let i = 0; i < values.length; i++) {
        out.push(mean(await step(id, values[i]!, { sequence_start: i === 0, sequence_end: i === values.length - 1 })));
      }
      return out;
    };
    const [a, b] = await Promise.all([run("walk-a", [1, 3, 5, 7]), run(7, [100, 0, 50, 10])]);
    expect(a).toEqual([1, 2, 3, 4]);
    expect(b).toEqual([100, 50, 50, 40]);
    const r = await step(43, 1, {});
    expect(r).toEqual({ status: 400, body: { error: "inference request for sequence 43 to model 'running_mean' must specify the START flag on the first request of the sequence" } });
  });
});

describe("add_sub (OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1)", () => {
  it("has Triton's metadata", async () => {
    const { status, body } = await getJson("/v2/models/add_sub");
    expect(status).toBe(200);
    expect(body).toEqual({
      name: "add_sub",
      versions: ["1"],
      platform: "python",
      inputs: [
        { name: "INPUT0", datatype: "FP32", shape: [4] },
        { name: "INPUT1", datatype: "FP32", shape: [4] },
      ],
      outputs: [
        { name: "OUTPUT0", datatype: "FP32", shape: [4] },
        { name: "OUTPUT1", datatype: "FP32", shape: [4] },
      ],
    });
  });

  it("has the config Triton prints", async () => {
    const { status, body } = await getJson("/v2/models/add_sub/config");
    expect(status).toBe(200);
    // Triton's top-level names, in the order protobuf's printer writes them.
    expect(Object.keys(body).slice(0, 12)).toEqual([
      "name", "platform", "backend", "runtime", "version_policy", "max_batch_size", "input", "output",
      "batch_input", "batch_output", "optimization", "instance_group",
    ]);
    expect(body).toMatchObject({
      name: "add_sub",
      backend: "python",
      max_batch_size: 0,
      input: [
        { name: "INPUT0", data_type: "TYPE_FP32", dims: [4] },
        { name: "INPUT1", data_type: "TYPE_FP32", dims: [4] },
      ],
      output: [
        { name: "OUTPUT0", data_type: "TYPE_FP32", dims: [4] },
        { name: "OUTPUT1", data_type: "TYPE_FP32", dims: [4] },
      ],
      optimization: { priority: "PRIORITY_DEFAULT", input_pinned_memory: { enable: true }, output_pinned_memory: { enable: true } },
      instance_group: [{ name: "add_sub_0", kind: "KIND_CPU", count: 1 }],
    });
    const v1 = await getJson("/v2/models/add_sub/versions/1/config");
    expect(v1.body).toEqual(body);
  });

  it("adds and subtracts (JSON)", async () => {
    const { status, body } = await postJson(`${server.url}/v2/models/add_sub/infer`, {
      inputs: [
        { name: "INPUT0", datatype: "FP32", shape: [4], data: [1, 2, 3, 4] },
        { name: "INPUT1", datatype: "FP32", shape: [4], data: [[10, 20], [30, 40]] },
      ],
    });
    expect(status).toBe(200);
    expect(body).toEqual({
      model_name: "add_sub",
      model_version: "1",
      outputs: [
        { name: "OUTPUT0", datatype: "FP32", shape: [4], data: [11, 22, 33, 44] },
        { name: "OUTPUT1", datatype: "FP32", shape: [4], data: [-9, -18, -27, -36] },
      ],
    });
  });

  it("adds and subtracts (binary), returning only the requested output", async () => {
    const inputs = [
      { name: "INPUT0", datatype: "FP32", shape: [4], data: f32([0.5, 1, 1.5, 2]) },
      { name: "INPUT1", datatype: "FP32", shape: [4], data: f32([0.25, 0.5, 0.75, 1]) },
    ];
    const all = await inferBinary(server.url, "add_sub", inputs);
    expect(all.status).toBe(200);
    expect(fromF32(all.outputs.get("OUTPUT0")!)).toEqual([0.75, 1.5, 2.25, 3]);
    expect(fromF32(all.outputs.get("OUTPUT1")!)).toEqual([0.25, 0.5, 0.75, 1]);

    const diffOnly = await inferBinary(server.url, "add_sub", inputs, { outputs: [{ name: "OUTPUT1" }] });
    expect(diffOnly.status).toBe(200);
    expect(diffOnly.json.outputs.map((o: any) => o.name)).toEqual(["OUTPUT1"]);
    expect(fromF32(diffOnly.outputs.get("OUTPUT1")!)).toEqual([0.25, 0.5, 0.75, 1]);
  });

  it("rejects missing inputs with Triton's text", async () => {
    const none = await postJson(`${server.url}/v2/models/add_sub/infer`, { inputs: [] });
    expect(none.status).toBe(400);
    expect(none.body).toEqual({
      error: "[request id: <id_unknown>] expected 2 inputs but got 0 inputs for model 'add_sub'. Got input(s) [], " +
        "but missing required input(s) ['INPUT0','INPUT1']. Please provide all required input(s).",
    });
    const one = await postJson(`${server.url}/v2/models/add_sub/infer`, {
      id: "m1", inputs: [{ name: "INPUT1", datatype: "FP32", shape: [4], data: [1, 2, 3, 4] }],
    });
    expect(one.status).toBe(400);
    expect(one.body).toEqual({
      error: "[request id: m1] expected 2 inputs but got 1 inputs for model 'add_sub'. Got input(s) ['INPUT1'], " +
        "but missing required input(s) ['INPUT0']. Please provide all required input(s).",
    });
  });

  it("rejects a wrong shape with Triton's text", async () => {
    const { status, body } = await postJson(`${server.url}/v2/models/add_sub/infer`, {
      inputs: [
        { name: "INPUT0", datatype: "FP32", shape: [3], data: [1, 2, 3] },
        { name: "INPUT1", datatype: "FP32", shape: [4], data: [1, 2, 3, 4] },
      ],
    });
    expect(status).toBe(400);
    expect(body).toEqual({
      error: "[request id: <id_unknown>] unexpected shape for input 'INPUT0' for model 'add_sub'. Expected [4], got [3]",
    });
  });
});
