import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  FakeApi, bytesOf, postBinary, postJson, readInferResponse, serializeStrings, start, type Running,
} from "./helpers.js";

let api: FakeApi;
let server: Running;
let url: string;

beforeEach(async () => {
  api = new FakeApi();
  server = await start(api, 8 << 20);
  url = server.url + "/v2/models/echo/infer";
});
afterEach(async () => {
  await server.close();
});

describe("JSON inference", () => {
  it("takes flat and nested data and answers flat JSON data", async () => {
    const res = await postJson(url, {
      id: "my-id",
      inputs: [
        { name: "flat", datatype: "FP32", shape: [2, 2], data: [1, 2, 3, 4.5] },
        { name: "nested", datatype: "INT32", shape: [2, 2], data: [[1, 2], [3, 4]] },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("inference-header-content-length")).toBeNull();
    expect(await res.json()).toEqual({
      id: "my-id",
      model_name: "echo",
      model_version: "1",
      outputs: [
        { name: "flat", datatype: "FP32", shape: [2, 2], data: [1, 2, 3, 4.5] },
        { name: "nested", datatype: "INT32", shape: [2, 2], data: [1, 2, 3, 4] },
      ],
    });
    const [flat, nested] = api.requests[0]!.inputs;
    expect(flat!.data).toEqual(bytesOf(new Float32Array([1, 2, 3, 4.5])));
    expect(nested!.data).toEqual(bytesOf(new Int32Array([1, 2, 3, 4])));
  });

  it("round-trips every JSON-capable datatype", async () => {
    const inputs = [
      { name: "b", datatype: "BOOL", shape: [2], data: [true, false] },
      { name: "u8", datatype: "UINT8", shape: [1], data: [255] },
      { name: "u16", datatype: "UINT16", shape: [1], data: [65535] },
      { name: "u32", datatype: "UINT32", shape: [1], data: [4294967295] },
      { name: "u64", datatype: "UINT64", shape: [1], data: [2 ** 53] },
      { name: "i8", datatype: "INT8", shape: [1], data: [-128] },
      { name: "i16", datatype: "INT16", shape: [1], data: [-32768] },
      { name: "i32", datatype: "INT32", shape: [1], data: [-2147483648] },
      { name: "i64", datatype: "INT64", shape: [1], data: [-(2 ** 53)] },
      { name: "f32", datatype: "FP32", shape: [1], data: [0.25] },
      { name: "f64", datatype: "FP64", shape: [1], data: [0.1] },
      { name: "s", datatype: "BYTES", shape: [3], data: ["", "a\u0000b", "héllo ✓ 🎉"] },
    ];
    const res = await postJson(url, { inputs });
    expect(res.status).toBe(200);
    expect((await res.json()).outputs).toEqual(inputs);
  });

  it("echoes the version from the path and forwards parameters, minus binary_data_output", async () => {
    const res = await postJson(server.url + "/v2/models/echo/versions/4/infer", {
      parameters: { binary_data_output: false, sequence_id: 9, tag: "t" },
      inputs: [{ name: "x", datatype: "INT8", shape: [1], data: [1] }],
    });
    expect((await res.json()).model_version).toBe("4");
    expect(api.requests[0]).toMatchObject({ version: "4", parameters: { sequence_id: 9, tag: "t" } });
    expect(api.requests[0]!.parameters).not.toHaveProperty("binary_data_output");
  });

  it("returns response parameters", async () => {
    api.inferHook = async (req) => api.respond(req, req.inputs, { sequence_end: true, n: 2 });
    const res = await postJson(url, { inputs: [] });
    expect((await res.json()).parameters).toEqual({ sequence_end: true, n: 2 });
  });

  it("passes requested outputs and classification to the core", async () => {
    await postJson(url, {
      inputs: [{ name: "x", datatype: "FP32", shape: [1], data: [1] }],
      outputs: [{ name: "x", parameters: { classification: 2 } }],
    });
    expect(api.requests[0]!.outputs).toEqual([{ name: "x", classification: 2 }]);
  });

  it("refuses FP16 data in JSON with Triton's text", async () => {
    const res = await postJson(url, { inputs: [{ name: "h", datatype: "FP16", shape: [1], data: [1] }] });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: "receiving FP16 data via JSON is not supported. Please use the binary data format for input h",
    });
    expect(api.requests).toEqual([]);
  });

  it.each<[string, unknown, RegExp]>([
    ["a count mismatch", { inputs: [{ name: "in7", datatype: "INT32", shape: [3], data: [1, 2] }] }, /input 'in7'/],
    ["a wrong element type", { inputs: [{ name: "in8", datatype: "INT32", shape: [1], data: ["1"] }] }, /input 'in8'/],
    ["a missing inputs field", { id: "x" }, /Unable to parse 'inputs'/],
  ])("answers 400 naming the problem for %s", async (_what, body, message) => {
    const res = await postJson(url, body);
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatch(message);
  });

  it("answers 400 for malformed JSON", async () => {
    const res = await fetch(url, { method: "POST", body: "{\"inputs\": [" });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatch(/^failed to parse the request JSON buffer/);
  });
});

