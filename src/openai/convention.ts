/**
 * The text-generation convention (docs/openai.md), after Triton's OpenAI frontend: which models
 * serve OpenAI requests, how a request becomes a core request, and what a response carries.
 *
 * - In: `text_input`, one BYTES element (the prompt, chat template applied). Each sampling field
 *   (`max_tokens`, `temperature`, `top_p`, `seed`, `stop`) becomes the model input of that name
 *   when the model declares one (TRT-LLM's style: its own datatype), else a request parameter
 *   (the bundled text_generator's style). Optional BOOL inputs `stream`,
 *   `exclude_input_in_output`, `return_num_input_tokens`, `return_num_output_tokens` are filled
 *   in when declared.
 * - Out: `text_output`, BYTES, the new text of each response (concatenated in order).
 *   Optional `num_input_tokens` / `num_output_tokens` (an output tensor or a response parameter)
 *   give usage; a response parameter `finish_reason` ("stop" or "length") gives the reason.
 */
import type { CoreResponse, CoreTensor, ModelMetadata, Parameters } from "../core/types.js";
import { openaiOutputUnreadable } from "../errors/index.js";
import { type Datatype, bytesElementsSize, decodeBytesElements, elementCount, encodeBytesElements } from "../ipc/datatypes.js";
import type { Sampling } from "./request.js";

export const TEXT_INPUT = "text_input";
export const TEXT_OUTPUT = "text_output";

/** Why a model does not follow the convention, or null when it does. */
export function conventionMisfit(metadata: ModelMetadata): string | null {
  const input = metadata.inputs.find((t) => t.name === TEXT_INPUT);
  if (!input || input.datatype !== "BYTES") return `it has no BYTES input '${TEXT_INPUT}'`;
  if (!holdsOne(input.shape)) return `its input '${TEXT_INPUT}' cannot hold one element`;
  const output = metadata.outputs.find((t) => t.name === TEXT_OUTPUT);
  if (!output || output.datatype !== "BYTES") return `it has no BYTES output '${TEXT_OUTPUT}'`;
  return null;
}

const holdsOne = (shape: readonly number[]) => shape.every((d) => d === 1 || d < 0);
const oneElementShape = (shape: readonly number[]) => shape.map((d) => (d < 0 ? 1 : d));

export interface ModelRequestParts {
  inputs: CoreTensor[];
  parameters: Parameters;
  /** The single stop sequence went to the model too: it may stop itself, no need to cancel. */
  stopForwarded: boolean;
}

/** The inputs and parameters of one generation of `prompt`, for a model that fits. */
export function modelRequestParts(metadata: ModelMetadata, prompt: string, sampling: Sampling, stream: boolean): ModelRequestParts {
  const declared = new Map(metadata.inputs.map((t) => [t.name, t]));
  const inputs: CoreTensor[] = [bytesTensor(TEXT_INPUT, declared.get(TEXT_INPUT)!.shape, [prompt])];
  const parameters: Parameters = {};
  const put = (name: string, value: number | boolean) => {
    const input = declared.get(name);
    if (input && input.datatype !== "BYTES" && holdsOne(input.shape)) {
      inputs.push(scalarTensor(name, input.datatype, oneElementShape(input.shape), value));
    } else {
      parameters[name] = value;
    }
  };
  if (sampling.maxTokens !== undefined) put("max_tokens", sampling.maxTokens);
  if (sampling.temperature !== undefined) put("temperature", sampling.temperature);
  if (sampling.topP !== undefined) put("top_p", sampling.topP);
  if (sampling.seed !== undefined) put("seed", sampling.seed);

  let stopForwarded = false;
  const stopInput = declared.get("stop") ?? declared.get("stop_words");
  if (sampling.stop.length > 0 && stopInput?.datatype === "BYTES") {
    // A list input takes every sequence (TRT-LLM's stop_words); the shape's -1 takes the count.
    const shape = stopInput.shape.map((d, i, all) => (d >= 0 ? d : i === all.lastIndexOf(-1) ? sampling.stop.length : 1));
    if (elementCount(shape) === sampling.stop.length) {
      inputs.push(bytesTensor(stopInput.name, shape, sampling.stop, true));
      stopForwarded = true;
    }
  } else if (sampling.stop.length === 1) {
    // A request parameter holds one string: several sequences are the front end's alone.
    parameters.stop = sampling.stop[0]!;
    stopForwarded = true;
  }
  for (const [name, value] of [
    ["stream", stream], ["exclude_input_in_output", true],
    ["return_num_input_tokens", true], ["return_num_output_tokens", true],
  ] as const) {
    const input = declared.get(name);
    if (input?.datatype === "BOOL" && holdsOne(input.shape)) inputs.push(scalarTensor(name, "BOOL", oneElementShape(input.shape), value));
  }
  return { inputs, parameters, stopForwarded };
}

