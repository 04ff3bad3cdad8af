/**
 * Runs execute() for one EXECUTE message: builds the SDK requests over shared-memory views,
 * checks what the handler returned, and writes the outputs into this stub's arena (the one copy
 * on the way back).
 */
import { bytesElementsSize, encodeBytesElements } from "../src/ipc/datatypes.js";
import type { Block, Endpoint } from "../src/ipc/endpoint.js";
import type { ExecuteBody, ResponseBody, WireResponse, WireTensor } from "../src/ipc/protocol.js";
import type { ErrorInfo } from "../src/errors/index.js";
import { TritonError } from "./sdk/errors.js";
import { InferenceRequest, InferenceResponse } from "./sdk/request.js";
import { Tensor } from "./sdk/tensor.js";
import type { TritonModel } from "./sdk/index.js";

/** Turns whatever a handler threw into the wire error, keeping its message and code. */
export function errorInfo(err: unknown): ErrorInfo {
  if (err instanceof TritonError) return { code: err.code(), message: err.message() };
  if (err instanceof Error) return { code: "INTERNAL", message: err.message };
  return { code: "INTERNAL", message: String(err) };
}

export function decodeRequests(body: ExecuteBody, endpoint: Endpoint, modelName: string): InferenceRequest[] {
  return body.requests.map((r) =>
    InferenceRequest.received(
      {
        modelName,
        requestId: r.id,
        correlationId: r.correlationId,
        flags: r.flags,
        parameters: r.parameters,
        requestedOutputNames: r.requestedOutputs,
        inputs: r.inputs.map((t) => Tensor.fromBytes(t.name, t.datatype, t.shape, endpoint.view(t.loc))),
      },
      () => false,
    ),
  );
}

/** Checks the handler's answer: exactly one InferenceResponse per request, in order. */
export function checkResponses(result: unknown, count: number, modelName: string): InferenceResponse[] {
  if (result === undefined || result === null) {
    throw new TritonError(`model '${modelName}': execute() returned nothing, expected a list of ${count} InferenceResponse (only decoupled models may return nothing)`);
  }
  if (!Array.isArray(result)) {
    throw new TritonError(`model '${modelName}': execute() must return an array of InferenceResponse, got ${typeof result}`);
  }
  if (result.length !== count) {
    throw new TritonError(`model '${modelName}': execute() returned ${result.length} responses for ${count} requests`);
  }
  result.forEach((r, i) => {
    if (!(r instanceof InferenceResponse)) {
      throw new TritonError(`model '${modelName}': execute() response ${i} is not an InferenceResponse`);
    }
  });
  return result as InferenceResponse[];
}

/** Copies one response's outputs into shared memory; blocks are appended to `blocks`. */
function encodeResponse(
  response: InferenceResponse, requested: string[], endpoint: Endpoint, blocks: Block[],
): WireResponse {
  const error = response.error();
  if (error) return { outputs: [], error: { code: error.code(), message: error.message() } };
  const outputs: WireTensor[] = [];
  for (const t of response.outputTensors()) {
    if (requested.length > 0 && !requested.includes(t.name())) continue;
    const data = t.data;
    let block: Block;
    if (Array.isArray(data)) {
      block = endpoint.alloc(bytesElementsSize(data));
      blocks.push(block);
      encodeBytesElements(data, block.bytes);
    } else {
      block = endpoint.alloc(data.byteLength);
      blocks.push(block);
      block.bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    outputs.push({ name: t.name(), datatype: t.datatype(), shape: t.shape(), loc: [block.arena, block.offset, block.bytes.byteLength] });
  }
  const parameters = response.parameters();
  return Object.keys(parameters).length > 0 ? { outputs, parameters } : { outputs };
}

export async function runExecute(
  model: TritonModel, body: ExecuteBody, endpoint: Endpoint, modelName: string,
): Promise<{ reply: ResponseBody; blocks: Block[] }> {
  const blocks: Block[] = [];
  // Only the handler's own time: decoding the inputs and encoding the outputs are main's
  // compute_input / compute_output in Triton's terms.
  let execNs: number | undefined;
  try {
    const requests = decodeRequests(body, endpoint, modelName);
    const started = performance.now();
    let result: unknown;
    try {
      result = await model.execute(requests);
    } finally {
      execNs = Math.round((performance.now() - started) * 1e6);
    }
    const responses = checkResponses(result, requests.length, modelName);
    const wire = responses.map((r, i) => encodeResponse(r, body.requests[i].requestedOutputs, endpoint, blocks));
    return { reply: { id: body.id, responses: wire, execNs }, blocks };
  } catch (err) {
    endpoint.freeBlocks(blocks);
    return { reply: { id: body.id, error: errorInfo(err), execNs }, blocks: [] };
  }
}
