/**
 * The real server (main + a stub) against 200 random malformed infer requests, seeded: each one
 * gets a client-class answer (4xx, or 501 for what the server does not support) with a JSON
 * error, none a 5xx, and afterwards the server is still ready and still serves a valid request.
 */
import { Buffer } from "node:buffer";
import { join } from "node:path";
import * as zlib from "node:zlib";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FIXTURES, startServer, type RunningServer } from "./harness.js";
import { FUZZ_SEED, TRITON_INTERNAL_TEXTS, hostileArb, jsonText } from "../unit/fuzz.js";
import { DATATYPES } from "../../src/ipc/datatypes.js";

const LIMIT = 64 * 1024;
let server: RunningServer;

beforeAll(async () => {
  server = await startServer(join(FIXTURES, "http-repo"), {
    args: ["--model-control-mode", "explicit", "--load-model", "echo", "--http-max-input-size", String(LIMIT)],
  });
});

afterAll(async () => {
  expect(await server?.stop()).toBe(0);
});

interface Malformed {
  kind: string;
  path: string;
  body: Uint8Array<ArrayBuffer>;
  headers: Record<string, string>;
}

const VALID = { inputs: [{ name: "IN_FP32", datatype: "FP32", shape: [1, 2], data: [1, 2] }] };
const json = (v: unknown) => new Uint8Array(Buffer.from(jsonText(v)));
const infer = "/v2/models/echo/infer";
const isDims = (v: unknown) => Array.isArray(v) && v.every((d) => Number.isSafeInteger(d) && d >= 0);

/** Replacements that are wrong whatever the hostile value is. */
const wrongField = fc.oneof(
  hostileArb.filter((v) => !Array.isArray(v)).map((v) => ({ ...VALID, inputs: v })),
  hostileArb.filter((v) => !(DATATYPES as readonly unknown[]).includes(v)).map((v) => ({ inputs: [{ ...VALID.inputs[0], datatype: v }] })),
  hostileArb.filter((v) => !isDims(v)).map((v) => ({ inputs: [{ ...VALID.inputs[0], shape: v }] })),
  hostileArb.filter((v) => !Array.isArray(v)).map((v) => ({ inputs: [{ ...VALID.inputs[0], data: v }] })),
  // Two elements, as the shape wants, one of them not a number (an array is flattened away).
  hostileArb.filter((v) => typeof v !== "number" && !Array.isArray(v)).map((v) => ({ inputs: [{ ...VALID.inputs[0], data: [1, v] }] })),
  hostileArb.filter((v) => typeof v !== "number" && !Array.isArray(v)).map((v) => ({ inputs: [{ ...VALID.inputs[0], data: [[v], [2]] }] })),
  hostileArb.map((v) => ({ inputs: [{ ...VALID.inputs[0], parameters: { binary_data_size: v } }] })),
  hostileArb.map((v) => ({ ...VALID, parameters: { triton_x: v } })),
  hostileArb.filter((v) => typeof v !== "object" || v === null || Array.isArray(v)).map((v) => ({ ...VALID, parameters: v })),
  hostileArb.filter((v) => !Array.isArray(v)).map((v) => ({ ...VALID, outputs: v })),
  hostileArb.filter((v) => typeof v !== "string").map((v) => ({ ...VALID, id: v })),
);

