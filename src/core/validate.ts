/**
 * Checks an inference request against the model's config before it is queued, with Triton's
 * messages (infer_request.cc), so both front ends reject the same things the same way.
 */
import { invalidArg } from "../errors/index.js";
import { datatypeFromConfig, datatypeSize, elementCount } from "../ipc/datatypes.js";
import type { ModelConfig } from "../config/schema.js";
import type { CoreRequest } from "./types.js";

const fmt = (shape: readonly number[]) => `[${shape.join(",")}]`;
const prefix = (r: CoreRequest) => `[request id: ${r.id || "<id_unknown>"}] `;

/** The batch size of a valid request (1 for a model that does not batch). */
export function validateRequest(r: CoreRequest, cfg: ModelConfig): number {
  const model = cfg.name;
  const p = prefix(r);
  const seen = new Set<string>();
  let batch = 0;
  for (const t of r.inputs) {
    if (seen.has(t.name)) throw invalidArg(`${p}input '${t.name}' already exists in request`);
    seen.add(t.name);
    const spec = cfg.input.find((i) => i.name === t.name);
    if (!spec) throw invalidArg(`${p}unexpected inference input '${t.name}' for model '${model}'`);
    const expected = datatypeFromConfig(spec.data_type);
    if (expected !== t.datatype) {
      throw invalidArg(`${p}inference input '${t.name}' data-type is '${t.datatype}', but model '${model}' expects '${expected}'`);
    }
    let dims = t.shape;
    if (cfg.max_batch_size > 0) {
      if (dims.length === 0) {
        throw invalidArg(`${p}inference input '${t.name}' for model '${model}' must have a batch dimension, the model has max_batch_size ${cfg.max_batch_size}`);
      }
      const b = dims[0];
      if (batch === 0) batch = b;
      else if (b !== batch) {
        throw invalidArg(`${p}input '${t.name}' batch size does not match other inputs for '${model}'`);
      }
      dims = dims.slice(1);
    }
    const want = spec.dims;
    const matches = want.length === dims.length && want.every((d, i) => d === -1 || d === dims[i]);
    if (!matches) {
      const expectedShape = cfg.max_batch_size > 0 ? [-1, ...want] : want;
      throw invalidArg(`${p}unexpected shape for input '${t.name}' for model '${model}'. Expected ${fmt(expectedShape)}, got ${fmt(t.shape)}`);
    }
    if (t.datatype !== "BYTES") {
      const bytes = elementCount(t.shape) * datatypeSize(t.datatype);
      if (bytes !== t.data.byteLength) {
        throw invalidArg(`${p}input byte size mismatch for input '${t.name}' for model '${model}'. Expected ${bytes}, got ${t.data.byteLength}`);
      }
    }
  }
  const missing = cfg.input.filter((i) => !i.optional && !seen.has(i.name)).map((i) => i.name);
  if (missing.length > 0) {
    // Triton's text (infer_request.cc): the total input count, or the range when some are
    // optional; names joined by "," without spaces.
    const required = cfg.input.filter((i) => !i.optional).length;
    const total = cfg.input.length;
    const expected = required === total ? `expected ${total} inputs` : `expected number of inputs between ${required} and ${total}`;
    throw invalidArg(
      `${p}${expected} but got ${r.inputs.length} inputs for model '${model}'. ` +
      `Got input(s) [${r.inputs.map((t) => `'${t.name}'`).join(",")}], but missing required input(s) ` +
      `[${missing.map((n) => `'${n}'`).join(",")}]. Please provide all required input(s).`,
    );
  }
  if (cfg.max_batch_size > 0 && r.inputs.length > 0) {
    if (batch < 1 || batch > cfg.max_batch_size) {
      throw invalidArg(`${p}inference request batch-size must be <= ${cfg.max_batch_size} for '${model}'`);
    }
  }
  // Asked twice, an output would be sent twice: a small request could ask for a huge response.
  const asked = new Set<string>();
  for (const o of r.outputs ?? []) {
    if (asked.has(o.name)) throw invalidArg(`${p}output '${o.name}' already exists in request`);
    asked.add(o.name);
    if (!cfg.output.some((c) => c.name === o.name)) {
      throw invalidArg(`${p}unexpected inference output '${o.name}' for model '${model}'`);
    }
    if (o.classification !== undefined && (!Number.isInteger(o.classification) || o.classification < 1)) {
      throw invalidArg(`${p}classification count for output '${o.name}' must be a positive integer`);
    }
  }
  return cfg.max_batch_size > 0 ? Math.max(batch, 1) : 1;
}
