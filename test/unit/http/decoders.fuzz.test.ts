/**
 * Properties of the HTTP request decoders (infer-codec, json-tensor, body), seeded and bounded:
 * a valid request decodes to exactly the tensors it carries, and any other input is refused with
 * a client-class ServerError (a 4xx, or 501 for what the server does not support) — never a
 * RangeError, TypeError or INTERNAL, which the server would answer with a 500.
 */
import { Buffer } from "node:buffer";
import { Readable } from "node:stream";
import type { IncomingMessage } from "node:http";
import * as zlib from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ModelMetadata } from "../../../src/core/types.js";
import { BodyTooLargeError, decodeContentEncoding, parseJsonObject, readBody } from "../../../src/http/body.js";
import {
  decodeInferRequest, decodeRawInferRequest, encodeInferResponse, inferHeaderLength,
} from "../../../src/http/infer-codec.js";
import { countBytesElements, jsonToTensorData, tensorToJsonData } from "../../../src/http/json-tensor.js";
import { checkBytesElements } from "../../../src/core/validate.js";
import { DATATYPES, datatypeSize, decodeBytesElements, elementCount, type Datatype } from "../../../src/ipc/datatypes.js";
import {
  POISON_KEYS, expectInputsMatch, hostileArb, jsonText, nest, runs, serializeElements, shapeArb, tensorArb, tensorsArb,
  tritonInternal, valueOrClientError, valueOrClientErrorAsync,
} from "../fuzz.js";

const JSON_TYPES = DATATYPES.filter((d) => d !== "FP16" && d !== "BF16");
/** Parameters with a meaning of their own (checked elsewhere); random keys avoid them. */
const RESERVED = new Set([
  "priority", "timeout", "sequence_id", "sequence_start", "sequence_end", "binary_data_output",
  "binary_data", "classification", "binary_data_size", "__proto__",
]);

const paramsArb = fc.dictionary(
  fc.string({ maxLength: 8 }).filter((k) => !RESERVED.has(k) && !k.startsWith("triton_")),
  fc.oneof(fc.string({ maxLength: 6 }), fc.boolean(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
  { maxKeys: 3 },
);

interface Encoded {
  body: Buffer;
  headerLength: number;
  headerGiven: boolean;
  json: Record<string, unknown>;
}

/** A KServe v2 body for `tensors`: each as JSON data (flat or nested) or binary after the JSON. */
const requestArb = fc.record({
  tensors: tensorsArb(),
  binary: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
  nested: fc.boolean(),
  id: fc.option(fc.string({ maxLength: 6 }), { nil: undefined }),
  parameters: fc.option(paramsArb, { nil: undefined }),
  binaryDataOutput: fc.option(fc.boolean(), { nil: undefined }),
  outputs: fc.option(fc.uniqueArray(fc.record({
    name: fc.string({ minLength: 1, maxLength: 6 }),
    binary: fc.option(fc.boolean(), { nil: undefined }),
    classification: fc.option(fc.nat({ max: 5 }), { nil: undefined }),
  }), { selector: (o) => o.name, maxLength: 3 }), { nil: undefined }),
  forceHeader: fc.boolean(),
});
type RequestSpec = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

function asBinary(spec: RequestSpec, i: number): boolean {
  return spec.tensors[i]!.values === null || spec.binary[i]!;
}

function encodeRequest(spec: RequestSpec): Encoded {
  const parts: Uint8Array[] = [];
  const inputs = spec.tensors.map((t, i) => {
    const base = { name: t.name, datatype: t.datatype, shape: t.shape };
    if (asBinary(spec, i)) {
      parts.push(t.bytes);
      return { ...base, parameters: { binary_data_size: t.bytes.byteLength } };
    }
    return { ...base, data: spec.nested ? nest(t.values!, t.shape) : t.values };
  });
  const json: Record<string, unknown> = { inputs };
  if (spec.id !== undefined) json.id = spec.id;
  if (spec.parameters !== undefined || spec.binaryDataOutput !== undefined) {
    json.parameters = {
      ...spec.parameters,
      ...(spec.binaryDataOutput === undefined ? {} : { binary_data_output: spec.binaryDataOutput }),
    };
  }
  if (spec.outputs !== undefined) {
    json.outputs = spec.outputs.map((o) => {
      const p: Record<string, unknown> = {};
      if (o.binary !== undefined) p.binary_data = o.binary;
      if (o.classification !== undefined) p.classification = o.classification;
      return Object.keys(p).length > 0 ? { name: o.name, parameters: p } : { name: o.name };
    });
  }
  const header = Buffer.from(JSON.stringify(json));
  const body = Buffer.concat([header, ...parts]);
  const headerGiven = parts.length > 0 || spec.forceHeader;
  return { body, headerLength: headerGiven ? header.byteLength : body.byteLength, headerGiven, json };
}

/** Every path to a value inside `v` (objects and arrays), the root included. */
function pathsOf(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...at, i], out));
  else if (typeof v === "object" && v !== null) for (const k of Object.keys(v)) pathsOf((v as any)[k], [...at, k], out);
  return out;
}

