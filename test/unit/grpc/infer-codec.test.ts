/**
 * The gRPC codec without a server: ModelInferRequest bytes (as grpc-js hands them over) →
 * CoreRequest, typed contents → raw bytes, the errors a client can provoke, and CoreResponse →
 * ModelInferResponse bytes; plus the schema facts Triton's clients depend on.
 */
import { describe, expect, it } from "vitest";
import { Buffer } from "node:buffer";
import { decodeInferRequest, encodeInferResponse, type InferRequestMessage } from "../../../src/grpc/infer-codec.js";
import { encodePlain, messageType, serviceDefinition } from "../../../src/grpc/proto.js";
import type { CoreResponse } from "../../../src/core/types.js";
import { ServerError } from "../../../src/errors/index.js";

const REQUEST = "inference.ModelInferRequest";
const service = serviceDefinition("inference.GRPCInferenceService");

/** What the server's handler receives: the request encoded by a client, decoded as grpc-js does. */
function received(request: object): { msg: InferRequestMessage; wire: Buffer } {
  const wire = service.ModelInfer!.requestSerialize(request);
  // grpc-js hands the deserializer a slice of a larger frame buffer: mimic that.
  const frame = Buffer.concat([Buffer.alloc(5), wire]);
  const slice = frame.subarray(5);
  return { msg: service.ModelInfer!.requestDeserialize(slice) as InferRequestMessage, wire: slice };
}

const f32 = (a: number[]) => Buffer.from(new Float32Array(a).buffer);
const bytesElements = (...items: string[]) =>
  Buffer.concat(items.flatMap((s) => {
    const b = Buffer.from(s);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    return [len, b];
  }));

function fails(request: object, code: string, message: string | RegExp): void {
  let error: unknown;
  try {
    decodeInferRequest(received(request).msg);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ServerError);
  expect((error as ServerError).code).toBe(code);
  if (typeof message === "string") expect((error as ServerError).message).toBe(message);
  else expect((error as ServerError).message).toMatch(message);
}

describe("schema", () => {
  it("has Triton's methods, with ModelStreamInfer streaming both ways", () => {
    expect(Object.keys(service).sort()).toEqual([
      "CudaSharedMemoryRegister", "CudaSharedMemoryStatus", "CudaSharedMemoryUnregister",
      "LogSettings", "ModelConfig", "ModelInfer", "ModelMetadata", "ModelReady", "ModelStatistics", "ModelStreamInfer",
      "RepositoryIndex", "RepositoryModelLoad", "RepositoryModelUnload", "ServerLive", "ServerMetadata", "ServerReady",
      "SystemSharedMemoryRegister", "SystemSharedMemoryStatus", "SystemSharedMemoryUnregister", "TraceSetting",
    ]);
    expect(service.ModelInfer!.path).toBe("/inference.GRPCInferenceService/ModelInfer");
    expect([service.ModelStreamInfer!.requestStream, service.ModelStreamInfer!.responseStream]).toEqual([true, true]);
    expect([service.ModelInfer!.requestStream, service.ModelInfer!.responseStream]).toEqual([false, false]);
    expect(serviceDefinition("grpc.health.v1.Health").Check!.path).toBe("/grpc.health.v1.Health/Check");
  });

  it("keeps Triton's field numbers where clients depend on them", () => {
    const req = messageType(REQUEST);
    expect(req.fields.raw_input_contents!.id).toBe(7);
    expect(req.fields.inputs!.id).toBe(5);
    expect(req.fields.parameters!.id).toBe(4);
    expect(messageType("inference.ModelInferResponse").fields.raw_output_contents!.id).toBe(6);
    const stream = messageType("inference.ModelStreamInferResponse");
    expect([stream.fields.error_message!.id, stream.fields.infer_response!.id]).toEqual([1, 2]);
    const contents = messageType("inference.InferTensorContents");
    expect(contents.fields.fp32_contents!.id).toBe(6);
    expect(contents.fields.bytes_contents!.id).toBe(8);
    expect(messageType("inference.InferParameter").fields.uint64_param!.id).toBe(5);
    expect(messageType("inference.ModelConfigResponse").fields.config!.resolvedType!.fullName).toBe(".inference.ModelConfig");
  });

  it("passes an already-encoded response through and encodes plain objects", () => {
    const buf = Buffer.from([1, 2, 3]);
    expect(service.ServerLive!.responseSerialize(buf)).toBe(buf);
    expect(service.ServerLive!.responseDeserialize(service.ServerLive!.responseSerialize({ live: true }))).toMatchObject({ live: true });
  });
});

