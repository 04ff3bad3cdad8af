/**
 * Shared pieces of the decoder fuzz properties (the *.fuzz.test.ts files): the one seed, the
 * verdict "a client error or a value", and arbitraries for valid tensors and for hostile JSON.
 *
 * Every property runs with FUZZ_SEED and a bounded numRuns, so `npm test` is repeatable and fast;
 * a failure prints its seed and path, and `FUZZ_SEED=<n> npx vitest run <file>` explores another
 * (FUZZ_SCALE=<k> multiplies the run counts).
 */
import fc from "fast-check";
import { expect } from "vitest";
import { HTTP_STATUS, ServerError, shapeNotUnsigned, type ErrorCode } from "../../src/errors/index.js";
import { DATATYPES, type Datatype } from "../../src/ipc/datatypes.js";

export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 0x7e55e4a);

/** Multiplies every numRuns, for a longer hunt by hand (FUZZ_SCALE=50); 1 under `npm test`. */
const FUZZ_SCALE = Number(process.env.FUZZ_SCALE ?? 1);

/** fc.assert's parameters for every property: one seed, a bounded run count. */
export const runs = (numRuns: number): fc.Parameters<unknown> => ({ seed: FUZZ_SEED, numRuns: Math.ceil(numRuns * FUZZ_SCALE) });

/**
 * The codes bad input may earn: those the registry maps to a 4xx, plus UNSUPPORTED (501), which
 * Triton answers for features the client asked for and this server lacks (shared memory, an
 * unknown compression). Never INTERNAL or UNKNOWN: those would say the server is at fault.
 */
export const CLIENT_CODES: ReadonlySet<ErrorCode> = new Set(
  (Object.keys(HTTP_STATUS) as ErrorCode[])
    .filter((c) => c !== "UNKNOWN" && (HTTP_STATUS[c] < 500 || c === "UNSUPPORTED")),
);

/**
 * Runs `fn`: its value, or undefined when it threw a client-class ServerError. Anything else it
 * throws fails the property with the thrown value in the message (a RangeError, a TypeError from
 * the decoder's own code, an INTERNAL ServerError).
 */
/**
 * The one INTERNAL text bad input may earn, because Triton answers it with 500 (qa's
 * test_negative_dimensions): a shape dimension that is not an unsigned integer.
 */
export const TRITON_INTERNAL_TEXTS: ReadonlySet<string> = new Set([shapeNotUnsigned().message]);

/** An `also` for valueOrClientError: Triton's own INTERNAL texts for bad input. */
export const tritonInternal = (err: unknown): boolean =>
  err instanceof ServerError && err.code === "INTERNAL" && TRITON_INTERNAL_TEXTS.has(err.message);

export function valueOrClientError<T>(fn: () => T, also: (err: unknown) => boolean = () => false): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (also(err)) return undefined;
    if (err instanceof ServerError && CLIENT_CODES.has(err.code)) return undefined;
    expect.fail(`expected a value or a client-class ServerError, got ${describeThrown(err)}`);
  }
}

export async function valueOrClientErrorAsync<T>(
  fn: () => Promise<T>, also: (err: unknown) => boolean = () => false,
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (also(err)) return undefined;
    if (err instanceof ServerError && CLIENT_CODES.has(err.code)) return undefined;
    expect.fail(`expected a value or a client-class ServerError, got ${describeThrown(err)}`);
  }
}

function describeThrown(err: unknown): string {
  if (err instanceof ServerError) return `ServerError ${err.code}: ${err.message.slice(0, 300)}`;
  if (err instanceof Error) return `${err.name}: ${err.message.slice(0, 300)}\n${err.stack ?? ""}`;
  return typeof err;
}

// ---- valid tensors ---------------------------------------------------------------------------

/** A tensor as a client means it: values by datatype, and the little-endian bytes they make. */
export interface GenTensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  /** JSON-able values (numbers, booleans, strings); null for FP16/BF16, which have no JSON form. */
  values: (number | boolean | string)[] | null;
  /** The raw bytes the decoders must produce (BYTES: Triton's length-prefixed serialization). */
  bytes: Uint8Array;
  /** BYTES only: each element's bytes. */
  elements?: Uint8Array[];
}

