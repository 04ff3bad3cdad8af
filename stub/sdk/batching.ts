/**
 * Beyond pb_utils: work on one batch instead of stacking and splitting by hand. Main lays out each
 * input of a batched call contiguously in shared memory, so batchInputs() is usually a view.
 */
import { TritonError } from "./errors.js";
import { InferenceResponse, getInputTensorByName, type InferenceRequest } from "./request.js";
import { Tensor, type TypedArray } from "./tensor.js";

/** Rows (the leading dim) each request contributes, read from its first input. */
export function requestBatchSizes(requests: readonly InferenceRequest[]): number[] {
  return requests.map((r) => {
    const first = r.inputs()[0];
    return first && first.shape().length > 0 ? first.shape()[0] : 1;
  });
}

/**
 * The input `name` of every request stacked along the batch (first) dim: one tensor of
 * [sum of rows, ...]. A zero-copy view when the inputs lie back to back in memory, else a copy.
 */
export function batchInputs(requests: readonly InferenceRequest[], name: string): Tensor {
  const tensors = requests.map((r, i) => {
    const t = getInputTensorByName(r, name);
    if (!t) throw new TritonError(`batchInputs: request ${i} has no input '${name}'`, TritonError.INVALID_ARG);
    return t;
  });
  if (tensors.length === 0) throw new TritonError("batchInputs: no requests", TritonError.INVALID_ARG);
  const first = tensors[0];
  const rest = first.shape().slice(1);
  for (const t of tensors) {
    if (t.datatype() !== first.datatype() || t.shape().slice(1).join(",") !== rest.join(",")) {
      throw new TritonError(`batchInputs: input '${name}' differs in datatype or shape between requests (${first.datatype()}[${first.shape()}] vs ${t.datatype()}[${t.shape()}])`, TritonError.INVALID_ARG);
    }
  }
  const rows = tensors.reduce((n, t) => n + (t.shape()[0] ?? 1), 0);
  const shape = [rows, ...rest];
  if (first.datatype() === "BYTES") {
    return new Tensor(name, tensors.flatMap((t) => t.data as Uint8Array[]), shape, "BYTES");
  }
  const arrays = tensors.map((t) => t.data as TypedArray);
  const contiguous = arrays.every((a, i) => i === 0 || (a.buffer === arrays[0].buffer &&
    a.byteOffset === arrays[i - 1].byteOffset + arrays[i - 1].byteLength));
  const Ctor = arrays[0].constructor as new (buffer: ArrayBufferLike, offset: number, length: number) => TypedArray;
  const total = arrays.reduce((n, a) => n + a.length, 0);
  if (contiguous) return new Tensor(name, new Ctor(arrays[0].buffer, arrays[0].byteOffset, total), shape, first.datatype());
  const out = new (arrays[0].constructor as new (n: number) => TypedArray)(total);
  let at = 0;
  for (const a of arrays) {
    (out as Uint8Array).set(a as unknown as Uint8Array, at);
    at += a.length;
  }
  return new Tensor(name, out, shape, first.datatype());
}

/**
 * Splits batch outputs (leading dim = total rows) back into one response per request, in order,
 * each with its own rows. The slices are views; they are copied once, into shared memory.
 */
export function splitOutputs(requests: readonly InferenceRequest[], outputs: readonly Tensor[]): InferenceResponse[] {
  const sizes = requestBatchSizes(requests);
  const total = sizes.reduce((a, b) => a + b, 0);
  for (const t of outputs) {
    if ((t.shape()[0] ?? 0) !== total) {
      throw new TritonError(`splitOutputs: output '${t.name()}' has ${t.shape()[0]} rows, the requests have ${total}`, TritonError.INVALID_ARG);
    }
  }
  let row = 0;
  return sizes.map((rows) => {
    const from = row;
    row += rows;
    return new InferenceResponse({
      outputTensors: outputs.map((t) => {
        const rowLength = t.data.length / total;
        const shape = [rows, ...t.shape().slice(1)];
        const slice = Array.isArray(t.data)
          ? t.data.slice(from * rowLength, row * rowLength)
          : (t.data as TypedArray).subarray(from * rowLength, row * rowLength);
        return new Tensor(t.name(), slice as TypedArray, shape, t.datatype());
      }),
    });
  });
}
