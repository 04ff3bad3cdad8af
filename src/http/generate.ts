/**
 * Triton's generate extension (POST .../generate and .../generate_stream): a flat JSON object in,
 * flat JSON objects out. Request keys that name a model input become that input (datatype from the
 * model, shape fitted to the value); other keys, and the keys of a nested `parameters` object,
 * become request parameters. In a response each output is a key: a one-element tensor is written
 * as a bare value, any other as a flat array. Texts are Triton's http_server.cc's.
 */
import type { Buffer } from "node:buffer";
import { jsonParameter, requestParameter } from "../core/parameters.js";
import type { CoreRequest, CoreResponse, CoreTensor, ModelMetadata, Parameters, TensorMetadata } from "../core/types.js";
import {
  ServerError, generateShapeUnfit, inParametersKeyword, parametersKeywordClash, parametersKeywordNotObject,
} from "../errors/index.js";
import { elementCount } from "../ipc/datatypes.js";
import { parseJsonObject } from "./body.js";
import { jsonToTensorData, tensorToJsonData } from "./json-tensor.js";

export function decodeGenerateRequest(
  body: Buffer, model: string, version: string | undefined, metadata: ModelMetadata,
): CoreRequest {
  const json = parseJsonObject(body);
  const inputs = new Map(metadata.inputs.map((t) => [t.name, t]));
  const request: CoreRequest = { model, version, id: "", inputs: [], parameters: {} };
  for (const [key, value] of Object.entries(json)) {
    if (key !== "parameters") {
      addKey(request, inputs, key, value);
      continue;
    }
    if (inputs.has("parameters")) throw parametersKeywordClash();
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw parametersKeywordNotObject();
    }
    for (const [nested, v] of Object.entries(value)) {
      try {
        addKey(request, inputs, nested, v);
      } catch (err) {
        if (err instanceof ServerError) throw inParametersKeyword(err);
        throw err;
      }
    }
  }
  return request;
}

function addKey(request: CoreRequest, inputs: Map<string, TensorMetadata>, key: string, value: unknown): void {
  const input = inputs.get(key);
  if (input) {
    request.inputs.push(toTensor(input, value));
    return;
  }
  // Reserved keys (priority, timeout, ...) steer the core here too: checked as /infer checks them.
  (request.parameters as Parameters)[key] = requestParameter("http", key, jsonParameter(value));
}

/** A scalar or a flat array, as the input's datatype, in the input's shape with its -1s filled. */
function toTensor(input: TensorMetadata, value: unknown): CoreTensor {
  const values = Array.isArray(value) ? value : [value];
  const shape = fitShape(input, values.length);
  return { name: input.name, datatype: input.datatype, shape, data: jsonToTensorData(input.name, input.datatype, shape, values) };
}

/**
 * Fixed dims (from the right) must divide the element count; the innermost -1 takes what is
 * left and any other -1 is 1: "abc" for [-1] is [1], three values for [-1, -1] are [1, 3].
 */
export function fitShape(input: TensorMetadata, count: number): number[] {
  const shape = [...input.shape];
  const fail = () => generateShapeUnfit(input.name);
  let rest = count;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i];
    if (d < 0) continue;
    if (d === 0 ? rest !== 0 : rest % d !== 0) throw fail();
    rest = d === 0 ? 0 : rest / d;
  }
  const inner = shape.lastIndexOf(-1);
  if (inner < 0) {
    if (shape.reduce((n, d) => n * d, 1) !== count) throw fail();
    return shape;
  }
  return shape.map((d, i) => (i === inner ? rest : d < 0 ? 1 : d));
}

/** One response object's JSON text: model_name, model_version, id, parameters, then outputs. */
export function encodeGenerateResponse(response: CoreResponse): string {
  let s = `{"model_name":${JSON.stringify(response.model)},"model_version":${JSON.stringify(response.version)}`;
  if (response.id) s += `,"id":${JSON.stringify(response.id)}`;
  for (const [key, value] of Object.entries(response.parameters)) s += `,${JSON.stringify(key)}:${JSON.stringify(value)}`;
  for (const t of response.outputs) {
    const data = tensorToJsonData(t);
    s += `,${JSON.stringify(t.name)}:${elementCount(t.shape) === 1 ? data.slice(1, -1) : data}`;
  }
  return s + "}";
}
