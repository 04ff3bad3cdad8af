/**
 * ModelInferRequest ⇄ CoreRequest and CoreResponse → ModelInferResponse, for decoded protobufjs
 * messages. Raw input contents reach the core as the very views protobufjs decoded (over the
 * buffer grpc-js received); typed contents — the slow form the client chose — are converted to
 * raw little-endian bytes here and only here. Outputs always go back as raw_output_contents, as
 * Triton's gRPC front end sends them. Validation against the model config is the core's.
 */
import type {
  CoreRequest, CoreResponse, CoreTensor, ParamValue, Parameters, RequestedOutput,
} from "../core/types.js";
import {
  contentsCount, contentsNoTypedField, contentsWithRaw, contentsWrongField,
  datatypeInvalid, grpcParameterType, parameterOutOfRange, parameterTypeInvalid, rawContentsCount, shapeCountOverflow, shapeInvalid,
  sharedMemoryUnsupported, shmInputWithContents, shmOutputConflict, shmParameterUnparsable,
} from "../errors/index.js";
import type { RegionLeases } from "../shm/registry.js";
import { placeOutput } from "../shm/outputs.js";
import type { RegionRef } from "../core/types.js";
import {
  requestParameter, tensorParameter, type WireParameter,
} from "../core/parameters.js";
import {
  bytesElementsSize, elementCount, encodeBytesElements, isDatatype,
  typedArrayFor, type Datatype,
} from "../ipc/datatypes.js";

import { exactElementCount } from "../core/element-count.js";

/** An int64/uint64 field as protobufjs decodes it: a Long (long.js present), else a number. */
export type Int64 =
  | number
  | string
  | { low: number; high: number; unsigned: boolean; toNumber(): number; toString(): string };

/** InferParameter and ModelRepositoryParameter as decoded (the oneof getter names the choice). */
export interface ParameterMessage {
  parameter_choice?: string;
  bool_param?: boolean;
  int64_param?: Int64;
  uint64_param?: Int64;
  double_param?: number;
  string_param?: string;
  bytes_param?: Uint8Array;
}