/** A decoded request's inputs are the generated tensors: names, datatypes, shapes and bytes, in order. */
export function expectInputsMatch(inputs: readonly { name: string; datatype: string; shape: number[]; data: Uint8Array }[], tensors: readonly GenTensor[]): void {
  expect(inputs.length).toBe(tensors.length);
  tensors.forEach((t, i) => {
    const got = inputs[i]!;
    expect({ name: got.name, datatype: got.datatype, shape: got.shape }).toEqual({ name: t.name, datatype: t.datatype, shape: t.shape });
    expect(Buffer.from(got.data)).toEqual(Buffer.from(t.bytes));
  });
}

const INT_BOUNDS: Partial<Record<Datatype, [number, number]>> = {
  INT8: [-128, 127], INT16: [-32768, 32767], INT32: [-2147483648, 2147483647],
  UINT8: [0, 255], UINT16: [0, 65535], UINT32: [0, 4294967295],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER], UINT64: [0, Number.MAX_SAFE_INTEGER],
};

/** Small shapes (at most 12 elements), zero-sized dims included. */
export const shapeArb: fc.Arbitrary<number[]> = fc
  .array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 3 })
  .filter((s) => s.reduce((n, d) => n * d, 1) <= 12);

export const nameArb = fc.string({ minLength: 1, maxLength: 8 });

/** A datatype's element values (exact in their type) and the bytes they encode to. */
function valuesArb(datatype: Datatype, count: number): fc.Arbitrary<Omit<GenTensor, "name" | "datatype" | "shape">> {
  const n = { minLength: count, maxLength: count };
  switch (datatype) {
    case "BOOL":
      return fc.array(fc.boolean(), n).map((v) => ({ values: v, bytes: Uint8Array.from(v, (b) => (b ? 1 : 0)) }));
    case "FP32":
      return fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), n)
        .map((v) => ({ values: v.map((x) => (Object.is(x, -0) ? 0 : x)), bytes: bytes(new Float32Array(v.map((x) => (Object.is(x, -0) ? 0 : x)))) }));
    case "FP64":
      return fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), n)
        .map((v) => ({ values: v.map((x) => (Object.is(x, -0) ? 0 : x)), bytes: bytes(new Float64Array(v.map((x) => (Object.is(x, -0) ? 0 : x)))) }));
    case "FP16":
    case "BF16":
      return fc.uint8Array({ minLength: 2 * count, maxLength: 2 * count }).map((b) => ({ values: null, bytes: b }));
    case "BYTES":
      return fc.array(fc.string({ unit: "grapheme", maxLength: 6 }), n).map((v) => {
        const elements = v.map((s) => new Uint8Array(Buffer.from(s, "utf8")));
        return { values: v, bytes: serializeElements(elements), elements };
      });
    default: {
      const [min, max] = INT_BOUNDS[datatype]!;
      const wide = datatype === "INT64" ? fc.maxSafeInteger() : datatype === "UINT64" ? fc.maxSafeNat() : null;
      const element = fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31 - 1) }) },
        fc.constantFrom(min, max),
        ...(wide ? [wide] : []),
      );
      return fc.array(element, n).map((v) => ({ values: v, bytes: intBytes(datatype, v) }));
    }
  }
}

function intBytes(datatype: Datatype, v: number[]): Uint8Array {
  switch (datatype) {
    case "INT8": return bytes(Int8Array.from(v));
    case "INT16": return bytes(Int16Array.from(v));
    case "INT32": return bytes(Int32Array.from(v));
    case "UINT8": return bytes(Uint8Array.from(v));
    case "UINT16": return bytes(Uint16Array.from(v));
    case "UINT32": return bytes(Uint32Array.from(v));
    case "INT64": return bytes(BigInt64Array.from(v, (x) => BigInt(x)));
    case "UINT64": return bytes(BigUint64Array.from(v, (x) => BigInt(x)));
    default: throw new Error(`not an integer type: ${datatype}`);
  }
}

