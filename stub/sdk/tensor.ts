import { createRequire } from "node:module";
import {
  datatypeOf, datatypeSize, decodeBytesElements, elementCount, isDatatype, typedArrayFor,
  type Datatype, type TypedArray,
} from "../../src/ipc/datatypes.js";
import { TritonError } from "./errors.js";

export type { Datatype, TypedArray };
export type TensorData = TypedArray | Uint8Array[];

// onnxruntime-node is loaded only by handlers that use it: a stub that never calls toOrt()
// does not pay for it at start-up.
type Ort = typeof import("onnxruntime-node");
let ort: Ort | null = null;
function loadOrt(): Ort {
  ort ??= createRequire(import.meta.url)("onnxruntime-node") as Ort;
  return ort;
}

const ORT_TYPE: Partial<Record<Datatype, string>> = {
  BOOL: "bool", UINT8: "uint8", UINT16: "uint16", UINT32: "uint32", UINT64: "uint64",
  INT8: "int8", INT16: "int16", INT32: "int32", INT64: "int64",
  FP16: "float16", FP32: "float32", FP64: "float64", BYTES: "string",
};
const FROM_ORT: Record<string, Datatype> = Object.fromEntries(
  Object.entries(ORT_TYPE).map(([dt, t]) => [t, dt as Datatype]),
);

const utf8 = new TextEncoder();

/**
 * pb_utils.Tensor. Inputs handed to execute() are zero-copy views over shared memory, valid only
 * during that call (asArray() copies); outputs may be any typed array and are copied into shared
 * memory once, when the response is sent.
 */
export class Tensor {
  readonly #name: string;
  readonly #shape: number[];
  readonly #datatype: Datatype;
  readonly data: TensorData;

  constructor(name: string, data: TypedArray | readonly (string | Uint8Array)[], shape?: number[], datatype?: Datatype) {
    if (typeof name !== "string" || name === "") throw new TypeError("Tensor: name must be a non-empty string");
    if (Array.isArray(data)) {
      if (datatype !== undefined && datatype !== "BYTES") {
        throw new TypeError(`Tensor '${name}': an array of strings or Uint8Array is BYTES, not ${datatype}`);
      }
      this.#datatype = "BYTES";
      this.data = data.map((e, i) => {
        if (typeof e === "string") return utf8.encode(e);
        if (e instanceof Uint8Array) return e;
        throw new TypeError(`Tensor '${name}': BYTES element ${i} is neither a string nor a Uint8Array`);
      });
    } else if (ArrayBuffer.isView(data) && !(data instanceof DataView)) {
      const typed = data as TypedArray;
      const dt = datatype ?? datatypeOf(typed);
      if (!isDatatype(dt) || dt === "BYTES") throw new TypeError(`Tensor '${name}': invalid datatype ${String(dt)}`);
      const want = typedArrayFor(dt)!;
      if (typed.BYTES_PER_ELEMENT !== datatypeSize(dt)) {
        throw new TypeError(`Tensor '${name}': a ${typed.constructor.name} cannot hold ${dt} elements`);
      }
      // Reinterpret (no copy) so data always has the typed array that matches the datatype.
      this.data = typed instanceof want ? typed : new want(typed.buffer, typed.byteOffset, typed.length);
      this.#datatype = dt;
    } else {
      throw new TypeError(`Tensor '${name}': data must be a typed array or an array of strings/Uint8Array`);
    }
    const count = this.data.length;
    this.#shape = shape ? [...shape] : [count];
    if (this.#shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new TypeError(`Tensor '${name}': invalid shape [${this.#shape.join(",")}]`);
    }
    if (elementCount(this.#shape) !== count) {
      throw new TypeError(`Tensor '${name}': shape [${this.#shape.join(",")}] needs ${elementCount(this.#shape)} elements, data has ${count}`);
    }
    this.#name = name;
  }

  name(): string {
    return this.#name;
  }

  shape(): number[] {
    return [...this.#shape];
  }

  datatype(): Datatype {
    return this.#datatype;
  }

  /** Tensors live in (shared) host memory. */
  isCpu(): boolean {
    return true;
  }

  /** A copy the handler may keep after execute() returns. */
  asArray(): TensorData {
    if (Array.isArray(this.data)) return this.data.map((e) => e.slice());
    return (this.data as TypedArray).slice();
  }

  /** An onnxruntime-node tensor over the same bytes (BYTES: decoded as UTF-8 strings). */
  toOrt(): import("onnxruntime-node").Tensor {
    const { Tensor: OrtTensor } = loadOrt();
    const type = ORT_TYPE[this.#datatype];
    if (!type) throw new TritonError(`tensor '${this.#name}': ${this.#datatype} has no onnxruntime type`, TritonError.UNSUPPORTED);
    if (this.#datatype === "BYTES") {
      const dec = new TextDecoder();
      return new OrtTensor("string", (this.data as Uint8Array[]).map((e) => dec.decode(e)), this.#shape);
    }
    return new OrtTensor(type as "float32", this.data as Float32Array, this.#shape);
  }

  static fromOrt(name: string, t: import("onnxruntime-node").Tensor): Tensor {
    const dt = FROM_ORT[t.type];
    if (!dt) throw new TritonError(`tensor '${name}': onnxruntime type ${t.type} is not supported`, TritonError.UNSUPPORTED);
    const dims = t.dims.map(Number);
    if (dt === "BYTES") return new Tensor(name, t.data as string[], dims, "BYTES");
    return new Tensor(name, t.data as TypedArray, dims, dt);
  }

  /** @internal An input tensor over raw little-endian bytes (a shared-memory view). */
  static fromBytes(name: string, datatype: Datatype, shape: number[], bytes: Uint8Array): Tensor {
    if (datatype === "BYTES") {
      const elements = decodeBytesElements(bytes, elementCount(shape));
      if (!elements) throw new TritonError(`input '${name}': malformed BYTES data`, TritonError.INVALID_ARG);
      return new Tensor(name, elements, shape, "BYTES");
    }
    const Ctor = typedArrayFor(datatype)!;
    return new Tensor(name, new Ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / datatypeSize(datatype)), shape, datatype);
  }
}