export interface TensorContentsMessage {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: Int64[];
  uint_contents?: number[];
  uint64_contents?: Int64[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Uint8Array[];
}

export interface InferRequestMessage {
  model_name?: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, ParameterMessage>;
  inputs?: {
    name?: string;
    datatype?: string;
    shape?: Int64[];
    parameters?: Record<string, ParameterMessage>;
    contents?: TensorContentsMessage | null;
  }[];
  outputs?: { name?: string; parameters?: Record<string, ParameterMessage> }[];
  raw_input_contents?: Uint8Array[];
}

/** The plain ModelInferResponse handed to the encoder. */
export interface InferResponsePlain {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, PlainParameter>;
  outputs: { name: string; datatype: string; shape: number[] }[];
  raw_output_contents: Uint8Array[];
}

export type PlainParameter =
  | { bool_param: boolean }
  | { int64_param: number | string }
  | { double_param: number }
  | { string_param: string };

/** Which typed-contents field carries each datatype (FP16/BF16 have none: raw only). */
const CONTENTS_FIELD: Record<Datatype, keyof TensorContentsMessage | null> = {
  BOOL: "bool_contents",
  INT8: "int_contents",
  INT16: "int_contents",
  INT32: "int_contents",
  INT64: "int64_contents",
  UINT8: "uint_contents",
  UINT16: "uint_contents",
  UINT32: "uint_contents",
  UINT64: "uint64_contents",
  FP32: "fp32_contents",
  FP64: "fp64_contents",
  BYTES: "bytes_contents",
  FP16: null,
  BF16: null,
};

const CONTENTS_FIELDS: (keyof TensorContentsMessage)[] = [
  "bool_contents", "int_contents", "int64_contents", "uint_contents", "uint64_contents",
  "fp32_contents", "fp64_contents", "bytes_contents",
];

export function decodeInferRequest(msg: InferRequestMessage, regions?: RegionLeases): CoreRequest {
  const model = msg.model_name ?? "";
  const version = msg.model_version || undefined;
  const inputsMsg = msg.inputs ?? [];
  const raw = msg.raw_input_contents ?? [];
  // Inputs in shared memory have no raw entry: the raw contents are the other inputs', in order.
  const inShm = (input: (typeof inputsMsg)[number]) => input.parameters?.shared_memory_region !== undefined;
  const rawWanted = inputsMsg.filter((input) => !inShm(input)).length;
  if (raw.length !== 0 && raw.length !== rawWanted) {
    throw rawContentsCount(model, rawWanted, raw.length);
  }
  let rawAt = 0;
  const inputs: CoreTensor[] = new Array(inputsMsg.length);
  for (let i = 0; i < inputsMsg.length; i++) {
    const input = inputsMsg[i]!;
    const name = input.name ?? "";
    const datatype = input.datatype;
    if (!isDatatype(datatype)) {
      throw datatypeInvalid(JSON.stringify(datatype ?? ""), name);
    }
    const shape = decodeShape(input.shape ?? [], name);
    const params = input.parameters;
    const contents = input.contents ?? null;
    if (params && params.shared_memory_region !== undefined) {
      if (contents && hasAnyContents(contents)) throw shmInputWithContents(name, model);
      // The bytes stay in the client's pages: main views them, the stub maps them (no copy).
      const ref = takeRegion(params, regions, "input", name);
      inputs[i] = { name, datatype, shape, data: ref.view, region: ref };
      continue;
    }
    let data: Uint8Array;
    if (raw.length > 0) {
      if (contents && hasAnyContents(contents)) {
        throw contentsWithRaw(name, model);
      }
      // BYTES elements are walked by the core, for every front end alike (core/validate.ts).
      data = raw[rawAt++]!;
    } else {
      data = contentsToRaw(name, datatype, shape, contents, model);
    }
    inputs[i] = { name, datatype, shape, data };
  }

  let outputs: RequestedOutput[] | undefined;
  if (msg.outputs && msg.outputs.length > 0) {
    outputs = msg.outputs.map((o) => decodeRequestedOutput(o.name ?? "", o.parameters, regions));
  }
  return {
    model, version, id: msg.id ?? "", inputs, outputs,
    parameters: decodeRequestParameters(msg.parameters),
  };
}

/**
 * int64 dims, read exactly (a Long or a decimal string past 2^53 keeps every digit): negative ones
 * are refused, and so is a shape whose element count overflows int64, with Triton's text (as the
 * HTTP front end's). The core gets the nearest doubles: past 2^53 only a shape with a 0 dim holds
 * no more data than a body can carry.
 */
function decodeShape(shape: Int64[], name: string): number[] {
  const out = new Array<number>(shape.length);
  let exact: bigint[] | null = null;
  for (let i = 0; i < shape.length; i++) {
    const v = shape[i]!;
    const d = typeof v === "number" ? v : int64ToNumber(v);
    if (!Number.isSafeInteger(d)) exact ??= shape.map((s) => int64ToBigInt(s, false));
    if (d < 0) throw shapeInvalid(name, `[${(exact ?? shape).map((s) => String(s)).join(",")}]`);
    out[i] = d;
  }
  if (exactElementCount(exact ?? out) === "overflow") {
    throw shapeCountOverflow(name, `[${(exact ?? out).join(",")}]`);
  }
  return out;
}

function hasAnyContents(c: TensorContentsMessage): boolean {
  for (const f of CONTENTS_FIELDS) if ((c[f]?.length ?? 0) > 0) return true;
  return false;
}

/** Typed contents → raw little-endian bytes (a fresh, aligned buffer). */
export function contentsToRaw(
  name: string, datatype: Datatype, shape: number[], contents: TensorContentsMessage | null,
  model: string,
): Uint8Array {
  const field = CONTENTS_FIELD[datatype];
  const c = contents ?? {};
  for (const f of CONTENTS_FIELDS) {
    if (f !== field && (c[f]?.length ?? 0) > 0) {
      throw field === null
        ? contentsNoTypedField(name, model, datatype)
        : contentsWrongField(name, model, datatype, field, f);
    }
  }
  const count = elementCount(shape);
  const values = (field === null ? [] : c[field] ?? []) as unknown[];
  if (datatype === "BYTES") {
    // Serialized as given; the core checks their count (Triton's ValidateBytesInputs).
    const elements = values as Uint8Array[];
    const out = new Uint8Array(bytesElementsSize(elements));
    encodeBytesElements(elements, out);
    return out;
  }
  if (values.length !== count) {
    throw contentsCount(name, model, shape, count, values.length);
  }
  if (datatype === "BOOL") {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = values[i] ? 1 : 0;
    return out;
  }
  const Ctor = typedArrayFor(datatype)!;
  const typed = new Ctor(count);
  if (datatype === "INT64" || datatype === "UINT64") {
    const big = typed as BigInt64Array | BigUint64Array;
    for (let i = 0; i < count; i++) big[i] = int64ToBigInt(values[i] as Int64, datatype === "UINT64");
  } else {
    // Narrower integer types wrap as Triton's static_cast does; floats round to the type.
    const arr = typed as Float32Array;
    for (let i = 0; i < count; i++) arr[i] = values[i] as number;
  }
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

export function int64ToNumber(v: Int64): number {
  if (typeof v === "number") return v;
  if (typeof v === "string") return Number(v);
  return v.toNumber();
}

export function int64ToBigInt(v: Int64, unsigned: boolean): bigint {
  let b: bigint;
  if (typeof v === "number") b = BigInt(v);
  else if (typeof v === "string") b = BigInt(v);
  else b = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return unsigned ? BigInt.asUintN(64, b) : BigInt.asIntN(64, b);
}

/** A parameter's value for the core; undefined when no choice is set. */
export function parameterValue(p: ParameterMessage, key: string): ParamValue | undefined {
  const wire = wireParameter(p, key);
  if (wire.kind === "bytes") throw parameterTypeInvalid(key);
  return wire.kind === "other" ? undefined : wire.value;
}

/** The choice that was set and its value, for the core's checks (core/parameters.ts). */
export function wireParameter(p: ParameterMessage, key: string): WireParameter {
  switch (p.parameter_choice) {
    case "bool_param":
      return { kind: "bool", value: Boolean(p.bool_param) };
    case "string_param":
      return { kind: "string", value: p.string_param ?? "" };
    case "double_param":
      return { kind: "double", value: p.double_param ?? 0 };
    case "int64_param":
    case "uint64_param": {
      const int = p.parameter_choice === "int64_param";
      const raw = (int ? p.int64_param : p.uint64_param)!;
      const n = int64ToNumber(raw);
      if (!Number.isSafeInteger(n)) {
        // A correlation id is a uint64: kept exact (the sequence batcher reads it as uint64).
        if (key === "sequence_id") return { kind: int ? "int" : "uint", value: int64ToBigInt(raw, !int) };
        throw parameterOutOfRange(key);
      }
      return { kind: int ? "int" : "uint", value: n };
    }
    case "bytes_param":
      return { kind: "bytes" };
    default:
      return { kind: "other" };
  }
}

/**
 * The streaming parameter, taken out of the message before it is decoded (the
 * core refuses `triton_` keys): whether a bare final flag is answered with an empty response.
 */
export function takeEnableEmptyFinalResponse(msg: InferRequestMessage): boolean {
  const key = "triton_enable_empty_final_response";
  const p = msg.parameters?.[key];
  if (p === undefined) return false;
  delete msg.parameters![key];
  if (p.parameter_choice !== "bool_param") {
    throw grpcParameterType(key, "bool_param");
  }
  return Boolean(p.bool_param);
}

/** As the HTTP front end: every parameter goes to the core once checked (core/parameters.ts). */
function decodeRequestParameters(raw: Record<string, ParameterMessage> | undefined): Parameters {
  const parameters: Parameters = {};
  if (!raw) return parameters;
  for (const key of Object.keys(raw)) {
    const value = requestParameter("grpc", key, wireParameter(raw[key]!, key));
    // binary_data_output steers the HTTP encoding only; gRPC outputs are always raw.
    if (key !== "binary_data_output") parameters[key] = value;
  }
  return parameters;
}

/** A shared_memory_region reference, leased for the request; offset and byte size read exactly. */
function takeRegion(
  params: Record<string, ParameterMessage>, regions: RegionLeases | undefined, kind: "input" | "output", name: string,
): RegionRef {
  if (!regions) throw sharedMemoryUnsupported(kind, name);
  const region = params.shared_memory_region!;
  if (region.parameter_choice !== "string_param") throw shmParameterUnparsable("shared_memory_region");
  const uint = (key: string): bigint => {
    const p = params[key];
    if (p === undefined) return 0n;
    if (p.parameter_choice !== "int64_param" && p.parameter_choice !== "uint64_param") throw shmParameterUnparsable(key);
    const signed = p.parameter_choice === "int64_param";
    const v = int64ToBigInt((signed ? p.int64_param : p.uint64_param)!, !signed);
    if (v < 0n) throw shmParameterUnparsable(key);
    return v;
  };
  return regions.take(region.string_param ?? "", uint("shared_memory_offset"), uint("shared_memory_byte_size"));
}

function decodeRequestedOutput(
  name: string, params: Record<string, ParameterMessage> | undefined, regions?: RegionLeases,
): RequestedOutput {
  const out: RequestedOutput = { name };
  if (!params) return out;
  if (params.shared_memory_region !== undefined) {
    if (params.classification !== undefined) throw shmOutputConflict("classification");
    out.region = takeRegion(params, regions, "output", name);
    return out;
  }
  const cls = params.classification;
  if (cls !== undefined) {
    out.classification = tensorParameter("grpc", "output", "classification", wireParameter(cls, "classification")) as number;
  }
  return out;
}

const EMPTY = new Uint8Array(0);

/** The outputs of `request` asked for in client regions, by name (for encodeInferResponse). */
export function outputRegions(request: CoreRequest): Map<string, RegionRef> | undefined {
  let out: Map<string, RegionRef> | undefined;
  for (const o of request.outputs ?? []) if (o.region) (out ??= new Map()).set(o.name, o.region);
  return out;
}

/** Response parameters: integers as int64_param, other numbers as double_param. */
export function encodeParameters(parameters: Parameters): Record<string, PlainParameter> {
  const out: Record<string, PlainParameter> = {};
  for (const key of Object.keys(parameters)) {
    const v = parameters[key]!;
    if (typeof v === "boolean") out[key] = { bool_param: v };
    else if (typeof v === "string") out[key] = { string_param: v };
    else if (typeof v === "bigint") out[key] = { int64_param: String(BigInt.asIntN(64, v)) };
    else if (Number.isSafeInteger(v)) out[key] = { int64_param: v };
    else out[key] = { double_param: v };
  }
  return out;
}

/**
 * The response to encode. Its raw_output_contents are the CoreResponse's own views: the caller
 * encodes before it releases the response.
 */
export function encodeInferResponse(response: CoreResponse, regions?: ReadonlyMap<string, RegionRef>): InferResponsePlain {
  const outputs = new Array<InferResponsePlain["outputs"][number]>(response.outputs.length);
  const raw = new Array<Uint8Array>(response.outputs.length);
  for (let i = 0; i < response.outputs.length; i++) {
    const t = response.outputs[i]!;
    const region = regions?.get(t.name);
    if (region) {
      // In the client's region: no parameters and an empty raw entry (Triton keeps one per output).
      placeOutput(t, region);
      outputs[i] = { name: t.name, datatype: t.datatype, shape: t.shape };
      raw[i] = EMPTY;
      continue;
    }
    outputs[i] = { name: t.name, datatype: t.datatype, shape: t.shape };
    raw[i] = t.data;
  }
  return {
    model_name: response.model,
    model_version: response.version,
    id: response.id,
    parameters: encodeParameters(response.parameters),
    outputs,
    raw_output_contents: raw,
  };
}
