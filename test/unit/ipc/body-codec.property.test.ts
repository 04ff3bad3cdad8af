import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decodeBody, encodeBody } from "../../../src/ipc/body-codec.js";
import { KIND, type BlsRequestBody, type ExecuteBody, type ResponseBody, type StreamBody, type WireRegion, type WireTensor } from "../../../src/ipc/protocol.js";
import { runs } from "../fuzz.js";

// The queues' body codec: every body the senders build comes back equal, whatever else was
// encoded before it (no state between messages), whether its kind has a fixed layout (EXECUTE,
// RESPONSE, STREAM) or goes as MessagePack, and hostile bytes throw instead of crashing, hanging
// or yielding something that is not a body.

/** Records as the senders build them: plain objects (fast-check also makes null-prototype ones). */
const rec = (model: Record<string, fc.Arbitrary<unknown>>, requiredKeys?: string[]): fc.Arbitrary<any> =>
  fc.record(model, requiredKeys ? { requiredKeys, noNullPrototype: true } : { noNullPrototype: true });
// With a leading U+FEFF now and then: a byte-order mark in a string is a character, kept.
const text = fc.oneof(fc.string({ unit: "grapheme", maxLength: 24 }), fc.string({ unit: "grapheme", maxLength: 8 }).map((s) => `\ufeff${s}`));
// -0 as 0: MessagePack writes it as the integer 0.
const param = fc.oneof(text, fc.integer(), fc.double({ noNaN: true }).map((x) => (x === 0 ? 0 : x)), fc.boolean(), fc.maxSafeInteger(),
  // uint64 sequence ids past 2^53, and negative int64s
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: -(2n ** 63n), max: -1n }));
// No key "__proto__": msgpackr renames it (its guard against prototype pollution); the fixed
// layouts keep it, tested on its own below.
const params = fc.dictionary(fc.string({ unit: "grapheme", maxLength: 12 }).filter((k) => k !== "__proto__"), param, { maxKeys: 5, noNullPrototype: true });
const u32 = fc.nat({ max: 0xffff_ffff });
const region: fc.Arbitrary<WireRegion> = rec({ id: u32, name: text, path: text, inode: fc.maxSafeNat(), end: u32, offset: u32, size: u32 });
const tensor: fc.Arbitrary<WireTensor> = rec({
  name: text,
  datatype: fc.constantFrom("FP32", "INT64", "BYTES", "BOOL", "FP16"),
  shape: fc.array(fc.nat({ max: 1 << 20 }), { maxLength: 4 }),
  loc: fc.tuple(u32, u32, u32),
  // A tensor in a client's region: its body cannot take the fixed layout, and goes as MessagePack.
  region,
}, ["name", "datatype", "shape", "loc"]) as fc.Arbitrary<WireTensor>;
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
    outputRegions: fc.dictionary(text, region, { maxKeys: 2, noNullPrototype: true }),
  }, ["key", "id", "correlationId", "flags", "slot", "parameters", "requestedOutputs", "inputs"]), { maxLength: 4 }),
});
const reply: fc.Arbitrary<ResponseBody> = fc.oneof(
  rec({ id: u32, responses: fc.array(response, { maxLength: 4 }), reschedule: fc.array(fc.nat(8), { maxLength: 3 }), execNs: fc.maxSafeNat() }, ["id", "responses"]),
  rec({ id: u32, error, execNs: fc.maxSafeNat() }, ["id", "error"]),
  rec({ id: u32, execNs: fc.maxSafeNat(), reschedule: fc.array(fc.nat(8), { maxLength: 3 }) }, ["id"]),
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
/** A body and the kind it is sent as. */
type Sent = { kind: number; b: object };
const body: fc.Arbitrary<Sent> = fc.oneof(
  execute.map((b) => ({ kind: KIND.EXECUTE, b })),
  reply.map((b) => ({ kind: KIND.RESPONSE, b })),
  stream.map((b) => ({ kind: KIND.STREAM, b })),
  bls.map((b) => ({ kind: KIND.BLS_REQUEST, b })),
);

/** A copy of the encoder's bytes, as they land in a message block. */
const encoded = ({ kind, b }: Sent) => Uint8Array.from(encodeBody(kind, b));

describe("message body codec", () => {
  it("every body comes back equal", () => {
    fc.assert(fc.property(body, (sent) => {
      expect(decodeBody(sent.kind, encoded(sent))).toStrictEqual(sent.b);
    }), runs(1000));
  });

  it("keeps no state between messages: any subset, decoded in any order, comes back equal", () => {
    fc.assert(fc.property(fc.array(body, { minLength: 1, maxLength: 12 }), fc.func(fc.boolean()), (bodies, keep) => {
      const wire = bodies.map((sent) => ({ kind: sent.kind, b: sent.b, bytes: encoded(sent) }));
      const read = wire.filter((_, i) => keep(i)).reverse();
      for (const { kind, b, bytes } of read) expect(decodeBody(kind, bytes)).toStrictEqual(b);
    }), runs(200));
  });

  it("hot bodies take their fixed layout: no key names, no type tags on the wire", () => {
    const b: ExecuteBody = {
      id: 7,
      requests: [{ key: 1, id: "", correlationId: "", flags: 0, slot: -1, parameters: {}, requestedOutputs: [],
        inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1, 16], loc: [0, 4096, 64] }] }],
    };
    const bytes = Buffer.from(encoded({ kind: KIND.EXECUTE, b }));
    expect(bytes[0]).toBe(1); // the EXECUTE layout, not MessagePack (0)
    for (const key of ["requests", "correlationId", "requestedOutputs", "datatype", "loc"]) expect(bytes.includes(key)).toBe(false);
    expect(bytes.includes("INPUT0")).toBe(true);
    const reply: ResponseBody = { id: 7, responses: [{ outputs: [] }], execNs: 5 };
    expect(encoded({ kind: KIND.RESPONSE, b: reply })[0]).toBe(2);
    expect(encoded({ kind: KIND.STREAM, b: { key: 1, final: true } })[0]).toBe(3);
  });

  it("a body larger than the encoder's buffer grows it mid-body and comes back equal", () => {
    const outputs: WireTensor[] = Array.from({ length: 3000 }, (_, i) => ({ name: `OUT${i}`, datatype: "FP32", shape: [i, 2 ** 40 + i], loc: [i, i * 64, 16] }));
    const b: ResponseBody = { id: 1, responses: [{ outputs, parameters: { big: 2n ** 63n, text: "é".repeat(5000) } }], execNs: 7 };
    expect(decodeBody(KIND.RESPONSE, encoded({ kind: KIND.RESPONSE, b }))).toStrictEqual(b);
  });

  it("a parameter named __proto__ stays a parameter, never the object's prototype", () => {
    const parameters = JSON.parse('{"__proto__": "x", "n": 1}'); // an own key, as a client's JSON makes it
    const b: StreamBody = { key: 1, response: { outputs: [], parameters }, final: true };
    const back = decodeBody(KIND.STREAM, encoded({ kind: KIND.STREAM, b })) as StreamBody;
    expect(Object.getPrototypeOf(back.response!.parameters)).toBe(Object.prototype);
    expect(Object.keys(back.response!.parameters!)).toEqual(["__proto__", "n"]);
    expect(Object.getOwnPropertyDescriptor(back.response!.parameters, "__proto__")?.value).toBe("x");
  });

  it("a hot body the layouts cannot carry goes as MessagePack records, and comes back equal", () => {
    const b: ExecuteBody = {
      id: 7,
      requests: [{ key: 1, id: "r", correlationId: "", flags: 0, slot: -1, parameters: {}, requestedOutputs: [],
        inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1, 16], loc: [0, 0, 0],
          region: { id: 1, name: "in", path: "/proc/1/fd/9", inode: 5, end: 64, offset: 0, size: 64 } }] }],
    };
    const bytes = encoded({ kind: KIND.EXECUTE, b });
    expect(bytes[0]).toBe(0);
    for (const key of ["requests", "correlationId", "requestedOutputs"]) expect(Buffer.from(bytes).includes(key)).toBe(false);
    expect(decodeBody(KIND.EXECUTE, bytes)).toStrictEqual(b);
    // Other kinds always go as MessagePack.
    expect(encoded({ kind: KIND.DROP_REGION, b: { id: 3 } })[0]).toBe(0);
  });

  it("a body in another kind's layout breaks the message", () => {
    const reply = encoded({ kind: KIND.RESPONSE, b: { id: 1, execNs: 2 } });
    expect(() => decodeBody(KIND.EXECUTE, reply)).toThrow(/format 2 is not one of message kind 1/);
    expect(() => decodeBody(KIND.BLS_REQUEST, reply)).toThrow(RangeError);
  });

  it("hostile bytes throw or give a plain object; never a crash, a hang or a non-body", () => {
    const kinds = [KIND.EXECUTE, KIND.RESPONSE, KIND.STREAM, KIND.BLS_REQUEST];
    const hostile: fc.Arbitrary<[number, Uint8Array]> = fc.oneof(
      fc.tuple(fc.constantFrom(...kinds), fc.uint8Array({ maxLength: 64 })),
      // Random bytes after the format byte of each fixed layout: lengths and counts out of bounds.
      fc.tuple(fc.constantFrom(1, 2, 3), fc.uint8Array({ maxLength: 96 })).map(([format, rest]): [number, Uint8Array] => [kinds[format - 1], Uint8Array.of(format, ...rest)]),
      // A valid body with some bytes overwritten or cut short.
      fc.tuple(body, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), fc.nat()).map(([sent, edits, cut]): [number, Uint8Array] => {
        const bytes = encoded(sent);
        for (const [at, v] of edits) bytes[at % bytes.length] = v;
        return [sent.kind, bytes.subarray(0, bytes.length - (cut % 3))];
      }),
    );
    fc.assert(fc.property(hostile, ([kind, bytes]) => {
      let value: unknown;
      try {
        value = decodeBody(kind, bytes);
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
