/**
 * The KServe v2 inference body ⇄ CoreRequest / CoreResponse, including Triton's binary tensor data
 * extension. Binary inputs stay views over the received body and binary outputs are handed back as
 * the response's own views: the only copies on this path are the ones the client asked for by
 * choosing JSON.
 */
import { Buffer } from "node:buffer";
import type {
  CoreRequest, CoreResponse, CoreTensor, ModelMetadata, Parameters, RequestedOutput,
} from "../core/types.js";
import {
  binaryDataLeftOver, binaryDataShort, binaryWithoutHeader, datatypeInvalid,
  headerLengthOutOfRange, headerLengthUnparsable, idNotString, inputByteSizeMismatch, inputDataChoice, inputNameMissing,
  inputNotObject, inputParametersNotObject, inputsNotArray, jsonNotObject, jsonUnparsable, outputNameMissing, outputNotObject,
  outputParametersNotObject, outputsNotArray, parametersNotObject, rawBytesShape, rawInputCount, rawShapeNotDeducible,
  shapeMissing, sharedMemoryUnsupported, jsonNestingTooDeep, shapeNotUnsigned, shapeDimsInvalid, shapeCountOverflow,
  byteSizeOverflow, shmInputDataChoice, shmOutputConflict, shmParameterUnparsable,
} from "../errors/index.js";
import type { RegionLeases } from "../shm/registry.js";
import { placeOutput } from "../shm/outputs.js";
import type { RegionRef } from "../core/types.js";
import { jsonParameter, requestParameter, tensorParameter } from "../core/parameters.js";
import { datatypeSize, elementCount, isDatatype, type Datatype } from "../ipc/datatypes.js";
import { bytesToJsonBuffer, jsonToTensorData, showValue, tensorToJsonData } from "./json-tensor.js";
import { MAX_JSON_DEPTH, jsonDepthExceeds, parseExactJson, type ExactJson } from "./json-scan.js";
import { INT64_MAX, exactElementCount } from "../core/element-count.js";

export const INFER_HEADER_LENGTH = "inference-header-content-length";

/** How each output goes back: binary (after the JSON) or as JSON `data`. */
export interface OutputFormat {
  /** For outputs the request did not name, or named without `binary_data`. */
  defaultBinary: boolean;
  /** Explicit `binary_data` per output name. */
  binary: Map<string, boolean>;
  /** Outputs asked for in a client's shared-memory region: written there, not into the body. */
  regions?: Map<string, RegionRef>;
}

export interface DecodedInfer {
  /** Everything but `signal`, which the server adds. */
  request: CoreRequest;
  format: OutputFormat;
}

/**
 * The JSON length the Inference-Header-Content-Length header gives, or the whole body when the
 * header is absent (plain JSON). 0 means a raw binary request (see decodeRawInferRequest).
 */
export function inferHeaderLength(header: string | string[] | undefined, bodyLength: number): number {
  if (header === undefined) return bodyLength;
  const text = Array.isArray(header) ? header[0] ?? "" : header;
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) {
    throw headerLengthUnparsable(text);
  }
  if (value > bodyLength) {
    throw headerLengthOutOfRange(bodyLength, text);
  }
  return value;
}

