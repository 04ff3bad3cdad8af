/**
 * Properties of the gRPC request codec, seeded and bounded, on what the server's handler really
 * receives: a ModelInferRequest encoded by a client and decoded by the service definition's own
 * deserializer. A valid request decodes to exactly its tensors (raw or typed contents); any other
 * message is refused with a client-class ServerError, never a TypeError, RangeError or INTERNAL.
 */
import { Buffer } from "node:buffer";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeInferRequest, takeEnableEmptyFinalResponse, type InferRequestMessage } from "../../../src/grpc/infer-codec.js";
import { serviceDefinition } from "../../../src/grpc/proto.js";
import { DATATYPES, type Datatype } from "../../../src/ipc/datatypes.js";
import { type GenTensor, expectInputsMatch, runs, tensorsArb, valueOrClientError } from "../fuzz.js";

const service = serviceDefinition("inference.GRPCInferenceService");
const serialize = (request: object): Buffer => service.ModelInfer!.requestSerialize(request);
/** As grpc-js hands it over: a slice of a larger frame buffer. */
const deserialize = (wire: Uint8Array): InferRequestMessage => {
  const frame = Buffer.concat([Buffer.alloc(5), wire]);
  return service.ModelInfer!.requestDeserialize(frame.subarray(5)) as InferRequestMessage;
};

const CONTENTS: Record<Datatype, string | null> = {
  BOOL: "bool_contents", INT8: "int_contents", INT16: "int_contents", INT32: "int_contents",
  INT64: "int64_contents", UINT8: "uint_contents", UINT16: "uint_contents", UINT32: "uint_contents",
  UINT64: "uint64_contents", FP32: "fp32_contents", FP64: "fp64_contents", BYTES: "bytes_contents",
  FP16: null, BF16: null,
};

const RESERVED = new Set([
  "priority", "timeout", "sequence_id", "sequence_start", "sequence_end", "binary_data_output",
  "binary_data", "classification", "binary_data_size", "__proto__",
]);

/** One InferParameter and the value the core must see for it. */
const goodParamArb = fc.oneof(
  fc.boolean().map((v) => ({ wire: { bool_param: v }, value: v as number | boolean | string })),
  fc.maxSafeInteger().map((v) => ({ wire: { int64_param: v }, value: v })),
  fc.string({ maxLength: 6 }).map((v) => ({ wire: { string_param: v }, value: v })),
  fc.double({ noNaN: true }).map((v) => ({ wire: { double_param: v }, value: v })),
);

const requestArb = fc.record({
  model: fc.string({ maxLength: 6 }),
  version: fc.constantFrom("", "1", "7"),
  id: fc.string({ maxLength: 6 }),
  tensors: tensorsArb(),
  raw: fc.boolean(),
  parameters: fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => !RESERVED.has(k) && !k.startsWith("triton_")), goodParamArb, { maxKeys: 3 }),
  outputs: fc.uniqueArray(fc.record({
    name: fc.string({ minLength: 1, maxLength: 6 }), classification: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
  }), { selector: (o) => o.name, maxLength: 3 }),
});
type RequestSpec = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

const usesRaw = (spec: RequestSpec) => spec.raw || spec.tensors.some((t) => CONTENTS[t.datatype] === null);

function typedContents(t: GenTensor): Record<string, unknown> {
  const field = CONTENTS[t.datatype]!;
  return { [field]: t.datatype === "BYTES" ? t.elements : t.values };
}

function encodeRequest(spec: RequestSpec): Buffer {
  const raw = usesRaw(spec);
  return serialize({
    model_name: spec.model,
    model_version: spec.version,
    id: spec.id,
    parameters: Object.fromEntries(Object.entries(spec.parameters).map(([k, p]) => [k, p.wire])),
    inputs: spec.tensors.map((t) => ({
      name: t.name, datatype: t.datatype, shape: t.shape, ...(raw ? {} : { contents: typedContents(t) }),
    })),
    outputs: spec.outputs.map((o) => ({
      name: o.name, ...(o.classification === undefined ? {} : { parameters: { classification: { int64_param: o.classification } } }),
    })),
    ...(raw ? { raw_input_contents: spec.tensors.map((t) => t.bytes) } : {}),
  });
}