/** A valid tensor of one of `datatypes`. */
export function tensorArb(datatypes: readonly Datatype[] = DATATYPES): fc.Arbitrary<GenTensor> {
  return fc.record({ name: nameArb, datatype: fc.constantFrom(...datatypes), shape: shapeArb })
    .chain(({ name, datatype, shape }) =>
      valuesArb(datatype, shape.reduce((n, d) => n * d, 1)).map((v) => ({ name, datatype, shape, ...v })));
}

/** Several tensors with distinct names. */
export function tensorsArb(datatypes: readonly Datatype[] = DATATYPES, maxLength = 4): fc.Arbitrary<GenTensor[]> {
  return fc.uniqueArray(tensorArb(datatypes), { selector: (t) => t.name, maxLength });
}

export function bytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function serializeElements(elements: readonly Uint8Array[]): Uint8Array {
  const out = Buffer.alloc(elements.reduce((n, e) => n + 4 + e.byteLength, 0));
  let at = 0;
  for (const e of elements) {
    out.writeUInt32LE(e.byteLength, at);
    out.set(e, at + 4);
    at += 4 + e.byteLength;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** `flat` nested row-major into `shape` (JSON `data` may be either). */
export function nest(flat: unknown[], shape: readonly number[]): unknown[] {
  if (shape.length <= 1) return flat;
  const [outer, ...inner] = shape;
  const size = inner.reduce((n, d) => n * d, 1);
  const out: unknown[] = [];
  for (let i = 0; i < outer!; i++) out.push(nest(flat.slice(i * size, (i + 1) * size), inner));
  return out;
}

// ---- hostile JSON ----------------------------------------------------------------------------

/**
 * Keys that trip code which treats JSON objects as its own: prototype names, toString/valueOf
 * (which String() and template literals call), toJSON (which JSON.stringify calls).
 */
export const POISON_KEYS = ["__proto__", "constructor", "toString", "valueOf", "toJSON", "hasOwnProperty", "length"];

/** The source text of each deep value, which JSON.stringify itself could not print. */
const DEEP_TEXT = new WeakMap<object, string>();

/** A value nested `depth` arrays (or objects) deep: what recursive walkers overflow on. */
export const deepArb: fc.Arbitrary<unknown> = fc
  .record({ depth: fc.constantFrom(1, 50, 20_000), object: fc.boolean() })
  .map(({ depth, object }) => {
    const text = object ? '{"a":'.repeat(depth) + "1" + "}".repeat(depth) : "[".repeat(depth) + "1" + "]".repeat(depth);
    const value = JSON.parse(text) as object;
    DEEP_TEXT.set(value, text);
    // fast-check's own printer recurses too: give it a short name for the counterexample.
    Object.defineProperty(value, fc.toStringMethod, { value: () => `<${object ? "object" : "array"} ${depth} deep>` });
    return value;
  });

/** JSON.stringify that also prints the values deepArb made (as their source text). */
export function jsonText(value: unknown): string {
  const deep: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => {
    const source = typeof v === "object" && v !== null ? DEEP_TEXT.get(v) : undefined;
    if (source === undefined) return v;
    deep.push(source);
    return `@@deep${deep.length - 1}@@`;
  }) ?? "null";
  return text.replace(/"@@deep(\d+)@@"/g, (_m, i: string) => deep[Number(i)]!);
}

/** Values that are wrong in the ways a careless or hostile client is wrong. */
export const hostileArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(
    null, true, false, 0, -1, 1.5, -0.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 63, 2 ** 64, 1e308, -1e308,
    "", "-1", "1e3", "NaN", "FP32", "BYTES", "TYPE_FP32", "\u0000", "\ud800", [], {}, [[]], [null], [-1], [1.5],
  ) },
  fc.constantFrom(...POISON_KEYS).map((k) => JSON.parse(`{${JSON.stringify(k)}:1}`)),
  fc.constantFrom(...POISON_KEYS).map((k) => JSON.parse(`[{${JSON.stringify(k)}:{}}]`)),
  deepArb,
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);