/** A deep copy of `v` with the value at `path` replaced (or, for an object, a key added). */
function mutate(v: unknown, path: (string | number)[], value: unknown, addKey?: string): unknown {
  const copy = JSON.parse(JSON.stringify(v));
  let parent: any = null;
  let node: any = copy;
  for (const k of path) {
    parent = node;
    node = node[k];
  }
  if (addKey !== undefined && typeof node === "object" && node !== null && !Array.isArray(node)) {
    Object.defineProperty(node, addKey, { value, enumerable: true, writable: true, configurable: true });
    return copy;
  }
  if (parent === null) return value;
  parent[path[path.length - 1]!] = value;
  return copy;
}

describe("Inference-Header-Content-Length", () => {
  it("any header text gives a length inside the body, or INVALID_ARG", () => {
    const headerArb = fc.oneof(
      fc.string(), fc.stringMatching(/^\s{0,2}\d{1,20}\s{0,2}$/), fc.nat({ max: 2000 }).map(String),
      fc.constantFrom(undefined, "", "-0", "+1", "1e3", "0x10", "1.0", " 1", "٣"), fc.array(fc.string(), { maxLength: 2 }),
    );
    fc.assert(fc.property(headerArb, fc.nat({ max: 1000 }), (header, bodyLength) => {
      const n = valueOrClientError(() => inferHeaderLength(header, bodyLength));
      if (header === undefined) expect(n).toBe(bodyLength);
      if (n === undefined) return;
      expect(Number.isSafeInteger(n) && n >= 0 && n <= bodyLength).toBe(true);
      const text = Array.isArray(header) ? header[0] : header;
      if (text !== undefined) expect(n).toBe(Number(text.trim()));
    }), runs(500));
  });
});

describe("decodeInferRequest", () => {
  it("decodes any valid request to exactly its tensors, binary ones as views over the body", () => {
    fc.assert(fc.property(requestArb, (spec) => {
      const { body, headerLength, headerGiven } = encodeRequest(spec);
      const { request, format } = decodeInferRequest(body, headerLength, "m", "1", headerGiven);
      expectInputsMatch(request.inputs, spec.tensors);
      spec.tensors.forEach((t, i) => {
        if (asBinary(spec, i) && t.bytes.byteLength > 0) expect(request.inputs[i]!.data.buffer).toBe(body.buffer);
      });
      expect(request.id).toBe(spec.id ?? "");
      // As JSON carries them (-0 prints as 0).
      expect(request.parameters).toEqual(JSON.parse(JSON.stringify(spec.parameters ?? {})));
      expect(format.defaultBinary).toBe(spec.binaryDataOutput ?? false);
      expect(request.outputs).toEqual(spec.outputs?.map((o) =>
        (o.classification ? { name: o.name, classification: o.classification } : { name: o.name })));
      for (const o of spec.outputs ?? []) expect(format.binary.get(o.name)).toBe(o.binary);
    }), runs(300));
  });

  it("answers a valid request with one value made wrong with a value or a client error", () => {
    const mutated = requestArb.chain((spec) => {
      const enc = encodeRequest(spec);
      const paths = pathsOf(enc.json);
      return fc.record({
        enc: fc.constant(enc),
        path: fc.constantFrom(...paths),
        value: hostileArb,
        addKey: fc.option(fc.constantFrom(...POISON_KEYS, "data", "parameters", "binary_data_size", "shared_memory_region"), { nil: undefined }),
        headerDelta: fc.constantFrom(0, 0, 0, -1, 1),
        tail: fc.option(fc.uint8Array({ maxLength: 8 }), { nil: undefined }),
      });
    });
    fc.assert(fc.property(mutated, ({ enc, path, value, addKey, headerDelta, tail }) => {
      const header = Buffer.from(jsonText(mutate(enc.json, path, value, addKey)));
      const binary = enc.body.subarray(enc.headerGiven ? enc.headerLength : enc.body.byteLength);
      const body = Buffer.concat([header, tail ?? binary]);
      const headerLength = Math.max(0, Math.min(body.byteLength, header.byteLength + headerDelta));
      valueOrClientError(() => decodeInferRequest(body, headerLength, "m", undefined, true), tritonInternal);
    }), runs(600));
  });

  it("answers arbitrary bytes and arbitrary JSON with a value or a client error", () => {
    const bodyArb = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.jsonValue({ maxDepth: 4 }).map((v) => new Uint8Array(Buffer.from(JSON.stringify(v) ?? ""))),
      fc.record({ inputs: fc.array(fc.dictionary(fc.constantFrom("name", "datatype", "shape", "data", "parameters", ...POISON_KEYS), hostileArb), { maxLength: 3 }) })
        .map((v) => new Uint8Array(Buffer.from(jsonText(v)))),
    );
    fc.assert(fc.property(bodyArb, fc.uint8Array({ maxLength: 16 }), fc.boolean(), (json, tail, headerGiven) => {
      const body = Buffer.concat([json, tail]);
      valueOrClientError(() => decodeInferRequest(body, json.byteLength, "m", undefined, headerGiven), tritonInternal);
    }), runs(300));
  });
});

