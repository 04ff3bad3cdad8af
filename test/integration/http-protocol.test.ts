/**
 * The KServe v2 HTTP protocol against the real server (real stubs, real shared memory): JSON and
 * binary tensors, requested outputs, ids, parameters both ways, the classification extension,
 * batching models, and every error a client can provoke, with Triton's texts and statuses.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdirSync } from "node:fs";
import { gzipSync, deflateSync } from "node:zlib";
import { join } from "node:path";
import { FIXTURES, inferBinary, startServer, type RunningServer } from "./harness.js";

const REPO = join(FIXTURES, "http-repo");
const MAX_INPUT = 64 * 1024;

let server: RunningServer;
/** Every response body this file received: none may name a shared-memory segment or /dev/shm. */
const bodies: string[] = [];

beforeAll(async () => {
  server = await startServer(REPO, { args: ["--http-max-input-size", String(MAX_INPUT)] });
});

afterAll(async () => {
  expect(await server.stop()).toBe(0);
  // Every segment was unlinked: by its opener, or by its creator on exit.
  expect(readdirSync("/dev/shm").filter((e) => e.startsWith(`tessera-${server.pid}-`))).toEqual([]);
});

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

async function request(method: string, path: string, body?: string | Uint8Array, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(`${server.url}${path}`, { method, body: body as BodyInit | undefined, headers });
  const buf = Buffer.from(await res.arrayBuffer());
  const hl = res.headers.get("inference-header-content-length");
  const text = (hl === null ? buf : buf.subarray(0, Number(hl))).toString("utf8");
  bodies.push(text);
  let parsed: any = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

const infer = (model: string, body: unknown) => request("POST", `/v2/models/${model}/infer`, JSON.stringify(body), { "content-type": "application/json" });

async function binary(model: string, inputs: Parameters<typeof inferBinary>[2], extra: Record<string, unknown> = {}) {
  const r = await inferBinary(server.url, model, inputs, extra);
  bodies.push(JSON.stringify(r.json));
  return r;
}

const f32 = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);
const fromF32 = (bytes: Uint8Array) => Array.from(new Float32Array(Uint8Array.from(bytes).buffer));
/** Triton's BYTES serialization: a 4-byte little-endian length before each element. */
function bytesTensor(items: string[]): Uint8Array {
  return Buffer.concat(items.flatMap((s) => {
    const b = Buffer.from(s, "utf8");
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    return [len, b];
  }));
}
function fromBytesTensor(raw: Uint8Array): string[] {
  const buf = Buffer.from(raw);
  const out: string[] = [];
  for (let at = 0; at < buf.length;) {
    const n = buf.readUInt32LE(at);
    out.push(buf.toString("utf8", at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

const fp32Input = (data: unknown, shape = [1, 2]) => ({ name: "IN_FP32", datatype: "FP32", shape, data });
const noId = "[request id: <id_unknown>] ";

describe("JSON tensors", () => {
  it("accepts flat and nested data for every JSON datatype and returns them as flat data", async () => {
    const r = await infer("echo", {
      id: "json-1",
      inputs: [
        fp32Input([[1.5, -2], [3, 4.25]], [2, 2]),
        { name: "IN_INT64", datatype: "INT64", shape: [3], data: [9007199254740991, -9007199254740991, 0] },
        { name: "IN_BYTES", datatype: "BYTES", shape: [3], data: ["hé", "", "x y"] },
        { name: "IN_BOOL", datatype: "BOOL", shape: [2], data: [true, false] },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(r.body).toEqual({
      id: "json-1",
      model_name: "echo",
      model_version: "1",
      parameters: { echoed: true },
      outputs: [
        { name: "OUT_FP32", datatype: "FP32", shape: [2, 2], data: [1.5, -2, 3, 4.25] },
        { name: "OUT_INT64", datatype: "INT64", shape: [3], data: [9007199254740991, -9007199254740991, 0] },
        { name: "OUT_BYTES", datatype: "BYTES", shape: [3], data: ["hé", "", "x y"] },
        { name: "OUT_BOOL", datatype: "BOOL", shape: [2], data: [true, false] },
        { name: "PARAMS", datatype: "BYTES", shape: [1], data: ["{}"] },
      ],
    });
  });

  it("writes 64-bit integers exactly, beyond a double's precision", async () => {
    const r = await request("POST", "/v2/models/echo/infer",
      '{"inputs":[{"name":"IN_FP32","datatype":"FP32","shape":[1,1],"data":[0]},' +
      '{"name":"IN_INT64","datatype":"INT64","shape":[1],"data":[-9007199254740991]}],"outputs":[{"name":"OUT_INT64"}]}');
    expect(r.status).toBe(200);
    expect(r.text).toContain('"data":[-9007199254740991]');
  });

  it("accepts a gzip or deflate compressed body and refuses an unknown encoding", async () => {
    const body = JSON.stringify({ inputs: [fp32Input([7, 8])] });
    for (const [encoding, data] of [["gzip", gzipSync(body)], ["deflate", deflateSync(body)]] as const) {
      const r = await request("POST", "/v2/models/echo/infer", data, { "content-encoding": encoding });
      expect(r.status).toBe(200);
      expect(r.body.outputs[0]).toEqual({ name: "OUT_FP32", datatype: "FP32", shape: [1, 2], data: [7, 8] });
    }
    const bad = await request("POST", "/v2/models/echo/infer", body, { "content-encoding": "br" });
    expect(bad.status).toBe(501);
    expect(bad.body).toEqual({ error: "Unsupported compression type" });
  });
});

describe("binary tensors", () => {
  it("round-trips binary inputs to binary outputs, BYTES included", async () => {
    const r = await binary("echo", [
      { name: "IN_FP32", datatype: "FP32", shape: [2, 3], data: f32([1, 2, 3, 4, 5, 6]) },
      { name: "IN_INT64", datatype: "INT64", shape: [2], data: new Uint8Array(new BigInt64Array([2n ** 62n, -1n]).buffer) },
      { name: "IN_BYTES", datatype: "BYTES", shape: [2], data: bytesTensor(["ab", "ünï"]) },
      { name: "IN_BOOL", datatype: "BOOL", shape: [3], data: new Uint8Array([1, 0, 1]) },
    ], { id: "bin-1" });
    expect(r.status).toBe(200);
    expect(r.json.id).toBe("bin-1");
    expect(r.json.outputs.map((o: any) => [o.name, o.datatype, o.shape])).toEqual([
      ["OUT_FP32", "FP32", [2, 3]], ["OUT_INT64", "INT64", [2]], ["OUT_BYTES", "BYTES", [2]], ["OUT_BOOL", "BOOL", [3]], ["PARAMS", "BYTES", [1]],
    ]);
    expect(r.json.outputs[0].parameters).toEqual({ binary_data_size: 24 });
    expect(fromF32(r.outputs.get("OUT_FP32")!)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(new BigInt64Array(r.outputs.get("OUT_INT64")!.slice().buffer))).toEqual([2n ** 62n, -1n]);
    expect(fromBytesTensor(r.outputs.get("OUT_BYTES")!)).toEqual(["ab", "ünï"]);
    expect(Array.from(r.outputs.get("OUT_BOOL")!)).toEqual([1, 0, 1]);
    expect(fromBytesTensor(r.outputs.get("PARAMS")!)).toEqual(["{}"]);
  });

  it("mixes JSON and binary inputs, and binary and JSON outputs per output", async () => {
    const header = Buffer.from(JSON.stringify({
      inputs: [
        { name: "IN_BOOL", datatype: "BOOL", shape: [1], data: [true] },
        { name: "IN_FP32", datatype: "FP32", shape: [1, 2], parameters: { binary_data_size: 8 } },
        { name: "IN_INT64", datatype: "INT64", shape: [2], data: [5, 6] },
      ],
      outputs: [
        { name: "OUT_FP32", parameters: { binary_data: true } },
        { name: "OUT_INT64", parameters: { binary_data: false } },
        { name: "OUT_BOOL" },
      ],
    }));
    const res = await fetch(`${server.url}/v2/models/echo/infer`, {
      method: "POST",
      body: Buffer.concat([header, f32([0.5, -0.5])]),
      headers: { "inference-header-content-length": String(header.length) },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    const buf = Buffer.from(await res.arrayBuffer());
    const hl = Number(res.headers.get("inference-header-content-length"));
    const json = JSON.parse(buf.subarray(0, hl).toString());
    bodies.push(buf.subarray(0, hl).toString());
    expect(json.outputs).toEqual([
      { name: "OUT_FP32", datatype: "FP32", shape: [1, 2], parameters: { binary_data_size: 8 } },
      { name: "OUT_INT64", datatype: "INT64", shape: [2], data: [5, 6] },
      { name: "OUT_BOOL", datatype: "BOOL", shape: [1], data: [true] },
    ]);
    expect(buf.length).toBe(hl + 8);
    expect(fromF32(buf.subarray(hl))).toEqual([0.5, -0.5]);
  });

  it("serves a raw binary request (Inference-Header-Content-Length: 0) to a one-input model", async () => {
    const res = await fetch(`${server.url}/v2/models/classifier/infer`, {
      method: "POST", body: f32([5, 4, 3, 2, 1]), headers: { "inference-header-content-length": "0" },
    });
    expect(res.status).toBe(200);
    const buf = Buffer.from(await res.arrayBuffer());
    const hl = Number(res.headers.get("inference-header-content-length"));
    const json = JSON.parse(buf.subarray(0, hl).toString());
    expect(json.outputs).toEqual([{ name: "OUTPUT0", datatype: "FP32", shape: [5], parameters: { binary_data_size: 20 } }]);
    expect(fromF32(buf.subarray(hl))).toEqual([5, 4, 3, 2, 1]);
  });
});

describe("requested outputs, id and parameters", () => {
  it("returns only the requested outputs, in the requested order", async () => {
    const r = await infer("echo", {
      inputs: [fp32Input([1, 2]), { name: "IN_BOOL", datatype: "BOOL", shape: [1], data: [false] }],
      outputs: [{ name: "OUT_BOOL" }, { name: "OUT_FP32" }],
    });
    expect(r.status).toBe(200);
    expect(r.body.outputs).toEqual([
      { name: "OUT_BOOL", datatype: "BOOL", shape: [1], data: [false] },
      { name: "OUT_FP32", datatype: "FP32", shape: [1, 2], data: [1, 2] },
    ]);
  });

  it("echoes the id, or omits it when none was sent", async () => {
    const withId = await infer("echo", { id: "my-id-ü", inputs: [fp32Input([1, 2])] });
    expect(withId.body.id).toBe("my-id-ü");
    const without = await infer("echo", { inputs: [fp32Input([1, 2])] });
    expect(without.status).toBe(200);
    expect(without.body).not.toHaveProperty("id");
  });

  it("hands request parameters to the handler and returns the handler's response parameters", async () => {
    const r = await infer("echo", {
      parameters: { temperature: 0.5, count: 3, mode: "fast", flag: true, binary_data_output: false },
      inputs: [fp32Input([1, 2])],
      outputs: [{ name: "PARAMS" }],
    });
    expect(r.status).toBe(200);
    // binary_data_output only steers the front end; the rest reach the handler as sent.
    expect(JSON.parse(r.body.outputs[0].data[0])).toEqual({ temperature: 0.5, count: 3, mode: "fast", flag: true });
    expect(r.body.parameters).toEqual({ count: 3, mode: "fast", flag: true, echoed: true }); // temperature (0.5): not a response parameter pb_utils allows
  });

  it("refuses reserved and non-scalar parameters with Triton's texts", async () => {
    const reserved = await infer("echo", { parameters: { triton_enable_x: true }, inputs: [fp32Input([1, 2])] });
    expect(reserved.status).toBe(400);
    expect(reserved.body).toEqual({ error: "parameter keys starting with 'triton_' are reserved for Triton usage and should not be specified." });
    const nested = await infer("echo", { parameters: { x: [1] }, inputs: [fp32Input([1, 2])] });
    expect(nested.status).toBe(400);
    expect(nested.body).toEqual({ error: "parameter 'x' has invalid type. It should be either 'int', 'bool', or 'string'." });
  });

  it("returns a handler's error response with its text and status", async () => {
    const r = await infer("echo", { id: "e1", parameters: { fail: "INPUT looks wrong" }, inputs: [fp32Input([1, 2])] });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: "INPUT looks wrong" });
  });

  it("fails a request whose handler throws with the handler's message, and keeps serving", async () => {
    const r = await infer("echo", { parameters: { throw: "handler blew up" }, inputs: [fp32Input([1, 2])] });
    expect(r.status).toBe(500);
    expect(r.body.error).toContain("handler blew up");
    const after = await infer("echo", { inputs: [fp32Input([3, 4])] });
    expect(after.status).toBe(200);
    expect(after.body.outputs[0].data).toEqual([3, 4]);
  });
});

describe("classification extension", () => {
  it("returns the top N as value:index:label with the model's label file", async () => {
    const r = await infer("classifier", {
      inputs: [{ name: "INPUT0", datatype: "FP32", shape: [5], data: [0.1, 0.5, 0.25, 0.75, 0.3] }],
      outputs: [{ name: "OUTPUT0", parameters: { classification: 3 } }],
    });
    expect(r.status).toBe(200);
    // Triton prints the value with std::to_string: six decimals.
    expect(r.body.outputs).toEqual([{
      name: "OUTPUT0", datatype: "BYTES", shape: [3],
      data: ["0.750000:3:fish", "0.500000:1:dog", "0.300000:4:frog"],
    }]);
  });

  it("classifies each batch entry of a batching model: shape [batch, N]", async () => {
    const r = await infer("batched", {
      inputs: [{ name: "INPUT0", datatype: "FP32", shape: [2, 3], data: [[1, 3, 2], [6, 5, 4]] }],
      outputs: [{ name: "OUTPUT0", parameters: { classification: 2 } }],
    });
    expect(r.status).toBe(200);
    expect(r.body.outputs).toEqual([{
      name: "OUTPUT0", datatype: "BYTES", shape: [2, 2],
      data: ["3.000000:1:green", "2.000000:2:blue", "6.000000:0:red", "5.000000:1:green"],
    }]);
  });

  it("caps N at the number of classes and serves classification as binary BYTES too", async () => {
    const r = await binary("classifier", [{ name: "INPUT0", datatype: "FP32", shape: [5], data: f32([1, 2, 3, 4, 5]) }],
      { outputs: [{ name: "OUTPUT0", parameters: { classification: 10, binary_data: true } }] });
    expect(r.status).toBe(200);
    expect(r.json.outputs[0]).toMatchObject({ name: "OUTPUT0", datatype: "BYTES", shape: [5] });
    expect(fromBytesTensor(r.outputs.get("OUTPUT0")!)).toEqual([
      "5.000000:4:frog", "4.000000:3:fish", "3.000000:2:bird", "2.000000:1:dog", "1.000000:0:cat",
    ]);
  });
});

describe("batching models (max_batch_size > 0)", () => {
  it("shows the batch dimension as -1 in metadata and keeps max_batch_size in the config", async () => {
    const meta = await request("GET", "/v2/models/batched");
    expect(meta.status).toBe(200);
    expect(meta.body).toEqual({
      name: "batched", versions: ["1"], platform: "typescript",
      inputs: [{ name: "INPUT0", datatype: "FP32", shape: [-1, 3] }],
      outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [-1, 3] }],
    });
    const config = await request("GET", "/v2/models/batched/config");
    expect(config.body.max_batch_size).toBe(4);
    expect(config.body.input[0].dims).toEqual([3]);
    expect(config.body.output[0].label_filename).toBe("labels.txt");
  });

  it("serves batches from 1 up to max_batch_size", async () => {
    for (const b of [1, 4]) {
      const data = Array.from({ length: b * 3 }, (_, i) => i);
      const r = await infer("batched", { inputs: [{ name: "INPUT0", datatype: "FP32", shape: [b, 3], data }] });
      expect(r.status).toBe(200);
      expect(r.body.outputs[0]).toEqual({ name: "OUTPUT0", datatype: "FP32", shape: [b, 3], data });
    }
  });

  it("refuses a batch over max_batch_size, an empty batch and a missing batch dimension", async () => {
    const over = await infer("batched", { inputs: [{ name: "INPUT0", datatype: "FP32", shape: [5, 3], data: new Array(15).fill(0) }] });
    expect(over.status).toBe(400);
    expect(over.body).toEqual({ error: `${noId}inference request batch-size must be <= 4 for 'batched'` });
    const zero = await infer("batched", { inputs: [{ name: "INPUT0", datatype: "FP32", shape: [0, 3], data: [] }] });
    expect(zero.status).toBe(400);
    expect(zero.body).toEqual({ error: `${noId}inference request batch-size must be <= 4 for 'batched'` });
    const flat = await infer("batched", { inputs: [{ name: "INPUT0", datatype: "FP32", shape: [3], data: [1, 2, 3] }] });
    expect(flat.status).toBe(400);
    expect(flat.body).toEqual({ error: `${noId}unexpected shape for input 'INPUT0' for model 'batched'. Expected [-1,3], got [3]` });
  });
});

describe("errors: models and versions", () => {
  it("404 for an unknown model, on every model endpoint", async () => {
    const text = { error: "Request for unknown model: 'nope' is not found" };
    for (const [method, path] of [["GET", "/v2/models/nope"], ["GET", "/v2/models/nope/config"]] as const) {
      const r = await request(method, path);
      expect(r.status).toBe(404);
      expect(r.body).toEqual(text);
    }
    const r = await infer("nope", { inputs: [] });
    expect(r.status).toBe(404);
    expect(r.body).toEqual(text);
    const ready = await request("GET", "/v2/models/nope/ready");
    expect(ready.status).toBe(400);
  });

  it("404 for an unknown version", async () => {
    const text = { error: "Request for unknown model: 'echo' version 7 is not found" };
    const meta = await request("GET", "/v2/models/echo/versions/7");
    expect(meta.status).toBe(404);
    expect(meta.body).toEqual(text);
    const r = await request("POST", "/v2/models/echo/versions/7/infer", JSON.stringify({ inputs: [fp32Input([1, 2])] }));
    expect(r.status).toBe(404);
    expect(r.body).toEqual(text);
  });
});

describe("errors: request contents (400, Triton's texts)", () => {
  it("unexpected shape", async () => {
    const r = await infer("echo", { id: "s1", inputs: [fp32Input([1, 2], [2])] });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: "[request id: s1] unexpected shape for input 'IN_FP32' for model 'echo'. Expected [-1,-1], got [2]" });
  });

  it("wrong datatype", async () => {
    const r = await infer("echo", { inputs: [{ name: "IN_FP32", datatype: "INT32", shape: [1, 1], data: [1] }] });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: `${noId}inference input 'IN_FP32' data-type is 'INT32', but model 'echo' expects 'FP32'` });
  });

  it("missing required input", async () => {
    const r = await infer("echo", { inputs: [{ name: "IN_BOOL", datatype: "BOOL", shape: [1], data: [true] }] });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      // Some inputs are optional: Triton states the range.
      error: `${noId}expected number of inputs between 1 and 4 but got 1 inputs for model 'echo'. Got input(s) ['IN_BOOL'], but missing required input(s) ['IN_FP32']. Please provide all required input(s).`,
    });
  });

  it("extra (unknown) input", async () => {
    const r = await infer("echo", { inputs: [fp32Input([1, 2]), { name: "EXTRA", datatype: "FP32", shape: [1], data: [1] }] });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: `${noId}unexpected inference input 'EXTRA' for model 'echo'` });
  });

  it("the same input twice", async () => {
    const r = await infer("echo", { inputs: [fp32Input([1, 2]), fp32Input([1, 2])] });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: `${noId}input 'IN_FP32' already exists in request` });
  });

  it("unknown requested output", async () => {
    const r = await infer("echo", { inputs: [fp32Input([1, 2])], outputs: [{ name: "NOPE" }] });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: `${noId}unexpected inference output 'NOPE' for model 'echo'` });
  });

  it("JSON data that does not fit the shape or datatype", async () => {
    const count = await infer("echo", { inputs: [fp32Input([1, 2, 3])] });
    expect(count.status).toBe(400);
    expect(count.body.error).toContain("IN_FP32");
    const kind = await infer("echo", { inputs: [fp32Input(["a", 2])] });
    expect(kind.status).toBe(400);
    expect(kind.body.error).toContain("IN_FP32");
    const dt = await infer("echo", { inputs: [{ name: "IN_FP32", datatype: "FLOAT", shape: [1, 1], data: [1] }] });
    expect(dt.status).toBe(400);
  });

  it("malformed JSON", async () => {
    const r = await request("POST", "/v2/models/echo/infer", '{"inputs": [ {"name":');
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/^failed to parse the request JSON buffer/);
    const notObject = await request("POST", "/v2/models/echo/infer", "[]");
    expect(notObject.status).toBe(400);
  });

  it("Inference-Header-Content-Length past the end of the body", async () => {
    const body = JSON.stringify({ inputs: [fp32Input([1, 2])] });
    const r = await request("POST", "/v2/models/echo/infer", body, { "inference-header-content-length": "5000" });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: `inference header size should be in range (0, ${Buffer.byteLength(body)}), got: 5000` });
    const junk = await request("POST", "/v2/models/echo/infer", body, { "inference-header-content-length": "abc" });
    expect(junk.status).toBe(400);
  });

  it("binary data shorter or longer than binary_data_size says", async () => {
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: "IN_FP32", datatype: "FP32", shape: [1, 2], parameters: { binary_data_size: 8 } }] }));
    const short = await request("POST", "/v2/models/echo/infer", Buffer.concat([header, Buffer.alloc(4)]), { "inference-header-content-length": String(header.length) });
    expect(short.status).toBe(400);
    expect(short.body).toEqual({ error: "unexpected size for input 'IN_FP32', expecting 4 additional bytes for model 'echo'" });
    const long = await request("POST", "/v2/models/echo/infer", Buffer.concat([header, Buffer.alloc(12)]), { "inference-header-content-length": String(header.length) });
    expect(long.status).toBe(400);
    expect(long.body.error).toContain("unexpected additional input data for model 'echo'");
  });

  it("binary_data_size that does not match the shape", async () => {
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: "IN_FP32", datatype: "FP32", shape: [1, 2], parameters: { binary_data_size: 4 } }] }));
    const r = await request("POST", "/v2/models/echo/infer", Buffer.concat([header, Buffer.alloc(4)]), { "inference-header-content-length": String(header.length) });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: "input byte size mismatch for input 'IN_FP32' for model 'echo'. Expected 8, got 4" });
  });
});