const encoder = new TextEncoder();

function bytesTensor(name: string, shape: readonly number[], values: readonly string[], exact = false): CoreTensor {
  const elements = values.map((v) => encoder.encode(v));
  const data = new Uint8Array(bytesElementsSize(elements));
  encodeBytesElements(elements, data);
  return { name, datatype: "BYTES", shape: exact ? [...shape] : oneElementShape(shape), data };
}

function scalarTensor(name: string, datatype: Datatype, shape: number[], value: number | boolean): CoreTensor {
  const n = typeof value === "boolean" ? Number(value) : value;
  const data = new Uint8Array(8);
  const view = new DataView(data.buffer);
  let size: number;
  switch (datatype) {
    case "BOOL": case "UINT8": view.setUint8(0, n); size = 1; break;
    case "INT8": view.setInt8(0, n); size = 1; break;
    case "UINT16": view.setUint16(0, n, true); size = 2; break;
    case "INT16": view.setInt16(0, n, true); size = 2; break;
    case "UINT32": view.setUint32(0, n, true); size = 4; break;
    case "INT32": view.setInt32(0, n, true); size = 4; break;
    case "UINT64": view.setBigUint64(0, BigInt(Math.trunc(n)), true); size = 8; break;
    case "INT64": view.setBigInt64(0, BigInt(Math.trunc(n)), true); size = 8; break;
    case "FP32": view.setFloat32(0, n, true); size = 4; break;
    case "FP64": view.setFloat64(0, n, true); size = 8; break;
    default: {
      // FP16/BF16: the first two bytes of the FP32 pattern are BF16; FP16 models take a parameter instead.
      view.setFloat32(0, n, true);
      return { name, datatype, shape, data: data.subarray(2, 4) };
    }
  }
  return { name, datatype, shape, data: data.subarray(0, size) };
}

/** What one model response contributes to a choice. */
export interface ResponseParts {
  /** The new bytes of text_output (UTF-8; a character may span two responses). */
  bytes: Uint8Array[];
  promptTokens?: number;
  completionTokens?: number;
  finishReason?: "stop" | "length";
}

export function responseParts(response: CoreResponse): ResponseParts {
  const parts: ResponseParts = { bytes: [] };
  for (const t of response.outputs) {
    if (t.name === TEXT_OUTPUT) {
      if (t.datatype !== "BYTES") throw openaiOutputUnreadable(response.model);
      const elements = decodeBytesElements(t.data);
      if (elements === null) throw openaiOutputUnreadable(response.model);
      // Copied: the response's memory goes back to the stub once this response is written.
      parts.bytes = elements.map((e) => new Uint8Array(e));
    } else if (t.name === "num_input_tokens") {
      parts.promptTokens = firstInteger(t);
    } else if (t.name === "num_output_tokens") {
      parts.completionTokens = firstInteger(t);
    }
  }
  const p = response.parameters;
  if (typeof p.num_input_tokens === "number") parts.promptTokens = p.num_input_tokens;
  if (typeof p.num_output_tokens === "number") parts.completionTokens = p.num_output_tokens;
  if (p.finish_reason === "stop" || p.finish_reason === "length") parts.finishReason = p.finish_reason;
  return parts;
}

function firstInteger(t: CoreTensor): number | undefined {
  const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const fits = (size: number) => t.data.byteLength >= size;
  switch (t.datatype) {
    case "UINT32": return fits(4) ? view.getUint32(0, true) : undefined;
    case "INT32": return fits(4) ? view.getInt32(0, true) : undefined;
    case "UINT64": return fits(8) ? Number(view.getBigUint64(0, true)) : undefined;
    case "INT64": return fits(8) ? Number(view.getBigInt64(0, true)) : undefined;
    case "UINT16": return fits(2) ? view.getUint16(0, true) : undefined;
    case "INT16": return fits(2) ? view.getInt16(0, true) : undefined;
    default: return undefined;
  }
}

/**
 * The documented approximation where the model reports no count: about four characters per
 * token (OpenAI's rule of thumb) for a prompt; for a completion, that or the number of responses
 * that carried text, whichever is larger (a streaming model sends about one token per response).
 */
export function approximateTokens(text: string, responses = 0): number {
  const chars = [...text].length;
  return Math.max(responses, Math.ceil(chars / 4));
}
