/**
 * JSON tensor data ⇄ the raw little-endian bytes the core works with.
 *
 * JSON is the slow encoding the client chose, so per-element work is allowed here (and only here);
 * the binary path never comes through this module. Texts of the errors follow Triton's
 * http_server.cc where Triton has one, naming the tensor so a client can tell which one is wrong.
 */
import { Buffer } from "node:buffer";
import type { CoreTensor } from "../core/types.js";
import {
  jsonDataCount, jsonDataNotArray, jsonNestingTooDeep, jsonElementInvalid, jsonHalfInput, jsonHalfOutput, outputSizeMismatch,
} from "../errors/index.js";
import { datatypeSize, elementCount, typedArrayFor, type Datatype } from "../ipc/datatypes.js";
import { MAX_JSON_DEPTH } from "./json-scan.js";

/** Inclusive integer bounds of the types whose values fit a JS number exactly. */
const INT_RANGE: Partial<Record<Datatype, readonly [number, number]>> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-2147483648, 2147483647],
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
};

const TWO_63 = 2 ** 63;
const TWO_64 = 2 ** 64;

/**
 * Converts an input's JSON `data` (flat or nested, row major) into raw bytes.
 * Throws INVALID_ARG naming the input for a wrong element count or element type.
 */
export function jsonToTensorData(
  name: string, datatype: Datatype, shape: readonly number[], data: unknown,
): Uint8Array {
  if (datatype === "FP16" || datatype === "BF16") {
    throw jsonHalfInput(datatype, name);
  }
  if (!Array.isArray(data)) {
    throw jsonDataNotArray(name);
  }
  const flat = flatten(data);
  // BYTES: the strings as given, their count checked by the core against the shape (Triton's
  // ValidateBytesInputs), as for binary and gRPC data.
  if (datatype === "BYTES") return stringsToBytes(name, flat);
  const count = elementCount(shape);
  if (flat.length !== count) {
    throw jsonDataCount(name, shape, count, flat.length);
  }
  if (datatype === "BOOL") return boolsToBytes(name, flat);

  const Ctor = typedArrayFor(datatype)!;
  const out = new Ctor(count);
  if (datatype === "INT64" || datatype === "UINT64") {
    const lo = datatype === "INT64" ? -TWO_63 : 0;
    const hi = datatype === "INT64" ? TWO_63 : TWO_64;
    const big = out as BigInt64Array | BigUint64Array;
    for (let i = 0; i < count; i++) {
      const v = flat[i];
      // Exclusive upper bound: 2^63 and 2^64 are the first values that do not fit.
      if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v >= hi) {
        throw badElement(name, datatype, i, v);
      }
      big[i] = BigInt(v);
    }
  } else if (datatype === "FP32" || datatype === "FP64") {
    const f = out as Float32Array | Float64Array;
    for (let i = 0; i < count; i++) {
      const v = flat[i];
      if (typeof v !== "number") throw badElement(name, datatype, i, v);
      f[i] = v;
    }
  } else {
    const [lo, hi] = INT_RANGE[datatype]!;
    const n = out as Int32Array;
    for (let i = 0; i < count; i++) {
      const v = flat[i];
      if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) {
        throw badElement(name, datatype, i, v);
      }
      n[i] = v;
    }
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

function flatten(data: unknown[]): unknown[] {
  let nested = false;
  for (let i = 0; i < data.length; i++) {
    if (Array.isArray(data[i])) {
      nested = true;
      break;
    }
  }
  if (!nested) return data;
  // An explicit stack, not recursion: the client picks the depth, and JSON.parse accepts
  // arrays nested far deeper than the call stack.
  const out: unknown[] = [];
  const stack: [unknown[], number][] = [[data, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top[1] === top[0].length) {
      stack.pop();
      continue;
    }
    // Triton's ReadDataFromJsonHelper: `data` is depth 0, and nothing may sit at depth 100.
    if (stack.length >= MAX_JSON_DEPTH) throw jsonNestingTooDeep(MAX_JSON_DEPTH);
    const v = top[0][top[1]++];
    if (Array.isArray(v)) stack.push([v, 0]);
    else out.push(v);
  }
  return out;
}

/**
 * A client's JSON value for an error text. Neither JSON.stringify (it recurses: a value nested
 * some thousands deep overflows the stack) nor String() (it calls a `toString` key the client
 * sent) may see client values unguarded: either would turn bad input into a 500.
 */
export function showValue(value: unknown): string {
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return Array.isArray(value) ? "a deeply nested array" : "a deeply nested object";
  }
}

function badElement(name: string, datatype: Datatype, index: number, value: unknown) {
  return jsonElementInvalid(name, index, showValue(value), datatype);
}

function boolsToBytes(name: string, flat: unknown[]): Uint8Array {
  const out = new Uint8Array(flat.length);
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i];
    if (typeof v !== "boolean") throw badElement(name, "BOOL", i, v);
    out[i] = v ? 1 : 0;
  }
  return out;
}

// Triton's BYTES serialization: per element a 4-byte LE length, then the UTF-8 bytes.
function stringsToBytes(name: string, flat: unknown[]): Uint8Array {
  let total = 0;
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i];
    if (typeof v !== "string") throw badElement(name, "BYTES", i, v);
    total += 4 + Buffer.byteLength(v, "utf8");
  }
  const out = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (const v of flat as string[]) {
    const len = out.write(v, at + 4, "utf8");
    out.writeUInt32LE(len, at);
    at += 4 + len;
  }
  return out;
}

