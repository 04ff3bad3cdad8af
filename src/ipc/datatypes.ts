/**
 * Tensor datatypes: the one place that defines their names, element sizes, typed-array views and
 * the config spelling (TYPE_FP32 ⇄ FP32). Shared by the main process and the stub.
 */

export const DATATYPES = [
  "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
  "FP16", "FP32", "FP64", "BF16", "BYTES",
] as const;
export type Datatype = (typeof DATATYPES)[number];

export type TypedArray =
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array
  | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Float32Array | Float64Array;

type TypedArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray;
  new (length: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

interface DatatypeInfo {
  /** Bytes per element; 0 for BYTES, whose elements are length-prefixed. */
  size: number;
  /** The typed array a tensor of this type is viewed as (FP16/BF16: raw 16-bit words). */
  array: TypedArrayCtor | null;
}

const INFO: Record<Datatype, DatatypeInfo> = {
  BOOL: { size: 1, array: Uint8Array },
  UINT8: { size: 1, array: Uint8Array },
  UINT16: { size: 2, array: Uint16Array },
  UINT32: { size: 4, array: Uint32Array },
  UINT64: { size: 8, array: BigUint64Array },
  INT8: { size: 1, array: Int8Array },
  INT16: { size: 2, array: Int16Array },
  INT32: { size: 4, array: Int32Array },
  INT64: { size: 8, array: BigInt64Array },
  FP16: { size: 2, array: Uint16Array },
  FP32: { size: 4, array: Float32Array },
  FP64: { size: 8, array: Float64Array },
  BF16: { size: 2, array: Uint16Array },
  BYTES: { size: 0, array: null },
};

export function isDatatype(value: unknown): value is Datatype {
  return typeof value === "string" && Object.hasOwn(INFO, value);
}

/** Element size in bytes; 0 for BYTES. */
export function datatypeSize(dt: Datatype): number {
  return INFO[dt].size;
}

export function typedArrayFor(dt: Datatype): TypedArrayCtor | null {
  return INFO[dt].array;
}

/** The datatype a typed array implies when none is given (Uint16Array → UINT16, not FP16). */
export function datatypeOf(array: TypedArray): Datatype {
  if (array instanceof Float32Array) return "FP32";
  if (array instanceof Float64Array) return "FP64";
  if (array instanceof Int32Array) return "INT32";
  if (array instanceof BigInt64Array) return "INT64";
  if (array instanceof Uint8Array) return "UINT8";
  if (array instanceof Int8Array) return "INT8";
  if (array instanceof Int16Array) return "INT16";
  if (array instanceof Uint16Array) return "UINT16";
  if (array instanceof Uint32Array) return "UINT32";
  if (array instanceof BigUint64Array) return "UINT64";
  throw new TypeError("unsupported typed array");
}

/** Config spelling: TYPE_FP32 ⇄ FP32, TYPE_STRING ⇄ BYTES. */
export function datatypeFromConfig(configType: string): Datatype | null {
  if (configType === "TYPE_STRING") return "BYTES";
  const dt = configType.startsWith("TYPE_") ? configType.slice(5) : "";
  return isDatatype(dt) && dt !== "BYTES" ? dt : null;
}

export function datatypeToConfig(dt: Datatype): string {
  return dt === "BYTES" ? "TYPE_STRING" : `TYPE_${dt}`;
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * BYTES tensors travel as Triton serializes them: per element a 4-byte little-endian length, then
 * the bytes. Decoding returns views over `raw` (no copy) or null when the layout is malformed.
 */
export function decodeBytesElements(raw: Uint8Array, count?: number): Uint8Array[] | null {
  const out: Uint8Array[] = [];
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let at = 0;
  while (at < raw.byteLength) {
    if (at + 4 > raw.byteLength) return null;
    const len = view.getUint32(at, true);
    at += 4;
    if (at + len > raw.byteLength) return null;
    out.push(raw.subarray(at, at + len));
    at += len;
  }
  if (count !== undefined && out.length !== count) return null;
  return out;
}

export function bytesElementsSize(elements: readonly Uint8Array[]): number {
  let n = 0;
  for (const e of elements) n += 4 + e.byteLength;
  return n;
}

/** Serializes BYTES elements into `target` (which must hold bytesElementsSize bytes). */
export function encodeBytesElements(elements: readonly Uint8Array[], target: Uint8Array): number {
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  let at = 0;
  for (const e of elements) {
    view.setUint32(at, e.byteLength, true);
    target.set(e, at + 4);
    at += 4 + e.byteLength;
  }
  return at;
}
