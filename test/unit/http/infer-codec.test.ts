import { describe, expect, it } from "vitest";
import type { CoreResponse, ModelMetadata } from "../../../src/core/types.js";
import {
  decodeInferRequest, decodeRawInferRequest, encodeInferResponse, inferHeaderLength,
} from "../../../src/http/infer-codec.js";
import { binaryBody, bytesOf, serializeStrings } from "./helpers.js";

const decode = (header: unknown, ...parts: Uint8Array[]) => {
  const { body, headerLength } = binaryBody(header, ...parts);
  return decodeInferRequest(body, headerLength, "m", undefined, true);
};

describe("inferHeaderLength", () => {
  it("is the whole body without the header and the header's value otherwise", () => {
    expect(inferHeaderLength(undefined, 10)).toBe(10);
    expect(inferHeaderLength("4", 10)).toBe(4);
    expect(inferHeaderLength("0", 10)).toBe(0);
    expect(inferHeaderLength("10", 10)).toBe(10);
  });

  it("refuses a value past the body or not a number", () => {
    expect(() => inferHeaderLength("11", 10)).toThrow("inference header size should be in range (0, 10), got: 11");
    expect(() => inferHeaderLength("-1", 10)).toThrow(/Unable to parse Inference-Header-Content-Length/);
    expect(() => inferHeaderLength("abc", 10)).toThrow(/Unable to parse/);
  });
});

