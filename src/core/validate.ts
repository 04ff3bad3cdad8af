/**
 * Checks an inference request against the model's config before it is queued, with Triton's
 * messages (infer_request.cc), so both front ends reject the same things the same way.
 */
import {
  batchDimensionMissing, batchSizeDiffers, batchSizeTooLarge, bytesElementTruncated, bytesElementsCount, bytesElementsTooMany,
  bytesLengthIncomplete, classificationCountInvalid, inputByteSizeMismatch,
  inputDatatypeMismatch, inputDuplicated, inputMissing, inputUnexpected, outputDuplicated, outputUnexpected, shapeMismatch,
} from "../errors/index.js";
import { datatypeFromConfig, datatypeSize, elementCount } from "../ipc/datatypes.js";
import type { ModelConfig } from "../config/schema.js";
import type { CoreRequest } from "./types.js";

/** The batch size of a valid request (1 for a model that does not batch). */
export function validateRequest(r: CoreRequest, cfg: ModelConfig): number {
  const model = cfg.name;
  const id = r.id;
  // Triton's order (infer_request.cc, PrepareForInference then ValidateRequestInputs): each name
  // known, the requested outputs, the number of inputs, every input's batch dimension, the batch
  // size; only then, input by input, datatype, shape and data size. So a later input's bad data
  // never hides an earlier input's wrong datatype, nor any input's missing batch dimension.
  const seen = new Set<string>();
  const specs = new Array<ModelConfig["input"][number]>(r.inputs.length);
  for (let i = 0; i < r.inputs.length; i++) {
    const t = r.inputs[i]!;
    if (seen.has(t.name)) throw inputDuplicated(id, t.name);
    seen.add(t.name);
    const spec = cfg.input.find((c) => c.name === t.name);
    if (!spec) throw inputUnexpected(id, t.name, model);
    specs[i] = spec;
  }
  // Asked twice, an output would be sent twice: a small request could ask for a huge response.
  const asked = new Set<string>();
  for (const o of r.outputs ?? []) {
    if (asked.has(o.name)) throw outputDuplicated(id, o.name);
    asked.add(o.name);
    if (!cfg.output.some((c) => c.name === o.name)) {
      throw outputUnexpected(id, o.name, model);
    }
    if (o.classification !== undefined && (!Number.isInteger(o.classification) || o.classification < 1)) {
      throw classificationCountInvalid(id, o.name);
    }
  }
  const missing = cfg.input.filter((i) => !i.optional && !seen.has(i.name)).map((i) => i.name);
  if (missing.length > 0) {
    const required = cfg.input.filter((i) => !i.optional).length;
    throw inputMissing(id, model, required, cfg.input.length, r.inputs.map((t) => t.name), missing);
  }
  const batching = cfg.max_batch_size > 0;
  let batch = 0;
  if (batching) {
    for (const t of r.inputs) {
      if (t.shape.length === 0) {
        throw batchDimensionMissing(id, t.name, model, cfg.max_batch_size);
      }
      const b = t.shape[0]!;
      if (batch === 0) batch = b;
      else if (b !== batch) {
        throw batchSizeDiffers(id, t.name, model);
      }
    }
    if (r.inputs.length > 0 && (batch < 1 || batch > cfg.max_batch_size)) {
      throw batchSizeTooLarge(id, cfg.max_batch_size, model);
    }
  }
  for (let i = 0; i < r.inputs.length; i++) {
    const t = r.inputs[i]!;
    const spec = specs[i]!;
    const expected = datatypeFromConfig(spec.data_type);
    if (expected !== t.datatype) {
      throw inputDatatypeMismatch(id, t.name, t.datatype, model, expected);
    }
    const dims = batching ? t.shape.slice(1) : t.shape;
    const want = spec.dims;
    const matches = want.length === dims.length && want.every((d, i) => d === -1 || d === dims[i]);
    if (!matches) {
      const expectedShape = batching ? [-1, ...want] : want;
      throw shapeMismatch(id, t.name, model, expectedShape, t.shape);
    }
    if (t.datatype === "BYTES") {
      checkBytesElements(id, t.name, model, elementCount(t.shape), t.data);
    } else {
      const bytes = elementCount(t.shape) * datatypeSize(t.datatype);
      if (bytes !== t.data.byteLength) {
        throw inputByteSizeMismatch(t.name, model, bytes, t.data.byteLength, id);
      }
    }
  }
  return batching ? Math.max(batch, 1) : 1;
}

/**
 * A BYTES input's serialized elements (each a 4-byte little-endian length, then that many bytes)
 * against the count its shape gives, as Triton's ValidateBytesInputs walks them: a length cut
 * short, one element more than expected (reported as soon as it starts), or fewer in all. Every
 * front end leaves this check to the core, so HTTP JSON, HTTP binary and gRPC (raw or typed
 * contents) answer alike. Unlike Triton, a last element whose bytes run past the data is refused
 * too: the handler would otherwise read past its tensor.
 */
export function checkBytesElements(id: string, input: string, model: string, expected: number, data: Uint8Array): void {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  let checked = 0;
  while (at < data.byteLength) {
    const left = data.byteLength - at;
    if (left < 4) throw bytesLengthIncomplete(id, input, model, left);
    const len = view.getUint32(at, true);
    checked++;
    if (checked > expected) throw bytesElementsTooMany(id, checked, input, model, expected);
    at += 4;
    if (len > data.byteLength - at) throw bytesElementTruncated(id, input, model, checked - 1);
    at += len;
  }
  if (checked !== expected) throw bytesElementsCount(id, expected, input, model, checked);
}
