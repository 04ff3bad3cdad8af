/**
 * The model config as the rest of tessera sees it: the schema and types of model-config.ts
 * (re-exported), and `validateModelConfig`, which turns a parsed config into the complete config
 * of a loaded model the way Triton does (autofilled backend fields, normalized defaults, instance
 * groups) and applies Triton's checks with Triton's messages.
 */
import { configSchemaInvalid } from "../errors/index.js";
import { ModelConfigSchema, STUB_BACKENDS, type ModelConfig, type ModelInput, type ModelOutput } from "./model-config.js";
import { applyTritonRules, type ValidateOptions } from "./rules.js";

export * from "./model-config.js";
export { configToJson } from "./to-json.js";
export type { ValidateOptions } from "./rules.js";

/**
 * A parsed config (from parseConfigText/parseConfigJson, or an auto-completed object) → the
 * complete config of a loaded model, or INVALID_ARG with Triton's message. `modelName` is the
 * model's folder name; `file` only decorates structural errors.
 *
 * What is filled, as Triton does: name (from the folder), backend/platform/default_model_filename
 * for known platforms, version_policy, preferred batch sizes, sequence idle time, pinned-memory
 * flags, and instance groups (name, kind, count). Then Triton's checks, in Triton's order.
 */
export function validateModelConfig(raw: unknown, options: ValidateOptions): ModelConfig {
  const parsed = ModelConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.length ? issue.path.join(".") : "(root)";
    throw configSchemaInvalid(options.modelName, options.file, path, issue.message);
  }
  return applyTritonRules(parsed.data, options);
}

/** Served by tessera's stub worker processes (backend "typescript", or the aliases "ts", "python"). */
export function isStubBackend(cfg: Pick<ModelConfig, "backend">): boolean {
  return STUB_BACKENDS.includes(cfg.backend);
}

/**
 * The shape a client sees in model metadata: the config's dims, with the implicit batch
 * dimension shown as a leading -1 when the model batches (max_batch_size > 0).
 */
export function tensorShapeForMetadata(
  cfg: Pick<ModelConfig, "max_batch_size">,
  tensor: Pick<ModelInput | ModelOutput, "dims">,
): number[] {
  return cfg.max_batch_size > 0 ? [-1, ...tensor.dims] : [...tensor.dims];
}