/** Decodes a JSON (optionally followed by binary tensor data) inference request. */
export function decodeInferRequest(
  body: Uint8Array, headerLength: number, model: string, version: string | undefined,
  headerGiven: boolean, regions?: RegionLeases,
): DecodedInfer {
  const text = Buffer.from(body.buffer, body.byteOffset, headerLength).toString("utf8");
  const json = parseJsonHeader(body, headerLength, text);
  if (!isObject(json)) throw jsonNotObject();
  // The request as exact JSON, parsed only if a value needs it (a shape dimension or a
  // sequence_id past 2^53).
  let exact: ExactJson | undefined;
  const exactRequest = () => (exact ??= parseExactJson(text)) as {
    inputs: { shape: ExactJson }[]; parameters: Record<string, ExactJson>;
  };
  const exactShape = (i: number): ExactJson => exactRequest().inputs[i]!.shape;
  const exactParams = (i: number, outputs = false) => () =>
    ((exactRequest() as unknown as Record<string, { parameters: Record<string, ExactJson> }[]>)[outputs ? "outputs" : "inputs"]![i]!.parameters);

  let id = "";
  if (json.id !== undefined) {
    if (typeof json.id !== "string") throw idNotString();
    id = json.id;
  }
  const { parameters, binaryDataOutput } = decodeRequestParameters(json.parameters, () => exactRequest().parameters);

  if (!Array.isArray(json.inputs)) throw inputsNotArray();
  const inputs: CoreTensor[] = new Array(json.inputs.length);
  let at = headerLength;
  for (let i = 0; i < json.inputs.length; i++) {
    const input: unknown = json.inputs[i];
    if (!isObject(input)) throw inputNotObject(i);
    const name = input.name;
    if (typeof name !== "string") throw inputNameMissing(i);
    const datatype = input.datatype;
    if (!isDatatype(datatype)) {
      throw datatypeInvalid(showValue(datatype), name);
    }
    const { shape, count } = decodeShape(input.shape, name, () => exactShape(i));
    const params = input.parameters;
    if (params !== undefined && !isObject(params)) {
      throw inputParametersNotObject(name);
    }
    const rawSize = params?.binary_data_size;
    const hasData = input.data !== undefined;
    const hasBinary = rawSize !== undefined;
    if (params?.shared_memory_region !== undefined) {
      if (hasData || hasBinary) throw shmInputDataChoice(hasData, hasBinary);
      // The bytes stay in the client's pages: main views them, the stub maps them (no copy).
      const ref = takeRegion(params, regions, "input", name, exactParams(i));
      inputs[i] = { name, datatype, shape, data: ref.view, region: ref };
      continue;
    }
    if (hasData === hasBinary) {
      throw inputDataChoice(name, hasData);
    }

    let data: Uint8Array;
    if (hasBinary) {
      const binarySize = tensorParameter("http", "input", "binary_data_size", jsonParameter(rawSize)) as number;
      if (binarySize > 0 && !headerGiven) {
        throw binaryWithoutHeader(name);
      }
      if (at + binarySize > body.byteLength) {
        throw binaryDataShort(name, at + binarySize - body.byteLength, model);
      }
      data = body.subarray(at, at + binarySize);
      at += binarySize;
      checkBinarySize(name, datatype, shape, count, data, model);
    } else {
      const size = datatype === "BYTES" ? 1 : datatypeSize(datatype);
      if (size > 1 && count > INT64_MAX / BigInt(size)) throw byteSizeOverflow(name, String(count), size);
      data = jsonToTensorData(name, datatype, shape, input.data);
    }
    inputs[i] = { name, datatype, shape, data };
  }
  if (at !== body.byteLength) {
    throw binaryDataLeftOver(model, body.byteLength - at);
  }

  const format: OutputFormat = { defaultBinary: binaryDataOutput, binary: new Map() };
  let outputs: RequestedOutput[] | undefined;
  if (json.outputs !== undefined) {
    if (!Array.isArray(json.outputs)) {
      throw outputsNotArray();
    }
    outputs = json.outputs.map((o: unknown, i: number) => decodeRequestedOutput(o, i, format, regions, exactParams(i, true)));
  }

  return {
    request: { model, version, id, inputs, outputs, parameters },
    format,
  };
}

/**
 * Triton counts its nesting limit from an input's `data`, which sits three levels down (the root
 * object, `inputs`, the input): the header may nest that much deeper than other bodies, and a
 * `data` Triton refuses is refused here with the same text.
 */
export const INFER_HEADER_DEPTH = MAX_JSON_DEPTH + 2;

function parseJsonHeader(body: Uint8Array, length: number, text: string): unknown {
  if (jsonDepthExceeds(body, INFER_HEADER_DEPTH, 0, length)) throw jsonNestingTooDeep(MAX_JSON_DEPTH);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw jsonUnparsable(err);
  }
}

/**
 * Triton's shape rules (ParseJsonTritonIO, GetElementCount): each dim an unsigned JSON integer,
 * read as uint64 and kept as int64 (so 2^63 and up are negative, and invalid); the element count
 * must fit int64. A dim past 2^53 is read again from the exact parse, so texts and the count are
 * exact; the core gets the nearest doubles (such a shape holds no data unless a dim is 0).
 */
function decodeShape(shape: unknown, name: string, exact: () => ExactJson): { shape: number[]; count: bigint } {
  if (!Array.isArray(shape)) throw shapeMissing(name);
  let safe = true;
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isInteger(d) || d < 0) throw shapeNotUnsigned();
    if (d > Number.MAX_SAFE_INTEGER) safe = false;
  }
  if (safe) {
    const count = exactElementCount(shape as number[]);
    if (count === "overflow") throw shapeCountOverflow(name, `[${shape.join(",")}]`);
    return { shape: shape as number[], count: count as bigint };
  }
  const dims = (exact() as (number | bigint)[]).map((d) => {
    // A double literal (1e20, 5.0) is not an unsigned integer to rapidjson, nor a bigint past 2^64.
    if (typeof d === "number" && Number.isSafeInteger(d) && d >= 0) return BigInt(d);
    if (typeof d !== "bigint" || d < 0n || d > UINT64_MAX) throw shapeNotUnsigned();
    return BigInt.asIntN(64, d);
  });
  const count = exactElementCount(dims);
  if (count === "invalid") throw shapeDimsInvalid(name, `[${dims.join(",")}]`);
  if (count === "overflow") throw shapeCountOverflow(name, `[${dims.join(",")}]`);
  return { shape: dims.map(Number), count };
}