describe("decodeInferRequest", () => {
  it("makes binary inputs views over the body, in order", () => {
    const a = bytesOf(new Float32Array([1, 2]));
    const b = bytesOf(new Int32Array([3]));
    const { body, headerLength } = binaryBody({
      inputs: [
        { name: "a", datatype: "FP32", shape: [2], parameters: { binary_data_size: 8 } },
        { name: "j", datatype: "INT32", shape: [1], data: [9] },
        { name: "b", datatype: "INT32", shape: [1], parameters: { binary_data_size: 4 } },
      ],
    }, a, b);
    const { request } = decodeInferRequest(body, headerLength, "m", "2", true);
    const [ia, ij, ib] = request.inputs;
    expect(ia!.data.buffer).toBe(body.buffer);
    expect(ia!.data.byteOffset).toBe(body.byteOffset + headerLength);
    expect(ib!.data.buffer).toBe(body.buffer);
    expect(ib!.data.byteOffset).toBe(ia!.data.byteOffset + 8);
    expect(Buffer.from(ib!.data)).toEqual(Buffer.from(b));
    expect([...ij!.data]).toEqual([9, 0, 0, 0]);
    expect(request).toMatchObject({ model: "m", version: "2", id: "", parameters: {} });
  });

  it("accepts the reserved parameters Triton accepts, string sequence ids included", () => {
    const { request } = decode({
      parameters: { priority: 0, timeout: 100, sequence_id: "corr", sequence_start: true, sequence_end: false },
      inputs: [],
    });
    expect(request.parameters).toEqual({ priority: 0, timeout: 100, sequence_id: "corr", sequence_start: true, sequence_end: false });
  });

  it("takes the id, forwards parameters but keeps binary_data_output for itself", () => {
    const { request, format } = decode({
      id: "req-1",
      parameters: { binary_data_output: true, priority: 2, custom: "x", flag: false, ratio: 0.5 },
      inputs: [],
    });
    expect(request.id).toBe("req-1");
    expect(request.parameters).toEqual({ priority: 2, custom: "x", flag: false, ratio: 0.5 });
    expect(format.defaultBinary).toBe(true);
  });

  it("reads requested outputs: binary_data per output and classification", () => {
    const { request, format } = decode({
      inputs: [],
      outputs: [
        { name: "o1", parameters: { binary_data: true, classification: 3 } },
        { name: "o2", parameters: { binary_data: false } },
        { name: "o3" },
      ],
    });
    expect(request.outputs).toEqual([{ name: "o1", classification: 3 }, { name: "o2" }, { name: "o3" }]);
    expect(format.binary.get("o1")).toBe(true);
    expect(format.binary.get("o2")).toBe(false);
    expect(format.binary.has("o3")).toBe(false);
    expect(format.defaultBinary).toBe(false);
  });

  it.each<[string, unknown, Uint8Array[], RegExp | string]>([
    ["a byte size that does not match the shape", {
      inputs: [{ name: "x", datatype: "FP32", shape: [3], parameters: { binary_data_size: 8 } }],
    }, [new Uint8Array(8)], /input byte size mismatch for input 'x' for model 'm'\. Expected 12, got 8/],
    ["binary data shorter than announced", {
      inputs: [{ name: "x", datatype: "FP32", shape: [2], parameters: { binary_data_size: 8 } }],
    }, [new Uint8Array(4)], /unexpected size for input 'x', expecting 4 additional bytes/],
    ["bytes left over after the inputs", {
      inputs: [{ name: "x", datatype: "UINT8", shape: [1], parameters: { binary_data_size: 1 } }],
    }, [new Uint8Array(3)], /unexpected additional input data for model 'm'/],
    ["both data and binary_data_size", {
      inputs: [{ name: "x", datatype: "UINT8", shape: [1], data: [1], parameters: { binary_data_size: 1 } }],
    }, [new Uint8Array(1)], /Input 'x' must set exactly one.*set both/],
    ["neither data nor binary_data_size", {
      inputs: [{ name: "x", datatype: "UINT8", shape: [1] }],
    }, [], /Input 'x' must set exactly one.*set neither/],
    ["an unknown datatype", {
      inputs: [{ name: "x", datatype: "FP8", shape: [1], data: [1] }],
    }, [], /invalid datatype "FP8" for input 'x'/],
    ["a negative dimension", {
      inputs: [{ name: "x", datatype: "FP32", shape: [-1], data: [1] }],
    }, [], "Unable to parse 'shape': attempt to access JSON non-unsigned-integer as unsigned-integer"],
    ["inputs that are not an array", { inputs: {} }, [], /Unable to parse 'inputs'/],
    ["an id that is not a string", { id: 5, inputs: [] }, [], /Unable to parse 'id'/],
    ["a triton_ parameter", { parameters: { triton_x: 1 }, inputs: [] }, [], /reserved for Triton usage/],
    ["a parameter of an object type", { parameters: { p: {} }, inputs: [] }, [], /parameter 'p' has invalid type/],
    ["binary_data_output that is not a boolean", { parameters: { binary_data_output: 1 }, inputs: [] }, [],
      "Unable to parse 'binary_data_output': attempt to access JSON non-boolean as boolean"],
    ["a negative classification", { inputs: [], outputs: [{ name: "o", parameters: { classification: -1 } }] }, [],
      "Unable to set 'classification': attempt to access JSON non-unsigned-integer as unsigned-integer"],
    ["shared memory", {
      inputs: [{ name: "x", datatype: "UINT8", shape: [1], parameters: { shared_memory_region: "r" } }],
    }, [], /shared memory is not supported/],
    ["a string priority", { parameters: { priority: "x" }, inputs: [] }, [],
      "Unable to parse 'priority': attempt to access JSON non-unsigned-integer as unsigned-integer"],
    ["a negative priority", { parameters: { priority: -1 }, inputs: [] }, [], /Unable to parse 'priority'/],
    ["a fractional priority", { parameters: { priority: 1.5 }, inputs: [] }, [], /Unable to parse 'priority'/],
    ["a string timeout", { parameters: { timeout: "x" }, inputs: [] }, [],
      "Unable to parse 'timeout': attempt to access JSON non-unsigned-integer as unsigned-integer"],
    ["a negative timeout", { parameters: { timeout: -1 }, inputs: [] }, [], /Unable to parse 'timeout'/],
    ["a boolean sequence_id", { parameters: { sequence_id: true }, inputs: [] }, [],
      "Unable to parse 'sequence_id': attempt to access JSON non-string as string"],
    ["a numeric sequence_start", { parameters: { sequence_start: 1 }, inputs: [] }, [],
      "Unable to parse 'sequence_start': attempt to access JSON non-boolean as boolean"],
    ["a string sequence_end", { parameters: { sequence_end: "true" }, inputs: [] }, [],
      "Unable to parse 'sequence_end': attempt to access JSON non-boolean as boolean"],
    ["a string binary_data", { inputs: [], outputs: [{ name: "o", parameters: { binary_data: "yes" } }] }, [],
      "Unable to parse 'binary_data': attempt to access JSON non-boolean as boolean"],
    ["a string binary_data_size", {
      inputs: [{ name: "x", datatype: "UINT8", shape: [1], parameters: { binary_data_size: "1" } }],
    }, [new Uint8Array(1)], "Unable to parse 'binary_data_size': attempt to access JSON non-unsigned-integer as unsigned-integer"],
  ])("refuses %s", (_what, header, parts, message) => {
    expect(() => decode(header, ...parts)).toThrow(message);
  });

  it("refuses binary data when no header length was given", () => {
    const { body } = binaryBody({
      inputs: [{ name: "x", datatype: "UINT8", shape: [1], parameters: { binary_data_size: 1 } }],
    });
    expect(() => decodeInferRequest(body, body.length, "m", undefined, false)).toThrow(
      /input 'x'.*no Inference-Header-Content-Length header/,
    );
  });

  it("refuses malformed JSON with the parser's message", () => {
    const body = Buffer.from("{not json");
    expect(() => decodeInferRequest(body, body.length, "m", undefined, false)).toThrow(
      /failed to parse the request JSON buffer/,
    );
  });
});