describe("binary tensor data", () => {
  it("reads binary inputs as views over one body and writes binary outputs", async () => {
    const a = bytesOf(new Float32Array(20_000).map((_, i) => i)); // large enough to arrive in chunks
    const b = bytesOf(new BigInt64Array([9007199254740993n, -1n]));
    const res = await postBinary(url, {
      inputs: [
        { name: "a", datatype: "FP32", shape: [20_000], parameters: { binary_data_size: a.byteLength } },
        { name: "b", datatype: "INT64", shape: [2], parameters: { binary_data_size: 16 } },
      ],
      outputs: [{ name: "a", parameters: { binary_data: true } }, { name: "b" }],
    }, a, b);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    const { json, tail } = await readInferResponse(res);
    expect(json.outputs).toEqual([
      { name: "a", datatype: "FP32", shape: [20_000], parameters: { binary_data_size: a.byteLength } },
      { name: "b", datatype: "INT64", shape: [2], data: [9007199254740993, -1] },
    ]);
    expect(Buffer.from(tail)).toEqual(Buffer.from(a));

    const [ia, ib] = api.requests[0]!.inputs;
    expect(ib!.data.buffer).toBe(ia!.data.buffer);
    expect(ib!.data.byteOffset).toBe(ia!.data.byteOffset + a.byteLength);
    expect(ia!.data.buffer.byteLength).toBeGreaterThan(a.byteLength + 16);
  });

  it("writes 64-bit integers exactly in JSON", async () => {
    const b = bytesOf(new BigUint64Array([18446744073709551615n]));
    const res = await postBinary(url, {
      inputs: [{ name: "u", datatype: "UINT64", shape: [1], parameters: { binary_data_size: 8 } }],
    }, b);
    const text = await res.text();
    expect(text).toContain('"data":[18446744073709551615]');
  });

  it("mixes JSON and binary inputs and honours binary_data_output with per-output overrides", async () => {
    const bin = new Uint8Array([7, 8, 9]);
    const res = await postBinary(url, {
      parameters: { binary_data_output: true },
      inputs: [
        { name: "j", datatype: "INT16", shape: [2], data: [-1, 2] },
        { name: "bin", datatype: "UINT8", shape: [3], parameters: { binary_data_size: 3 } },
      ],
      outputs: [{ name: "j" }, { name: "bin", parameters: { binary_data: false } }],
    }, bin);
    const { json, tail } = await readInferResponse(res);
    expect(json.outputs).toEqual([
      { name: "j", datatype: "INT16", shape: [2], parameters: { binary_data_size: 4 } },
      { name: "bin", datatype: "UINT8", shape: [3], data: [7, 8, 9] },
    ]);
    expect([...new Int16Array(tail.buffer.slice(tail.byteOffset, tail.byteOffset + 4))]).toEqual([-1, 2]);
  });

  it("round-trips BYTES in binary: empty, NUL and multi-byte elements", async () => {
    const s = serializeStrings(["", "x\u0000y", "日本語 🎉"]);
    const res = await postBinary(url, {
      inputs: [{ name: "s", datatype: "BYTES", shape: [3], parameters: { binary_data_size: s.length } }],
      outputs: [{ name: "s", parameters: { binary_data: true } }],
    }, s);
    const { json, tail } = await readInferResponse(res);
    expect(json.outputs[0].parameters).toEqual({ binary_data_size: s.length });
    expect(Buffer.from(tail)).toEqual(s);
  });

  it("carries FP16 in binary both ways", async () => {
    const h = bytesOf(new Uint16Array([0x3c00, 0xc000]));
    const res = await postBinary(url, {
      inputs: [{ name: "h", datatype: "FP16", shape: [2], parameters: { binary_data_size: 4 } }],
      parameters: { binary_data_output: true },
    }, h);
    expect(res.status).toBe(200);
    expect(Buffer.from((await readInferResponse(res)).tail)).toEqual(Buffer.from(h));
  });

  it("refuses to send FP16 as JSON, and still releases the response once", async () => {
    const res = await postBinary(url, {
      inputs: [{ name: "h", datatype: "FP16", shape: [1], parameters: { binary_data_size: 2 } }],
    }, new Uint8Array(2));
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatch(/^sending FP16 data via JSON is not supported/);
    expect(api.releaseCounts).toEqual([1]);
  });

  it.each<[string, unknown, Uint8Array, RegExp]>([
    ["a size that does not match the shape", {
      inputs: [{ name: "v", datatype: "FP32", shape: [2], parameters: { binary_data_size: 4 } }],
    }, new Uint8Array(4), /input byte size mismatch for input 'v'/],
    ["trailing bytes", {
      inputs: [{ name: "v", datatype: "UINT8", shape: [1], parameters: { binary_data_size: 1 } }],
    }, new Uint8Array(2), /unexpected additional input data/],
    ["missing bytes", {
      inputs: [{ name: "v", datatype: "UINT8", shape: [4], parameters: { binary_data_size: 4 } }],
    }, new Uint8Array(2), /unexpected size for input 'v'/],
  ])("answers 400 for %s", async (_what, header, data, message) => {
    const res = await postBinary(url, header, data);
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatch(message);
  });

  it("answers 400 for a header length past the body", async () => {
    const res = await fetch(url, {
      method: "POST", headers: { "Inference-Header-Content-Length": "99" }, body: "{}",
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toBe("inference header size should be in range (0, 2), got: 99");
  });
});

describe("raw binary requests (Inference-Header-Content-Length: 0)", () => {
  const raw = (model: string, body: Uint8Array) => fetch(`${server.url}/v2/models/${model}/infer`, {
    method: "POST",
    headers: { "Content-Type": "application/octet-stream", "Inference-Header-Content-Length": "0" },
    body: Buffer.from(body),
  });

  it("feeds the body to the model's only input and answers in binary", async () => {
    api.addModel("single", [{ name: "IN", datatype: "FP32", shape: [-1, 3] }], 4);
    const body = bytesOf(new Float32Array([1, 2, 3]));
    const res = await raw("single", body);
    expect(res.status).toBe(200);
    expect(api.requests[0]!.inputs[0]).toMatchObject({ name: "IN", datatype: "FP32", shape: [1, 3] });
    const { json, tail } = await readInferResponse(res);
    expect(json.outputs[0]).toEqual({
      name: "IN", datatype: "FP32", shape: [1, 3], parameters: { binary_data_size: 12 },
    });
    expect(Buffer.from(tail)).toEqual(Buffer.from(body));
  });

  it("treats an empty body without the header as raw too, as Triton does", async () => {
    api.addModel("s", [{ name: "S", datatype: "BYTES", shape: [1] }], 0);
    const res = await fetch(`${server.url}/v2/models/s/infer`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(Buffer.from(api.requests[0]!.inputs[0]!.data)).toEqual(serializeStrings([""]));
  });

  it("refuses a model with more than one input", async () => {
    api.addModel("two", [
      { name: "A", datatype: "FP32", shape: [1] }, { name: "B", datatype: "FP32", shape: [1] },
    ], 0);
    const res = await raw("two", new Uint8Array(4));
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatch(/Raw request must only have 1 input/);
  });
});