describe("decodeInferRequest", () => {
  it("passes raw contents through as views over the received buffer", () => {
    const { msg, wire } = received({
      model_name: "add_sub", model_version: "2", id: "req-1",
      inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1, 4] }, { name: "INPUT1", datatype: "FP32", shape: [4] }],
      raw_input_contents: [f32([1, 2, 3, 4]), f32([5, 6, 7, 8])],
    });
    const r = decodeInferRequest(msg);
    expect(r).toMatchObject({ model: "add_sub", version: "2", id: "req-1", parameters: {} });
    expect(r.outputs).toBeUndefined();
    expect(r.inputs.map((t) => [t.name, t.datatype, t.shape])).toEqual([["INPUT0", "FP32", [1, 4]], ["INPUT1", "FP32", [4]]]);
    for (const t of r.inputs) {
      // No copy: the same memory grpc-js received.
      expect(t.data.buffer).toBe(wire.buffer);
      expect(t.data.byteLength).toBe(16);
    }
    expect(Array.from(new Float32Array(Uint8Array.from(r.inputs[1]!.data).buffer))).toEqual([5, 6, 7, 8]);
  });

  it("takes an empty version as the version policy's pick", () => {
    expect(decodeInferRequest(received({ model_name: "m", inputs: [] }).msg).version).toBeUndefined();
  });

  it("converts typed contents of every type to raw little-endian bytes", () => {
    const r = decodeInferRequest(received({
      model_name: "m",
      inputs: [
        { name: "fp32", datatype: "FP32", shape: [2], contents: { fp32_contents: [1.5, -2] } },
        { name: "fp64", datatype: "FP64", shape: [1], contents: { fp64_contents: [0.1] } },
        { name: "i8", datatype: "INT8", shape: [2], contents: { int_contents: [-1, 300] } },
        { name: "i16", datatype: "INT16", shape: [1], contents: { int_contents: [-2] } },
        { name: "i32", datatype: "INT32", shape: [2, 1], contents: { int_contents: [7, -7] } },
        { name: "i64", datatype: "INT64", shape: [2], contents: { int64_contents: ["-9007199254740993", "9223372036854775807"] } },
        { name: "u8", datatype: "UINT8", shape: [1], contents: { uint_contents: [255] } },
        { name: "u32", datatype: "UINT32", shape: [1], contents: { uint_contents: [4294967295] } },
        { name: "u64", datatype: "UINT64", shape: [1], contents: { uint64_contents: ["18446744073709551615"] } },
        { name: "b", datatype: "BOOL", shape: [3], contents: { bool_contents: [true, false, true] } },
        { name: "s", datatype: "BYTES", shape: [2], contents: { bytes_contents: [Buffer.from("hé"), Buffer.alloc(0)] } },
      ],
    }).msg);
    const by = new Map(r.inputs.map((t) => [t.name, Uint8Array.from(t.data).buffer]));
    expect(Array.from(new Float32Array(by.get("fp32")!))).toEqual([1.5, -2]);
    expect(Array.from(new Float64Array(by.get("fp64")!))).toEqual([0.1]);
    expect(Array.from(new Int8Array(by.get("i8")!))).toEqual([-1, 44]); // wraps, as a C cast
    expect(Array.from(new Int16Array(by.get("i16")!))).toEqual([-2]);
    expect(Array.from(new Int32Array(by.get("i32")!))).toEqual([7, -7]);
    expect(Array.from(new BigInt64Array(by.get("i64")!))).toEqual([-9007199254740993n, 9223372036854775807n]);
    expect(Array.from(new Uint8Array(by.get("u8")!))).toEqual([255]);
    expect(Array.from(new Uint32Array(by.get("u32")!))).toEqual([4294967295]);
    expect(Array.from(new BigUint64Array(by.get("u64")!))).toEqual([18446744073709551615n]);
    expect(Array.from(new Uint8Array(by.get("b")!))).toEqual([1, 0, 1]);
    expect(Buffer.from(by.get("s")!)).toEqual(bytesElements("hé", ""));
  });

  it("decodes parameters of every kind, requested outputs and classification", () => {
    const r = decodeInferRequest(received({
      model_name: "m", inputs: [],
      parameters: {
        b: { bool_param: true }, i: { int64_param: -5 }, u: { uint64_param: 6 }, d: { double_param: 0.25 },
        s: { string_param: "x" }, binary_data_output: { bool_param: true },
      },
      outputs: [{ name: "A" }, { name: "B", parameters: { classification: { int64_param: 3 } } },
        { name: "C", parameters: { binary_data: { bool_param: true } } }],
    }).msg);
    expect(r.parameters).toEqual({ b: true, i: -5, u: 6, d: 0.25, s: "x" });
    expect(r.outputs).toEqual([{ name: "A" }, { name: "B", classification: 3 }, { name: "C" }]);
  });

  it("checks the reserved parameters with Triton's gRPC texts", () => {
    const ok = decodeInferRequest(received({
      model_name: "m", inputs: [],
      parameters: { priority: { uint64_param: 2 }, timeout: { int64_param: 50 }, sequence_id: { string_param: "s" }, sequence_start: { bool_param: true } },
    }).msg);
    expect(ok.parameters).toEqual({ priority: 2, timeout: 50, sequence_id: "s", sequence_start: true });
    const bad = (parameters: object, message: string) => fails({ model_name: "m", inputs: [], parameters }, "INVALID_ARG", message);
    bad({ priority: { string_param: "1" } }, "invalid value type for 'priority' parameter, expected int64_param or uint64_param.");
    bad({ priority: { int64_param: -1 } }, "invalid value for 'priority', expected value >= 0.");
    bad({ timeout: { int64_param: -1 } }, "invalid value for 'timeout', expected value >= 0.");
    bad({ timeout: { string_param: "5" } }, "invalid value type for 'timeout' parameter, expected int64_param.");
    bad({ sequence_id: { bool_param: true } }, "invalid value type for 'sequence_id' parameter, expected int64_param or string_param.");
    bad({ sequence_end: { int64_param: 1 } }, "invalid value type for 'sequence_end' parameter, expected bool_param.");
  });

  it("passes BYTES data on as given, raw or typed: the core counts the elements (as Triton's does)", () => {
    const raw = decodeInferRequest(received({
      model_name: "m", inputs: [{ name: "S", datatype: "BYTES", shape: [3] }], raw_input_contents: [bytesElements("a", "bc")],
    }).msg);
    expect(Buffer.from(raw.inputs[0]!.data)).toEqual(bytesElements("a", "bc"));
    const typed = decodeInferRequest(received({
      model_name: "m", inputs: [{ name: "S", datatype: "BYTES", shape: [1], contents: { bytes_contents: [Buffer.from("a"), Buffer.from([0xff])] } }],
    }).msg);
    expect(Buffer.from(typed.inputs[0]!.data)).toEqual(Buffer.concat([bytesElements("a"), Buffer.from([1, 0, 0, 0, 0xff])]));
  });

  it("refuses what Triton refuses, with the HTTP front end's texts where both have one", () => {
    const in0 = { name: "INPUT0", datatype: "FP32", shape: [4] };
    fails({ model_name: "m", inputs: [in0, in0], raw_input_contents: [f32([1, 2, 3, 4])] },
      "INVALID_ARG", "expected 2 inputs but got 1 raw input contents for model 'm'");
    fails({ model_name: "m", inputs: [{ ...in0, contents: { fp32_contents: [1, 2, 3, 4] } }], raw_input_contents: [f32([1, 2, 3, 4])] },
      "INVALID_ARG", "contents field must not be specified when using raw_input_contents for 'INPUT0' for model 'm'");
    fails({ model_name: "m", inputs: [{ ...in0, contents: { int_contents: [1, 2, 3, 4] } }] },
      "INVALID_ARG", "input 'INPUT0' for model 'm' has datatype FP32: its contents must be in 'fp32_contents', got 'int_contents'");
    fails({ model_name: "m", inputs: [{ ...in0, contents: { fp32_contents: [1, 2, 3] } }] },
      "INVALID_ARG", "unexpected number of elements in 'contents' of input 'INPUT0' for model 'm': shape [4] needs 4, got 3");
    fails({ model_name: "m", inputs: [{ name: "H", datatype: "FP16", shape: [1], contents: { fp32_contents: [1] } }] },
      "INVALID_ARG", /FP16 data must be sent in raw_input_contents/);
    fails({ model_name: "m", inputs: [{ name: "X", datatype: "FLOAT", shape: [1] }] }, "INVALID_ARG", `invalid datatype "FLOAT" for input 'X'`);
    fails({ model_name: "m", inputs: [{ ...in0, shape: [-1] }], raw_input_contents: [f32([])] }, "INVALID_ARG", /dimensions must be non-negative integers, got \[-1\]/);
    fails({ model_name: "m", inputs: [], parameters: { triton_x: { bool_param: true } } },
      "INVALID_ARG", "parameter keys starting with 'triton_' are reserved for Triton usage and should not be specified.");
    fails({ model_name: "m", inputs: [], parameters: { empty: {} } },
      "INVALID_ARG", "parameter 'empty' has invalid type. It should be either 'int', 'bool', or 'string'.");
    fails({ model_name: "m", inputs: [], parameters: { big: { uint64_param: "18446744073709551615" } } }, "INVALID_ARG", /parameter 'big' is out of the range/);
    fails({ model_name: "m", inputs: [{ ...in0, parameters: { shared_memory_region: { string_param: "r" } } }] },
      "UNSUPPORTED", "input 'INPUT0': shared memory is not supported by this server");
    fails({ model_name: "m", inputs: [], outputs: [{ name: "O", parameters: { shared_memory_region: { string_param: "r" } } }] },
      "UNSUPPORTED", "output 'O': shared memory is not supported by this server");
    fails({ model_name: "m", inputs: [], outputs: [{ name: "O", parameters: { classification: { string_param: "2" } } }] },
      "INVALID_ARG", "invalid value type for 'classification' parameter, expected int64_param");
    // Triton refuses 0 too, with a text that says ">= 0" (grpc_utils.cc).
    fails({ model_name: "m", inputs: [], outputs: [{ name: "O", parameters: { classification: { int64_param: 0 } } }] },
      "INVALID_ARG", "invalid value for 'classification' parameter, expected >= 0");
  });

  it("leaves a missing input's data empty, for the core to report the size mismatch", () => {
    const r = decodeInferRequest(received({ model_name: "m", inputs: [{ name: "I", datatype: "FP32", shape: [0] }] }).msg);
    expect(r.inputs[0]!.data.byteLength).toBe(0);
  });
});