describe("BYTES length prefixes", () => {
  const corrupted = fc.record({
    elements: fc.array(fc.uint8Array({ maxLength: 8 }), { maxLength: 5 }),
    at: fc.nat(),
    prefix: fc.oneof(fc.constantFrom(0, 1, 3, 4, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff), fc.nat({ max: 40 })),
    cut: fc.nat({ max: 6 }),
  }).map(({ elements, at, prefix, cut }) => {
    const raw = Buffer.from(serializeElements(elements));
    if (raw.byteLength >= 4) raw.writeUInt32LE(prefix >>> 0, at % (raw.byteLength - 3));
    return { elements, raw: raw.subarray(0, Math.max(0, raw.byteLength - (cut > 3 ? 0 : cut))) };
  });

  it("counts what it can walk and refuses a prefix past the end, in both walkers", () => {
    fc.assert(fc.property(corrupted, ({ raw }) => {
      const n = countBytesElements(raw);
      const elements = decodeBytesElements(raw);
      expect(n).toBe(elements === null ? -1 : elements.length);
      if (elements) expect(elements.reduce((s, e) => s + 4 + e.byteLength, 0)).toBe(raw.byteLength);
    }), runs(500));
  });

  it("a binary BYTES input reaches the core byte for byte, and the core accepts it or answers INVALID_ARG", () => {
    fc.assert(fc.property(corrupted, fc.nat({ max: 6 }), ({ elements, raw }, claimed) => {
      const count = claimed % 2 === 0 ? elements.length : claimed;
      const header = Buffer.from(JSON.stringify({
        inputs: [{ name: "s", datatype: "BYTES", shape: [count], parameters: { binary_data_size: raw.byteLength } }],
      }));
      const body = Buffer.concat([header, raw]);
      const got = decodeInferRequest(body, header.byteLength, "m", undefined, true);
      const data = got.request.inputs[0]!.data;
      expect(Buffer.from(data)).toEqual(Buffer.from(raw));
      const checked = valueOrClientError(() => checkBytesElements("", "s", "m", count, data));
      if (checked === undefined) return;
      expect(decodeBytesElements(data)?.length).toBe(count);
    }), runs(500));
  });
});

describe("JSON tensor data", () => {
  it("tensorToJsonData and jsonToTensorData are inverse for every JSON datatype", () => {
    fc.assert(fc.property(tensorArb(JSON_TYPES), (t) => {
      const text = tensorToJsonData({ name: t.name, datatype: t.datatype, shape: t.shape, data: t.bytes });
      const back = jsonToTensorData(t.name, t.datatype, t.shape, JSON.parse(text));
      expect(Buffer.from(back)).toEqual(Buffer.from(t.bytes));
    }), runs(400));
  });

  it("encodeInferResponse's JSON outputs decode back to the response's bytes", () => {
    fc.assert(fc.property(tensorsArb(JSON_TYPES), fc.string({ maxLength: 4 }), (tensors, id) => {
      const response = {
        model: "m", version: "1", id, parameters: {}, release: () => {},
        outputs: tensors.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: t.bytes })),
      };
      const encoded = encodeInferResponse(response, { defaultBinary: false, binary: new Map() });
      const json = JSON.parse(encoded.json.toString());
      expect(encoded.binary).toEqual([]);
      expect(json.id ?? "").toBe(id);
      tensors.forEach((t, i) => {
        const o = json.outputs[i];
        expect([o.name, o.datatype, o.shape]).toEqual([t.name, t.datatype, t.shape]);
        expect(Buffer.from(jsonToTensorData(o.name, o.datatype, o.shape, o.data))).toEqual(Buffer.from(t.bytes));
      });
    }), runs(200));
  });

  it("any data for any shape is bytes of the right size or INVALID_ARG", () => {
    const dataArb = fc.oneof(hostileArb, fc.array(hostileArb, { maxLength: 4 }), fc.array(fc.array(hostileArb, { maxLength: 3 }), { maxLength: 3 }));
    fc.assert(fc.property(fc.constantFrom(...DATATYPES), shapeArb, dataArb, (datatype, shape, data) => {
      const out = valueOrClientError(() => jsonToTensorData("x", datatype, shape, data));
      if (out !== undefined && datatype !== "BYTES") {
        expect(out.byteLength).toBe(elementCount(shape) * datatypeSize(datatype));
      }
    }), runs(400));
  });
});