/** Number of BYTES elements in a serialized tensor, or -1 when the layout is malformed. */
export function countBytesElements(raw: Uint8Array): number {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let at = 0;
  let n = 0;
  while (at < raw.byteLength) {
    if (at + 4 > raw.byteLength) return -1;
    at += 4 + view.getUint32(at, true);
    if (at > raw.byteLength) return -1;
    n++;
  }
  return n;
}

/**
 * The JSON text of an output's `data` (a flat array). INT64/UINT64 are written as exact integer
 * literals, BYTES as strings (invalid UTF-8 becomes U+FFFD: a client that needs the exact bytes
 * asks for binary output). FP16/BF16 are refused as Triton refuses them.
 */
export function tensorToJsonData(tensor: CoreTensor): string {
  const { name, datatype, shape, data } = tensor;
  if (datatype === "FP16" || datatype === "BF16") {
    throw jsonHalfOutput(datatype, name);
  }
  const count = elementCount(shape);
  if (datatype === "BYTES") return bytesToJson(name, data, count);

  const size = datatypeSize(datatype);
  if (data.byteLength !== count * size) throw sizeMismatch(name);
  if (datatype === "BOOL") {
    let s = "[";
    for (let i = 0; i < count; i++) s += (i === 0 ? "" : ",") + (data[i] ? "true" : "false");
    return s + "]";
  }
  // Views over a request body can sit at any offset; a typed array needs alignment. (Not
  // data.slice(): on a Buffer that is another view, not a copy.)
  const bytes = data.byteOffset % size === 0 ? data : new Uint8Array(data);
  const Ctor = typedArrayFor(datatype)!;
  const view = new Ctor(bytes.buffer, bytes.byteOffset, count);
  // join() prints exact integers (BigInt too) and the shortest round-trip form of a double,
  // the same text rapidjson writes for Triton.
  const text = view.join(",");
  if ((datatype === "FP32" || datatype === "FP64") && /[NI]/.test(text)) {
    // NaN and ±Infinity have no JSON spelling; null is what JSON.stringify writes for them.
    return JSON.stringify(Array.from(view as Float32Array));
  }
  return "[" + text + "]";
}

function bytesToJson(name: string, data: Uint8Array, count: number): string {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let s = "[";
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 4 > buf.length) throw sizeMismatch(name);
    const len = buf.readUInt32LE(at);
    at += 4;
    if (at + len > buf.length) throw sizeMismatch(name);
    s += (i === 0 ? "" : ",") + JSON.stringify(buf.toString("utf8", at, at + len));
    at += len;
  }
  if (at !== buf.length) throw sizeMismatch(name);
  return s + "]";
}

/**
 * A BYTES output's `data` as JSON bytes, each element's bytes written as they are, never decoded:
 * what rapidjson writes for Triton (its writer does not validate UTF-8). Escaped are only `"`,
 * `\\` and the control characters below 0x20, so valid UTF-8 reads back as the same text, and any
 * other bytes reach the client unchanged (Python's json.loads, which tritonclient uses, reads
 * lone surrogates as such). Decoding as UTF-8 here would replace invalid sequences with U+FFFD.
 */
export function bytesToJsonBuffer(name: string, data: Uint8Array, count: number): Buffer {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  // First pass: bounds, and the escaped size.
  let size = 2;
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 4 > buf.length) throw sizeMismatch(name);
    const len = buf.readUInt32LE(at);
    at += 4;
    if (len > buf.length - at) throw sizeMismatch(name);
    size += (i === 0 ? 2 : 3) + len;
    for (let j = at; j < at + len; j++) size += ESCAPE_EXTRA[buf[j]!]!;
    at += len;
  }
  if (at !== buf.length) throw sizeMismatch(name);
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  out[o++] = 0x5b; // [
  at = 0;
  for (let i = 0; i < count; i++) {
    const len = buf.readUInt32LE(at);
    at += 4;
    if (i > 0) out[o++] = 0x2c; // ,
    out[o++] = 0x22; // "
    for (let j = at; j < at + len; j++) {
      const b = buf[j]!;
      if (ESCAPE_EXTRA[b] === 0) {
        out[o++] = b;
        continue;
      }
      out[o++] = 0x5c; // backslash
      const short = SHORT_ESCAPE[b];
      if (short !== undefined) {
        out[o++] = short;
      } else {
        o += out.write(`u00${HEX[b >> 4]}${HEX[b & 15]}`, o, "latin1");
      }
    }
    out[o++] = 0x22;
    at += len;
  }
  out[o++] = 0x5d; // ]
  return out;
}

const HEX = "0123456789ABCDEF";
/** rapidjson's short escapes: \b \t \n \f \r, \" and \\. */
const SHORT_ESCAPE: Partial<Record<number, number>> = { 8: 0x62, 9: 0x74, 10: 0x6e, 12: 0x66, 13: 0x72, 34: 0x22, 92: 0x5c };
/** Bytes each input byte adds when escaped: 1 for a short escape, 5 for \u00XX, 0 for none. */
const ESCAPE_EXTRA: Uint8Array = (() => {
  const extra = new Uint8Array(256);
  for (let b = 0; b < 0x20; b++) extra[b] = SHORT_ESCAPE[b] !== undefined ? 1 : 5;
  extra[0x22] = 1;
  extra[0x5c] = 1;
  return extra;
})();

function sizeMismatch(name: string) {
  return outputSizeMismatch(name);
}