const UINT64_MAX = (1n << 64n) - 1n;

function checkBinarySize(
  name: string, datatype: Datatype, shape: number[], exactCount: bigint, data: Uint8Array, model: string,
): void {
  // BYTES: the core walks the elements, for every front end alike (core/validate.ts).
  if (datatype === "BYTES") return;
  const expected = exactCount * BigInt(datatypeSize(datatype));
  if (BigInt(data.byteLength) !== expected) {
    // Printed exactly: the text's number is a bigint past 2^53 only for shapes no body can fill.
    throw inputByteSizeMismatch(name, model, expected, data.byteLength);
  }
}

/**
 * Request parameters go to the core as they are, once checked (core/parameters.ts), except
 * binary_data_output, which only steers this front end.
 */
function decodeRequestParameters(
  raw: unknown, exact: () => Record<string, ExactJson>,
): { parameters: Parameters; binaryDataOutput: boolean } {
  const parameters: Parameters = {};
  let binaryDataOutput = false;
  if (raw === undefined) return { parameters, binaryDataOutput };
  if (!isObject(raw)) throw parametersNotObject();
  for (const key of Object.keys(raw)) {
    let given = raw[key];
    // A uint64 correlation id past 2^53 is read again, exactly (Triton reads it as uint64).
    if (key === "sequence_id" && typeof given === "number" && Number.isInteger(given) && !Number.isSafeInteger(given)) {
      given = exact()[key];
    }
    const value = requestParameter("http", key, jsonParameter(given));
    if (key === "binary_data_output") binaryDataOutput = value as boolean;
    else parameters[key] = value;
  }
  return { parameters, binaryDataOutput };
}

/**
 * A shared_memory_region reference, leased for the request: its offset and byte size are uint64s,
 * read exactly past 2^53 (so an overflowing pair is refused as such, not rounded).
 */
function takeRegion(
  params: Record<string, unknown>, regions: RegionLeases | undefined, kind: "input" | "output", name: string,
  exact: () => Record<string, ExactJson>,
): RegionRef {
  if (!regions) throw sharedMemoryUnsupported(kind, name);
  const region = params.shared_memory_region;
  if (typeof region !== "string") throw shmParameterUnparsable("shared_memory_region");
  const uint = (key: string): unknown => {
    const v = params[key];
    if (v === undefined) return 0;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw shmParameterUnparsable(key);
    if (Number.isSafeInteger(v)) return v;
    const e = exact()[key];
    if (typeof e !== "bigint" || e < 0n || e > UINT64_MAX) throw shmParameterUnparsable(key);
    return e;
  };
  return regions.take(region, uint("shared_memory_offset"), uint("shared_memory_byte_size"));
}

function decodeRequestedOutput(
  raw: unknown, index: number, format: OutputFormat, regions?: RegionLeases, exact?: () => Record<string, ExactJson>,
): RequestedOutput {
  if (!isObject(raw)) throw outputNotObject(index);
  const name = raw.name;
  if (typeof name !== "string") throw outputNameMissing(index);
  const out: RequestedOutput = { name };
  const params = raw.parameters;
  if (params === undefined) return out;
  if (!isObject(params)) {
    throw outputParametersNotObject(name);
  }
  if (params.shared_memory_region !== undefined) {
    // Triton's ValidateOutputParameter: classification is computed, not stored in the region.
    if (params.classification !== undefined) throw shmOutputConflict("classification");
    if (params.binary_data !== undefined &&
      tensorParameter("http", "output", "binary_data", jsonParameter(params.binary_data)) === true) {
      throw shmOutputConflict("binary_data");
    }
    out.region = takeRegion(params, regions, "output", name, exact!);
    (format.regions ??= new Map()).set(name, out.region);
    return out;
  }
  if (params.binary_data !== undefined) {
    format.binary.set(name, tensorParameter("http", "output", "binary_data", jsonParameter(params.binary_data)) as boolean);
  }
  if (params.classification !== undefined) {
    // 0, as in Triton, asks for no classification.
    const cls = tensorParameter("http", "output", "classification", jsonParameter(params.classification)) as number;
    if (cls > 0) out.classification = cls;
  }
  return out;
}

/**
 * A raw binary request (Inference-Header-Content-Length: 0): the whole body is the data of the
 * model's only input. As in Triton, the shape comes from the config: a batch of 1 when the model
 * batches, and at most one variable dimension, deduced from the body size; a BYTES input must have
 * shape [1] and the body is its one element. Outputs default to binary.
 */