describe("errors: transport", () => {
  it("413 for a body over --http-max-input-size, by Content-Length or chunked; the server serves on", async () => {
    const big = Buffer.alloc(MAX_INPUT + 1, 0x20);
    const r = await request("POST", "/v2/models/echo/infer", big);
    expect(r.status).toBe(413);
    expect(r.body.error).toContain(`exceeds the maximum allowed`);
    expect(r.body.error).toContain("--http-max-input-size");

    const chunked = await fetch(`${server.url}/v2/models/echo/infer`, {
      method: "POST",
      body: new ReadableStream({
        start(c) {
          c.enqueue(new Uint8Array(MAX_INPUT / 2));
          c.enqueue(new Uint8Array(MAX_INPUT / 2 + 10));
          c.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
    bodies.push(await chunked.text());

    const ok = await infer("echo", { inputs: [fp32Input([1, 2])] });
    expect(ok.status).toBe(200);
  });

  it("a body just under the limit is accepted", async () => {
    const prefix = JSON.stringify({ inputs: [fp32Input([1, 2])] });
    const padded = prefix.slice(0, -1) + " ".repeat(MAX_INPUT - prefix.length) + "}";
    expect(Buffer.byteLength(padded)).toBe(MAX_INPUT);
    const r = await request("POST", "/v2/models/echo/infer", padded);
    expect(r.status).toBe(200);
  });

  it("404 for unknown paths", async () => {
    for (const path of ["/", "/v3", "/v2/", "/v2/models", "/v2/models/echo/bogus", "/v2/models/echo/versions/x", "/v2/health", "/v2/health/dead"]) {
      const r = await request("GET", path);
      expect(r.status, path).toBe(404);
    }
  });

  it("405 for a known path with the wrong method", async () => {
    for (const [method, path] of [
      ["GET", "/v2/models/echo/infer"], ["POST", "/v2/health/ready"], ["POST", "/v2/models/echo"],
      ["DELETE", "/v2/models/echo"], ["PUT", "/v2/models/echo/infer"], ["GET", "/v2/repository/index"],
    ] as const) {
      const r = await request(method, path);
      expect(r.status, `${method} ${path}`).toBe(405);
    }
  });
});

describe("no leaks", () => {
  it("no response named a shared-memory segment or /dev/shm", () => {
    expect(bodies.length).toBeGreaterThan(40);
    const segment = new RegExp(`/dev/shm|tessera-${server.pid}`);
    for (const b of bodies) expect(b).not.toMatch(segment);
  });
});