const malformedArb: fc.Arbitrary<Malformed> = fc.oneof(
  // A proper prefix of a JSON object's text is never JSON.
  fc.record({ cut: fc.integer({ min: 1, max: 40 }) }).map(({ cut }) => {
    const text = jsonText(VALID);
    return { kind: "truncated", path: infer, body: new Uint8Array(Buffer.from(text.slice(0, Math.max(0, text.length - cut)))), headers: {} };
  }),
  // 0xff is never UTF-8, so the text starts with U+FFFD: never JSON.
  fc.uint8Array({ maxLength: 64 }).map((b) => ({ kind: "garbage", path: infer, body: Uint8Array.from([0xff, ...b]), headers: {} })),
  fc.jsonValue({ maxDepth: 2 }).filter((v) => typeof v !== "object" || v === null || Array.isArray(v))
    .map((v) => ({ kind: "not an object", path: infer, body: json(v), headers: {} })),
  // Most of the runs: the decoder's field checks are where bad input meets the most code.
  { weight: 8, arbitrary: wrongField.map((v) => ({ kind: "wrong field", path: infer, body: json(v), headers: {} })) },
  // Binary data that is not all there, or a header length that lies.
  fc.record({ claimed: fc.integer({ min: 1, max: 64 }), sent: fc.nat({ max: 64 }) }).filter(({ claimed, sent }) => sent < claimed).map(({ claimed, sent }) => {
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: "IN_FP32", datatype: "FP32", shape: [1, claimed], parameters: { binary_data_size: claimed * 4 } }] }));
    return { kind: "short binary", path: infer, body: new Uint8Array(Buffer.concat([header, Buffer.alloc(sent * 4)])), headers: { "inference-header-content-length": String(header.byteLength) } };
  }),
  fc.oneof(fc.integer({ min: 1, max: 1000 }).map((n) => String(n + 1000)), fc.constantFrom("-1", "x", "1.5", "0x10", "", " ")).map((h) => ({
    kind: "header length", path: infer, body: json(VALID), headers: { "inference-header-content-length": h },
  })),
  // Compression: corrupt gzip or deflate (no valid stream starts with 0xff), or an unknown scheme.
  fc.record({ bytes: fc.uint8Array({ maxLength: 32 }), encoding: fc.constantFrom("gzip", "deflate", "br", "compress") }).map(({ bytes, encoding }) => ({
    kind: "encoding", path: infer, body: Uint8Array.from([0xff, ...bytes]), headers: { "content-encoding": encoding },
  })),
  // A valid gzip stream that inflates past the limit.
  fc.constant(0).map(() => ({
    kind: "gzip bomb", path: infer, body: new Uint8Array(zlib.gzipSync(Buffer.alloc(LIMIT * 4))), headers: { "content-encoding": "gzip" },
  })),
  fc.integer({ min: LIMIT + 1, max: LIMIT + 4096 }).map((n) => ({ kind: "too large", path: infer, body: new Uint8Array(n), headers: {} })),
  fc.constantFrom("/v2/models/nope/infer", "/v2/models/echo/versions/9/infer", "/v2/models/echo/versions/x/infer")
    .map((path) => ({ kind: "no such model", path, body: json(VALID), headers: {} })),
);

it("answers 200 random malformed infer requests with client errors, and stays ready", async () => {
  const kinds = new Map<string, number>();
  await fc.assert(fc.asyncProperty(malformedArb, async (m) => {
    const res = await fetch(server.url + m.path, { method: "POST", body: m.body, headers: { "content-type": "application/json", ...m.headers } });
    const text = await res.text();
    // 500 only with Triton's own text for it (a shape dim that is not an unsigned integer).
    const clientClass = (res.status >= 400 && res.status < 500) || res.status === 501 ||
      (res.status === 500 && TRITON_INTERNAL_TEXTS.has(JSON.parse(text).error));
    expect(clientClass, `${m.kind}: ${res.status} ${text.slice(0, 300)}`).toBe(true);
    expect(typeof JSON.parse(text).error, `${m.kind}: ${text.slice(0, 300)}`).toBe("string");
    kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1);
  }), { seed: FUZZ_SEED, numRuns: 200 });

  expect(kinds.size).toBeGreaterThanOrEqual(8);
  expect(server.proc.exitCode).toBeNull();
  expect((await fetch(`${server.url}/v2/health/ready`)).status).toBe(200);
  const ok = await fetch(server.url + infer, { method: "POST", body: JSON.stringify({ ...VALID, outputs: [{ name: "OUT_FP32" }] }) });
  expect(ok.status).toBe(200);
  expect((await ok.json()).outputs[0].data).toEqual([1, 2]);
  expect(server.log()).not.toMatch(/unexpected failure|Maximum call stack/);
});
