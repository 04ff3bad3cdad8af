import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decodeBody, encodeBody } from "../../../src/ipc/body-codec.js";
import type { BlsRequestBody, ExecuteBody, ResponseBody, StreamBody, WireTensor } from "../../../src/ipc/protocol.js";
import { runs } from "../fuzz.js";

// The queues' body codec: every body the senders build comes back equal, whatever else was
// encoded before it (no state between messages), and hostile bytes throw instead of crashing,
// hanging or yielding something that is not a body.

/** Records as the senders build them: plain objects (fast-check also makes null-prototype ones). */
const rec = (model: Record<string, fc.Arbitrary<unknown>>, requiredKeys?: string[]): fc.Arbitrary<any> =>
  fc.record(model, requiredKeys ? { requiredKeys, noNullPrototype: true } : { noNullPrototype: true });
const text = fc.string({ unit: "grapheme", maxLength: 24 });
const param = fc.oneof(text, fc.integer(), fc.double({ noNaN: true }), fc.boolean(), fc.maxSafeInteger());
const params = fc.dictionary(fc.string({ unit: "grapheme", maxLength: 12 }), param, { maxKeys: 5, noNullPrototype: true });
const u32 = fc.nat({ max: 0xffff_ffff });
const tensor: fc.Arbitrary<WireTensor> = rec({
  name: text,
  datatype: fc.constantFrom("FP32", "INT64", "BYTES", "BOOL", "FP16"),
  shape: fc.array(fc.nat({ max: 1 << 20 }), { maxLength: 4 }),
  loc: fc.tuple(u32, u32, u32),
}) as fc.Arbitrary<WireTensor>;
const error = rec({ code: fc.constantFrom("INTERNAL", "INVALID_ARG", "UNAVAILABLE"), message: text }) as fc.Arbitrary<{ code: "INTERNAL"; message: string }>;
const response = fc.oneof(
  rec({ outputs: fc.array(tensor, { maxLength: 3 }) }),
  rec({ outputs: fc.array(tensor, { maxLength: 3 }), parameters: params }),
  rec({ outputs: fc.constant([]), error }),
);
const execute: fc.Arbitrary<ExecuteBody> = rec({
  id: u32,
  requests: fc.array(rec({
    key: u32, id: text, correlationId: fc.oneof(text, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })), flags: fc.nat(3), slot: fc.integer({ min: -1, max: 1024 }), parameters: params,
    requestedOutputs: fc.array(text, { maxLength: 3 }), inputs: fc.array(tensor, { maxLength: 3 }),
  }), { maxLength: 4 }),
});
const reply: fc.Arbitrary<ResponseBody> = fc.oneof(
  rec({ id: u32, responses: fc.array(response, { maxLength: 4 }), execNs: fc.maxSafeNat() }),
  rec({ id: u32, error, execNs: fc.maxSafeNat() }),
  rec({ id: u32, execNs: fc.maxSafeNat() }),
);
const stream: fc.Arbitrary<StreamBody> = fc.oneof(
  rec({ key: u32, response, final: fc.boolean() }),
  rec({ key: u32, final: fc.boolean() }),
);
const bls: fc.Arbitrary<BlsRequestBody> = rec({
  bls: u32, model: text, version: text, id: text, parameters: params,
  requestedOutputs: fc.array(text, { maxLength: 3 }), inputs: fc.array(tensor, { maxLength: 3 }),
  timeoutMs: fc.nat(),
}, ["bls", "model", "version", "id", "parameters", "requestedOutputs", "inputs"]);
const body = fc.oneof(execute, reply, stream, bls);

/** A copy of the encoder's bytes, as they land in a message block. */
const encoded = (b: object) => Uint8Array.from(encodeBody(b));

describe("message body codec", () => {
  it("every body comes back equal", () => {
    fc.assert(fc.property(body, (b) => {
      expect(decodeBody(encoded(b))).toStrictEqual(b);
    }), runs(500));
  });

  it("keeps no state between messages: any subset, decoded in any order, comes back equal", () => {
    fc.assert(fc.property(fc.array(body, { minLength: 1, maxLength: 12 }), fc.func(fc.boolean()), (bodies, keep) => {
      const wire = bodies.map((b) => ({ b, bytes: encoded(b) }));
      const read = wire.filter((_, i) => keep(i)).reverse();
      for (const { b, bytes } of read) expect(decodeBody(bytes)).toStrictEqual(b);
    }), runs(200));
  });

  it("bodies in the senders' key orders are records: their key names are not on the wire", () => {
    const b: ExecuteBody = {
      id: 7,
      requests: [{ key: 1, id: "", correlationId: "", flags: 0, slot: -1, parameters: {}, requestedOutputs: [],
        inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1, 16], loc: [0, 4096, 64] }] }],
    };
    const bytes = Buffer.from(encoded(b));
    for (const key of ["requests", "correlationId", "requestedOutputs", "datatype"]) expect(bytes.includes(key)).toBe(false);
    expect(bytes.byteLength).toBeLessThan(JSON.stringify(b).length / 2);
  });

  it("hostile bytes throw or give a plain object; never a crash, a hang or a non-body", () => {
    const hostile = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      // A valid body with some bytes overwritten or cut short.
      fc.tuple(body, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), fc.nat()).map(([b, edits, cut]) => {
        const bytes = encoded(b);
        for (const [at, v] of edits) bytes[at % bytes.length] = v;
        return bytes.subarray(0, bytes.length - (cut % 3));
      }),
    );
    fc.assert(fc.property(hostile, (bytes) => {
      let value: unknown;
      try {
        value = decodeBody(bytes);
      } catch (err) {
        expect(err).toBeInstanceOf(Error);
        return;
      }
      expect(typeof value).toBe("object");
      expect(value).not.toBeNull();
      expect(Array.isArray(value)).toBe(false);
    }), runs(2000));
  });
});
