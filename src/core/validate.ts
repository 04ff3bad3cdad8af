/**
 * Checks an inference request against the model's config before it is queued, with Triton's
 * messages (infer_request.cc), so both front ends reject the same things the same way.
 */
import {
  batchDimensionMissing, batchSizeDiffers, batchSizeTooLarge, classificationCountInvalid, inputByteSizeMismatch,
  inputDatatypeMismatch, inputDuplicated, inputMissing, inputUnexpected, outputDuplicated, outputUnexpected, shapeMismatch,
} from "../errors/index.js";
import { datatypeFromConfig, datatypeSize, elementCount } from "../ipc/datatypes.js";
import type { ModelConfig } from "../config/schema.js";
import type { CoreRequest } from "./types.js";


/** The batch size of a valid request (1 for a model that does not batch). */
export function validateRequest(r: CoreRequest, cfg: ModelConfig): number {
  const model = cfg.name;
  const id = r.id;
  const seen = new Set<string>();
  let batch = 0;
  for (const t of r.inputs) {
    if (seen.has(t.name)) throw inputDuplicated(id, t.name);
    seen.add(t.name);
    const spec = cfg.input.find((i) => i.name === t.name);
    if (!spec) throw inputUnexpected(id, t.name, model);
    const expected = datatypeFromConfig(spec.data_type);
    if (expected !== t.datatype) {
      throw inputDatatypeMismatch(id, t.name, t.datatype, model, expected);
    }
    let dims = t.shape;
    if (cfg.max_batch_size > 0) {
      if (dims.length === 0) {
        throw batchDimensionMissing(id, t.name, model, cfg.max_batch_size);
      }
      const b = dims[0];
      if (batch === 0) batch = b;
      else if (b !== batch) {
        throw batchSizeDiffers(id, t.name, model);
      }
      dims = dims.slice(1);
    }
    const want = spec.dims;
    const matches = want.length === dims.length && want.every((d, i) => d === -1 || d === dims[i]);
    if (!matches) {
      const expectedShape = cfg.max_batch_size > 0 ? [-1, ...want] : want;
      throw shapeMismatch(id, t.name, model, expectedShape, t.shape);
    }
    if (t.datatype !== "BYTES") {
      const bytes = elementCount(t.shape) * datatypeSize(t.datatype);
      if (bytes !== t.data.byteLength) {
        throw inputByteSizeMismatch(t.name, model, bytes, t.data.byteLength, id);
      }
    }
  }
  const missing = cfg.input.filter((i) => !i.optional && !seen.has(i.name)).map((i) => i.name);
  if (missing.length > 0) {
    const required = cfg.input.filter((i) => !i.optional).length;
    throw inputMissing(id, model, required, cfg.input.length, r.inputs.map((t) => t.name), missing);
  }
  if (cfg.max_batch_size > 0 && r.inputs.length > 0) {
    if (batch < 1 || batch > cfg.max_batch_size) {
      throw batchSizeTooLarge(id, cfg.max_batch_size, model);
    }
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
  return cfg.max_batch_size > 0 ? Math.max(batch, 1) : 1;
}