describe("decodeRawInferRequest", () => {
  const meta = (inputs: ModelMetadata["inputs"]): ModelMetadata => ({
    name: "m", versions: ["1"], platform: "p", inputs, outputs: [],
  });

  it("gives a batching model's only input a batch of 1 and binary outputs", () => {
    const body = bytesOf(new Float32Array([1, 2, 3, 4]));
    const { request, format } = decodeRawInferRequest(
      body, "m", undefined, meta([{ name: "in", datatype: "FP32", shape: [-1, 4] }]), 8,
    );
    expect(request.inputs).toEqual([{ name: "in", datatype: "FP32", shape: [1, 4], data: body }]);
    expect(request.inputs[0]!.data).toBe(body);
    expect(format.defaultBinary).toBe(true);
  });

  it("deduces one variable dimension from the body size", () => {
    const { request } = decodeRawInferRequest(
      new Uint8Array(24), "m", undefined, meta([{ name: "in", datatype: "FP32", shape: [2, -1] }]), 0,
    );
    expect(request.inputs[0]!.shape).toEqual([2, 3]);
  });

  it("frames a BYTES body as one element", () => {
    const { request } = decodeRawInferRequest(
      Buffer.from("héllo"), "m", undefined, meta([{ name: "s", datatype: "BYTES", shape: [1] }]), 0,
    );
    expect(Buffer.from(request.inputs[0]!.data)).toEqual(serializeStrings(["héllo"]));
  });

  it("refuses models it cannot deduce the input of", () => {
    const two = meta([
      { name: "a", datatype: "FP32", shape: [1] }, { name: "b", datatype: "FP32", shape: [1] },
    ]);
    expect(() => decodeRawInferRequest(new Uint8Array(4), "m", undefined, two, 0)).toThrow(
      /Raw request must only have 1 input .* but got 2 inputs in 'm' model configuration/,
    );
    const vars = meta([{ name: "a", datatype: "FP32", shape: [-1, -1] }]);
    expect(() => decodeRawInferRequest(new Uint8Array(4), "m", undefined, vars, 0)).toThrow(
      /more than one variable-sized dimension/,
    );
    const str = meta([{ name: "s", datatype: "BYTES", shape: [2] }]);
    expect(() => decodeRawInferRequest(new Uint8Array(4), "m", undefined, str, 0)).toThrow(
      /model must have input shape \[1\]/,
    );
    const fixed = meta([{ name: "a", datatype: "FP32", shape: [2] }]);
    expect(() => decodeRawInferRequest(new Uint8Array(4), "m", undefined, fixed, 0)).toThrow(
      /Expected 8, got 4/,
    );
  });
});

describe("encodeInferResponse", () => {
  const response = (outputs: CoreResponse["outputs"], extra: Partial<CoreResponse> = {}): CoreResponse => ({
    model: "m", version: "3", id: "", outputs, parameters: {}, release: () => {}, ...extra,
  });
  const f32 = bytesOf(new Float32Array([1, 2]));
  const i8 = new Uint8Array([5]);

  it("writes JSON outputs into the JSON and nothing binary", () => {
    const enc = encodeInferResponse(
      response([{ name: "o", datatype: "FP32", shape: [2], data: f32 }], { id: "abc", parameters: { p: 1 } }),
      { defaultBinary: false, binary: new Map() },
    );
    expect(JSON.parse(enc.json.toString())).toEqual({
      id: "abc", model_name: "m", model_version: "3", parameters: { p: 1 },
      outputs: [{ name: "o", datatype: "FP32", shape: [2], data: [1, 2] }],
    });
    expect(enc.binary).toEqual([]);
    expect(enc.jsonBytes).toBe(Buffer.byteLength(enc.json));
  });

  it("leaves out an empty id and empty parameters", () => {
    const enc = encodeInferResponse(response([]), { defaultBinary: false, binary: new Map() });
    expect(JSON.parse(enc.json.toString())).toEqual({ model_name: "m", model_version: "3", outputs: [] });
  });

  it("hands binary outputs back as the response's own views, per-output choice winning", () => {
    const enc = encodeInferResponse(
      response([
        { name: "a", datatype: "FP32", shape: [2], data: f32 },
        { name: "b", datatype: "INT8", shape: [1], data: i8 },
        { name: "c", datatype: "INT8", shape: [0], data: new Uint8Array(0) },
      ]),
      { defaultBinary: true, binary: new Map([["b", false]]) },
    );
    expect(JSON.parse(enc.json.toString()).outputs).toEqual([
      { name: "a", datatype: "FP32", shape: [2], parameters: { binary_data_size: 8 } },
      { name: "b", datatype: "INT8", shape: [1], data: [5] },
      { name: "c", datatype: "INT8", shape: [0], parameters: { binary_data_size: 0 } },
    ]);
    expect(enc.binary.length).toBe(1);
    expect(enc.binary[0]).toBe(f32);
    expect(enc.binaryBytes).toBe(8);
  });

  it("counts multi-byte characters in the header length", () => {
    const enc = encodeInferResponse(
      response([{ name: "é✓", datatype: "INT8", shape: [1], data: i8 }]),
      { defaultBinary: true, binary: new Map() },
    );
    expect(enc.jsonBytes).toBe(Buffer.from(enc.json).length);
    expect(enc.jsonBytes).toBeGreaterThan(enc.json.length);
  });
});