describe("encodeInferResponse", () => {
  it("sends outputs as raw contents and parameters by type; round-trips through the wire", () => {
    const out0 = new Uint8Array(f32([1, 2]));
    const response: CoreResponse = {
      model: "m", version: "3", id: "abc",
      outputs: [
        { name: "O", datatype: "FP32", shape: [1, 2], data: out0 },
        { name: "S", datatype: "BYTES", shape: [1], data: bytesElements("z") },
      ],
      parameters: { n: 7, x: 0.5, b: false, s: "t" },
      release: () => {},
    };
    const plain = encodeInferResponse(response);
    expect(plain.raw_output_contents[0]).toBe(out0); // the response's own view, encoded before release
    const type = messageType("inference.ModelInferResponse");
    const decoded = type.toObject(type.decode(encodePlain(type, plain)), { longs: Number, oneofs: true, defaults: false }) as any;
    expect(decoded).toMatchObject({ model_name: "m", model_version: "3", id: "abc" });
    expect(decoded.outputs).toEqual([
      { name: "O", datatype: "FP32", shape: [1, 2] }, { name: "S", datatype: "BYTES", shape: [1] },
    ]);
    expect(Buffer.from(decoded.raw_output_contents[0])).toEqual(f32([1, 2]));
    expect(Buffer.from(decoded.raw_output_contents[1])).toEqual(bytesElements("z"));
    expect(decoded.parameters).toEqual({
      n: { int64_param: 7, parameter_choice: "int64_param" }, x: { double_param: 0.5, parameter_choice: "double_param" },
      b: { bool_param: false, parameter_choice: "bool_param" }, s: { string_param: "t", parameter_choice: "string_param" },
    });
  });
});