describe("gRPC decodeInferRequest", () => {
  it("decodes any valid request, raw or typed, to exactly its tensors and parameters", () => {
    fc.assert(fc.property(requestArb, (spec) => {
      const wire = encodeRequest(spec);
      const request = decodeInferRequest(deserialize(wire));
      expect([request.model, request.version, request.id]).toEqual([spec.model, spec.version || undefined, spec.id]);
      expectInputsMatch(request.inputs, spec.tensors);
      expect(request.parameters).toEqual(Object.fromEntries(Object.entries(spec.parameters).map(([k, p]) => [k, p.value])));
      expect(request.outputs).toEqual(spec.outputs.length === 0 ? undefined : spec.outputs.map((o) =>
        (o.classification ? { name: o.name, classification: o.classification } : { name: o.name })));
    }), runs(300));
  });

  it("answers any well-typed but wrong message with a value or a client error", () => {
    const int64Arb = fc.oneof(
      fc.integer({ min: -3, max: 5 }), fc.maxSafeInteger(),
      fc.constantFrom("-1", "9007199254740993", "9223372036854775807", "-9223372036854775808"),
    );
    const paramArb = fc.oneof(
      fc.record({ bool_param: fc.boolean() }), fc.record({ int64_param: int64Arb }),
      fc.record({ uint64_param: fc.constantFrom(0, 7, "18446744073709551615") }), fc.record({ double_param: fc.double() }),
      fc.record({ string_param: fc.string({ maxLength: 4 }) }), fc.record({ bytes_param: fc.uint8Array({ maxLength: 4 }) }),
      fc.constant({}),
    );
    const paramsArb = fc.dictionary(fc.oneof(
      fc.constantFrom(...RESERVED, "shared_memory_region", "triton_enable_empty_final_response", "triton_x", "constructor", "toString"),
      fc.string({ maxLength: 4 }),
    ), paramArb, { maxKeys: 3 });
    const smallInts = fc.array(fc.integer({ min: -300, max: 300 }), { maxLength: 4 });
    const contentsArb = fc.record({
      bool_contents: fc.array(fc.boolean(), { maxLength: 4 }),
      int_contents: smallInts,
      int64_contents: fc.array(int64Arb, { maxLength: 4 }),
      uint_contents: fc.array(fc.nat(), { maxLength: 4 }),
      uint64_contents: fc.array(fc.constantFrom(0, 1, "18446744073709551615"), { maxLength: 4 }),
      fp32_contents: fc.array(fc.float(), { maxLength: 4 }),
      fp64_contents: fc.array(fc.double(), { maxLength: 4 }),
      bytes_contents: fc.array(fc.uint8Array({ maxLength: 4 }), { maxLength: 4 }),
    }, { requiredKeys: [] });
    const messageArb = fc.record({
      model_name: fc.string({ maxLength: 4 }),
      model_version: fc.constantFrom("", "1", "-1", "x"),
      id: fc.string({ maxLength: 4 }),
      parameters: paramsArb,
      inputs: fc.array(fc.record({
        name: fc.string({ maxLength: 4 }),
        datatype: fc.oneof(fc.constantFrom(...DATATYPES), fc.constantFrom("", "fp32", "TYPE_FP32", "STRING")),
        shape: fc.array(int64Arb, { maxLength: 3 }),
        parameters: paramsArb,
        contents: fc.option(contentsArb, { nil: undefined }),
      }, { requiredKeys: ["name", "datatype", "shape"] }), { maxLength: 3 }),
      outputs: fc.array(fc.record({ name: fc.string({ maxLength: 4 }), parameters: paramsArb }), { maxLength: 3 }),
      raw_input_contents: fc.array(fc.oneof(
        fc.uint8Array({ maxLength: 12 }),
        fc.array(fc.uint8Array({ maxLength: 3 }), { maxLength: 3 }).map((els) => {
          const out = Buffer.alloc(els.reduce((n, e) => n + 4 + e.byteLength, 0));
          let at = 0;
          for (const e of els) { out.writeUInt32LE(e.byteLength, at); out.set(e, at + 4); at += 4 + e.byteLength; }
          return new Uint8Array(out);
        }),
      ), { maxLength: 3 }),
    });
    fc.assert(fc.property(messageArb, (message) => {
      const msg = deserialize(serialize(message));
      valueOrClientError(() => {
        takeEnableEmptyFinalResponse(msg);
        return decodeInferRequest(msg);
      });
    }), runs(600));
  });

  it("corrupted wire bytes either fail protobuf decoding or decode to a value or a client error", () => {
    const corruptArb = requestArb.chain((spec) => fc.record({
      wire: fc.constant(encodeRequest(spec)),
      flips: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }),
      cut: fc.nat({ max: 8 }),
    }));
    let undecodable = 0;
    fc.assert(fc.property(corruptArb, ({ wire, flips, cut }) => {
      const bytes = Buffer.from(wire);
      for (const f of flips) if (bytes.byteLength > 0) bytes[f.at % bytes.byteLength] = f.value;
      let msg: InferRequestMessage;
      try {
        msg = deserialize(bytes.subarray(0, Math.max(0, bytes.byteLength - cut)));
      } catch (err) {
        // protobufjs's own refusal: the server's deserializer turns it into a status. It must be
        // an Error that says what was wrong, not something that takes the process down.
        expect(err).toBeInstanceOf(Error);
        undecodable++;
        return;
      }
      valueOrClientError(() => decodeInferRequest(msg));
    }), runs(400));
    expect(undecodable).toBeGreaterThan(0);
  });
});