export function decodeRawInferRequest(
  body: Uint8Array, model: string, version: string | undefined,
  metadata: ModelMetadata, maxBatchSize: number,
): DecodedInfer {
  if (metadata.inputs.length !== 1) {
    throw rawInputCount(model, metadata.inputs.length);
  }
  const input = metadata.inputs[0]!;
  const dims = maxBatchSize > 0 ? input.shape.slice(1) : input.shape.slice();
  const shape = maxBatchSize > 0 ? [1, ...dims] : dims;
  let variable = -1;
  let fixed = 1;
  for (let i = 0; i < shape.length; i++) {
    if (shape[i]! < 0) {
      if (variable !== -1) {
        throw rawShapeNotDeducible(input.name);
      }
      variable = i;
    } else {
      fixed *= shape[i]!;
    }
  }

  let data: Uint8Array;
  if (input.datatype === "BYTES") {
    if (variable !== -1 || fixed !== 1) {
      throw rawBytesShape(input.name);
    }
    // The one place a body is copied: the element needs its length in front of it.
    const framed = Buffer.allocUnsafeSlow(4 + body.byteLength);
    framed.writeUInt32LE(body.byteLength, 0);
    framed.set(body, 4);
    data = framed;
  } else {
    const unit = fixed * datatypeSize(input.datatype);
    if (variable !== -1) shape[variable] = unit === 0 ? 0 : Math.floor(body.byteLength / unit);
    const expected = elementCount(shape) * datatypeSize(input.datatype);
    if (expected !== body.byteLength) {
      throw inputByteSizeMismatch(input.name, model, expected, body.byteLength);
    }
    data = body;
  }
  return {
    request: {
      model, version, id: "", parameters: {},
      inputs: [{ name: input.name, datatype: input.datatype, shape, data }],
    },
    format: { defaultBinary: true, binary: new Map() },
  };
}

export interface EncodedResponse {
  /** The JSON part of the body: bytes when a BYTES output is written as JSON. */
  json: string | Buffer;
  /** UTF-8 length of `json`: the Inference-Header-Content-Length when `binary` is non-empty. */
  jsonBytes: number;
  /** Binary outputs' data in output order: views owned by the CoreResponse, never copied. */
  binary: Uint8Array[];
  binaryBytes: number;
}

/** Builds the response body parts; throws (INVALID_ARG for FP16 as JSON) before writing anything. */
export function encodeInferResponse(response: CoreResponse, format: OutputFormat): EncodedResponse {
  // Field order follows Triton: id, model_name, model_version, parameters, outputs.
  let json = "{";
  if (response.id !== "") json += `"id":${JSON.stringify(response.id)},`;
  json += `"model_name":${JSON.stringify(response.model)},` +
    `"model_version":${JSON.stringify(response.version)}`;
  if (Object.keys(response.parameters).length > 0) {
    json += `,"parameters":${JSON.stringify(response.parameters)}`;
  }
  json += `,"outputs":[`;
  const binary: Uint8Array[] = [];
  let binaryBytes = 0;
  const parts: Buffer[] = [];
  const outputs = response.outputs;
  for (let i = 0; i < outputs.length; i++) {
    const t = outputs[i]!;
    json += (i === 0 ? "{" : ",{") + `"name":${JSON.stringify(t.name)},` +
      `"datatype":"${t.datatype}","shape":[${t.shape.join(",")}],`;
    const region = format.regions?.get(t.name);
    if (region) {
      // In the client's region (the stub wrote it there, or this copies it). As Triton's, the
      // output then has neither data nor parameters: clients (perf_analyzer's) read
      // parameters.binary_data_size whenever parameters are present.
      placeOutput(t, region);
      json = `${json.slice(0, -1)}}`;
    } else if (format.binary.get(t.name) ?? format.defaultBinary) {
      json += `"parameters":{"binary_data_size":${t.data.byteLength}}}`;
      if (t.data.byteLength > 0) {
        binary.push(t.data);
        binaryBytes += t.data.byteLength;
      }
    } else if (t.datatype === "BYTES") {
      // Written as bytes, not text: elements need not be UTF-8 (json-tensor.ts).
      parts.push(Buffer.from(json + '"data":', "utf8"), bytesToJsonBuffer(t.name, t.data, elementCount(t.shape)));
      json = "}";
    } else {
      json += `"data":${tensorToJsonData(t)}}`;
    }
  }
  json += "]}";
  if (parts.length === 0) return { json, jsonBytes: Buffer.byteLength(json, "utf8"), binary, binaryBytes };
  parts.push(Buffer.from(json, "utf8"));
  const body = Buffer.concat(parts);
  return { json: body, jsonBytes: body.byteLength, binary, binaryBytes };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