describe("decodeRawInferRequest", () => {
  it("any body for any single-input model is a request whose bytes fit its shape, or INVALID_ARG", () => {
    const metaArb = fc.record({
      count: fc.constantFrom(0, 1, 1, 1, 2),
      datatype: fc.constantFrom(...DATATYPES),
      shape: fc.array(fc.constantFrom(-1, 0, 1, 2, 3), { maxLength: 3 }),
      maxBatchSize: fc.constantFrom(0, 0, 4),
    });
    fc.assert(fc.property(metaArb, fc.uint8Array({ maxLength: 40 }), ({ count, datatype, shape, maxBatchSize }, body) => {
      const input = { name: "IN", datatype, shape };
      const metadata: ModelMetadata = { name: "m", versions: ["1"], platform: "p", inputs: Array(count).fill(input), outputs: [] };
      const got = valueOrClientError(() => decodeRawInferRequest(body, "m", undefined, metadata, maxBatchSize));
      if (got === undefined) return;
      const t = got.request.inputs[0]!;
      expect(t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)).toBe(true);
      if (datatype === "BYTES") expect(decodeBytesElements(t.data)?.map((e) => Buffer.from(e))).toEqual([Buffer.from(body)]);
      else expect(elementCount(t.shape) * datatypeSize(datatype as Datatype)).toBe(body.byteLength);
    }), runs(500));
  });
});

describe("body.ts", () => {
  it("parseJsonObject: an object, or INVALID_ARG", () => {
    const bodyArb = fc.oneof(
      fc.uint8Array({ maxLength: 32 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => new Uint8Array(Buffer.from(JSON.stringify(v) ?? ""))),
    );
    fc.assert(fc.property(bodyArb, (body) => {
      const got = valueOrClientError(() => parseJsonObject(Buffer.from(body)));
      if (got !== undefined) expect(typeof got === "object" && got !== null && !Array.isArray(got)).toBe(true);
    }), runs(500));
  });

  const tooLarge = (err: unknown) => err instanceof BodyTooLargeError;

  it("decodeContentEncoding: gzip and deflate round-trip within the limit, 413 past it", async () => {
    await fc.assert(fc.asyncProperty(
      fc.uint8Array({ maxLength: 300 }), fc.constantFrom("gzip", "deflate"), fc.integer({ min: 1, max: 400 }),
      async (payload, encoding, limit) => {
        const packed = encoding === "gzip" ? zlib.gzipSync(payload) : zlib.deflateSync(payload);
        const got = await valueOrClientErrorAsync(() => decodeContentEncoding(packed, encoding, limit), tooLarge);
        if (payload.byteLength <= limit) expect(got && Buffer.from(got)).toEqual(Buffer.from(payload));
        else expect(got).toBeUndefined();
      },
    ), runs(200));
  });

  it("decodeContentEncoding: corrupt or unknown encodings are client errors", async () => {
    const packedArb = fc.record({
      payload: fc.uint8Array({ maxLength: 64 }),
      flips: fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), { maxLength: 3 }),
      cut: fc.nat({ max: 30 }),
      encoding: fc.constantFrom("gzip", "deflate", "identity", "", "br", "x-gzip", "GZIP", "gzip, deflate"),
    }).map(({ payload, flips, cut, encoding }) => {
      const packed = Buffer.from(zlib.gzipSync(payload));
      for (const f of flips) if (packed.byteLength > 0) packed[f.at % packed.byteLength]! ^= f.xor;
      return { body: packed.subarray(0, Math.max(0, packed.byteLength - cut)), encoding };
    });
    await fc.assert(fc.asyncProperty(packedArb, async ({ body, encoding }) => {
      await valueOrClientErrorAsync(() => decodeContentEncoding(body, encoding, 1 << 16), tooLarge);
    }), runs(300));
  });

  it("readBody: any chunking, with or without Content-Length, is one buffer or 413", async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: 5 }), fc.boolean(), fc.nat({ max: 150 }),
      async (chunks, declare, limit) => {
        const total = chunks.reduce((n, c) => n + c.byteLength, 0);
        const req = Readable.from(chunks.map((c) => Buffer.from(c))) as unknown as IncomingMessage;
        (req as { headers: Record<string, string> }).headers = declare ? { "content-length": String(total) } : {};
        const got = await valueOrClientErrorAsync(() => readBody(req, limit), tooLarge);
        if (total <= limit) expect(got && Buffer.from(got)).toEqual(Buffer.concat(chunks));
        else expect(got).toBeUndefined();
      },
    ), runs(200));
  });
});
