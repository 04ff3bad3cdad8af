/**
 * The onnxruntime backend's config work, as Triton's does it: fill inputs, outputs and
 * max_batch_size from the model's graph (auto-complete), and check a given config against the
 * graph (always, auto-complete or not), failing with the tensor's name.
 */
import { TritonError } from "../sdk/errors.js";

/** A graph input/output as onnxruntime reports it (InferenceSession.inputMetadata). */
export interface OnnxValueInfo {
  name: string;
  isTensor: boolean;
  type?: string;
  /** Numbers, or strings for symbolic dims; -1 also means dynamic. */
  shape?: readonly (number | string)[];
}

export interface OnnxModelIo {
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
}

/** Triton's onnxruntime backend --backend-config=onnxruntime,default-max-batch-size (default 4). */
export const DEFAULT_MAX_BATCH_SIZE = 4;

const CONFIG_TYPE: Record<string, string> = {
  bool: "TYPE_BOOL", uint8: "TYPE_UINT8", uint16: "TYPE_UINT16", uint32: "TYPE_UINT32", uint64: "TYPE_UINT64",
  int8: "TYPE_INT8", int16: "TYPE_INT16", int32: "TYPE_INT32", int64: "TYPE_INT64",
  float16: "TYPE_FP16", float32: "TYPE_FP32", float64: "TYPE_FP64", bfloat16: "TYPE_BF16", string: "TYPE_STRING",
};

interface ConfigTensor {
  name: string;
  data_type?: string;
  dims?: number[];
  optional?: boolean;
  [k: string]: unknown;
}

type Config = Record<string, unknown> & { max_batch_size?: number; input?: ConfigTensor[]; output?: ConfigTensor[] };

const dims = (v: OnnxValueInfo) => (v.shape ?? []).map((d) => (typeof d === "number" && d >= 0 ? d : -1));

function configType(kind: string, v: OnnxValueInfo): string {
  const t = v.isTensor ? CONFIG_TYPE[v.type ?? ""] : undefined;
  if (!t) throw new TritonError(`${kind} '${v.name}': onnxruntime type ${v.isTensor ? v.type : "(non-tensor)"} is not supported`, TritonError.UNSUPPORTED);
  return t;
}

/** Every model tensor has a dynamic first dim, and the config does not spell the full shape. */
function canBatch(io: OnnxModelIo, cfg: Config): boolean {
  const all = [...io.inputs, ...io.outputs];
  if (all.length === 0 || !all.every((v) => dims(v).length > 0 && dims(v)[0] === -1)) return false;
  const given = [...(cfg.input ?? []), ...(cfg.output ?? [])];
  return !given.some((t) => {
    const m = all.find((v) => v.name === t.name);
    return m !== undefined && t.dims !== undefined && t.dims.length > 0 && t.dims.length === dims(m).length;
  });
}

/**
 * Auto-complete: max_batch_size (the default when every tensor has a dynamic first dim and the
 * config gave none), dynamic batching for a batching model without a scheduler, and every input
 * and output the config left out (names, types, dims without the batch dim). Then the check.
 */
export function autoCompleteFromOnnx(config: Record<string, unknown>, io: OnnxModelIo, modelName = String(config.name ?? "")): Record<string, unknown> {
  const cfg = structuredClone(config) as Config;
  const batchable = canBatch(io, cfg);
  let max = Number(cfg.max_batch_size ?? 0);
  if (max === 0 && batchable) max = cfg.max_batch_size = DEFAULT_MAX_BATCH_SIZE;
  if (max > 0 && !batchable) {
    throw new TritonError(`autofill failed for model '${modelName}': configuration specified max_batch_size ${max} but model does not support batching`, TritonError.INVALID_ARG);
  }
  if (max > 1 && !cfg.dynamic_batching && !cfg.sequence_batching) cfg.dynamic_batching = {};
  for (const [kind, list] of [["input", io.inputs], ["output", io.outputs]] as const) {
    const have = (cfg[kind] ??= []);
    for (const v of list) {
      const full = dims(v);
      const per = max > 0 ? full.slice(1) : full;
      // A tensor that is only the batch dim: dims [1] with reshape [] (Triton's onnxruntime autofill).
      const want: ConfigTensor = per.length === 0 && max > 0
        ? { name: v.name, data_type: configType(kind, v), dims: [1], reshape: { shape: [] } }
        : { name: v.name, data_type: configType(kind, v), dims: per };
      const existing = have.find((t) => t.name === v.name);
      if (!existing) {
        // Triton fills the whole list only when the config names none of that kind.
        if (have.length === 0 || have.every((t) => list.some((m) => m.name === t.name))) have.push(want);
        continue;
      }
      if (!existing.data_type || existing.data_type === "TYPE_INVALID") existing.data_type = want.data_type;
      if (!existing.dims || existing.dims.length === 0) {
        existing.dims = want.dims;
        if (want.reshape && !existing.reshape) existing.reshape = want.reshape;
      }
    }
  }
  checkConfigAgainstOnnx(cfg, io, modelName);
  return cfg;
}

/**
 * The config must agree with the graph: every configured input and output exists in the model
 * with the same type and a compatible shape (a fixed model dim must match; -1 in the model
 * accepts anything). Errors name the tensor, as Triton's do.
 */
export function checkConfigAgainstOnnx(config: Record<string, unknown>, io: OnnxModelIo, modelName = String(config.name ?? "")): void {
  const cfg = config as Config;
  const batch = Number(cfg.max_batch_size ?? 0) > 0;
  for (const [kind, list] of [["input", io.inputs], ["output", io.outputs]] as const) {
    for (const t of cfg[kind] ?? []) {
      const m = list.find((v) => v.name === t.name);
      if (!m) {
        throw new TritonError(`unexpected inference ${kind} '${t.name}' for model '${modelName}', allowed ${kind}s are: ${list.map((v) => v.name).join(", ")}`, TritonError.INVALID_ARG);
      }
      const type = configType(kind, m);
      if (t.data_type && t.data_type !== "TYPE_INVALID" && t.data_type !== type) {
        throw new TritonError(`unexpected datatype ${t.data_type} for ${kind} '${t.name}' of model '${modelName}', the model expects ${type}`, TritonError.INVALID_ARG);
      }
      const full = dims(m);
      if (full.length === 0 || !t.dims) continue; // the model leaves the shape open
      const model = batch ? full.slice(1) : full;
      // The model sees the reshape, when there is one, not the dims.
      const reshape = (t.reshape as { shape?: unknown[] } | undefined)?.shape;
      const given = (reshape ?? t.dims).map(Number);
      const shown = `[${(batch ? [-1, ...given] : given).join(",")}]`;
      const ok = (!batch || full[0] === -1) && model.length === given.length && model.every((d, i) => d === -1 || d === given[i]);
      if (!ok) {
        throw new TritonError(`model '${modelName}', tensor '${t.name}': the model expects shape [${full.join(",")}] for this ${kind}, the configuration gives ${shown}`, TritonError.INVALID_ARG);
      }
    }
  }
  for (const v of io.inputs) {
    if (!(cfg.input ?? []).some((t) => t.name === v.name)) {
      throw new TritonError(`model '${modelName}': input '${v.name}' of the model is missing from the configuration`, TritonError.INVALID_ARG);
    }
  }
}
