/**
 * The model config as the rest of tessera sees it: zod schemas mirroring model_config.proto
 * (snake_case, as Triton names the fields), with proto3 defaults filled in so consumers never
 * test for absence of a scalar, and `validateModelConfig`, which turns a parsed config into the
 * complete config of a loaded model the way Triton does (autofilled backend fields, normalized
 * defaults, instance groups) and applies Triton's checks with Triton's messages.
 *
 * Message fields stay optional where Triton distinguishes "absent" (e.g. dynamic_batching,
 * reshape, default_queue_policy): presence is meaning there, and the JSON printer omits them
 * as Triton does.
 */
import { z } from "zod";
import { configSchemaInvalid } from "../errors/index.js";
import { applyTritonRules, type ValidateOptions } from "./rules.js";

export { configToJson } from "./to-json.js";
export type { ValidateOptions } from "./rules.js";

export const DATA_TYPES = [
  "TYPE_INVALID", "TYPE_BOOL", "TYPE_UINT8", "TYPE_UINT16", "TYPE_UINT32", "TYPE_UINT64",
  "TYPE_INT8", "TYPE_INT16", "TYPE_INT32", "TYPE_INT64", "TYPE_FP16", "TYPE_FP32", "TYPE_FP64",
  "TYPE_STRING", "TYPE_BF16",
] as const;
export type ConfigDataType = (typeof DATA_TYPES)[number];

export const INSTANCE_KINDS = ["KIND_AUTO", "KIND_GPU", "KIND_CPU", "KIND_MODEL"] as const;
export type InstanceKind = (typeof INSTANCE_KINDS)[number];

/** Backends served by tessera's stub worker (handler-api.md); the value is kept as written. */
export const STUB_BACKENDS: readonly string[] = ["typescript", "ts", "python"];

// int64/uint64 arrive as numbers from our parsers, but configs built elsewhere (auto-complete
// results, hand-written JSON) may carry Triton's JSON strings; both mean the same number.
const int64 = z.union([z.number().int(), z.string().regex(/^-?\d+$/).transform(Number)]);
const int32 = z.number().int();
const str = () => z.string().default("");
const bool = () => z.boolean().default(false);
const i64 = () => int64.default(0);
const i32 = () => int32.default(0);
const list = <T extends z.ZodType>(item: T) => z.array(item).default(() => []);
const map = <T extends z.ZodType>(value: T) => z.record(z.string(), value).default(() => ({}));

const dataType = z.enum(DATA_TYPES).default("TYPE_INVALID");

export const TensorReshapeSchema = z.object({ shape: list(int64) });

export const ModelInputSchema = z.object({
  name: str(),
  data_type: dataType,
  format: z.enum(["FORMAT_NONE", "FORMAT_NHWC", "FORMAT_NCHW"]).default("FORMAT_NONE"),
  dims: list(int64),
  reshape: TensorReshapeSchema.optional(),
  is_shape_tensor: bool(),
  allow_ragged_batch: bool(),
  optional: bool(),
  is_non_linear_format_io: bool(),
});

export const ModelOutputSchema = z.object({
  name: str(),
  data_type: dataType,
  dims: list(int64),
  reshape: TensorReshapeSchema.optional(),
  label_filename: str(),
  is_shape_tensor: bool(),
  is_non_linear_format_io: bool(),
});

const BatchInputSchema = z.object({
  kind: z
    .enum([
      "BATCH_ELEMENT_COUNT", "BATCH_ACCUMULATED_ELEMENT_COUNT",
      "BATCH_ACCUMULATED_ELEMENT_COUNT_WITH_ZERO", "BATCH_MAX_ELEMENT_COUNT_AS_SHAPE",
      "BATCH_ITEM_SHAPE", "BATCH_ITEM_SHAPE_FLATTEN",
    ])
    .default("BATCH_ELEMENT_COUNT"),
  target_name: list(z.string()),
  data_type: dataType,
  source_input: list(z.string()),
});

const BatchOutputSchema = z.object({
  target_name: list(z.string()),
  kind: z.enum(["BATCH_SCATTER_WITH_INPUT_SHAPE"]).default("BATCH_SCATTER_WITH_INPUT_SHAPE"),
  source_input: list(z.string()),
});

export const VersionPolicySchema = z.object({
  latest: z.object({ num_versions: i32() }).optional(),
  all: z.object({}).optional(),
  specific: z.object({ versions: list(int64) }).optional(),
});

export const InstanceGroupSchema = z.object({
  name: str(),
  kind: z.enum(INSTANCE_KINDS).default("KIND_AUTO"),
  count: i32(),
  rate_limiter: z
    .object({
      resources: list(z.object({ name: str(), global: bool(), count: i32() })),
      priority: i32(),
    })
    .optional(),
  gpus: list(int32),
  secondary_devices: list(z.object({ kind: z.enum(["KIND_NVDLA"]).default("KIND_NVDLA"), device_id: i64() })),
  profile: list(z.string()),
  passive: bool(),
  host_policy: str(),
});

const AcceleratorSchema = z.object({ name: str(), parameters: map(z.string()) });
const ShapeSchema = z.object({ dim: list(int64) });

const OptimizationSchema = z.object({
  graph: z.object({ level: i32() }).optional(),
  priority: z.enum(["PRIORITY_DEFAULT", "PRIORITY_MAX", "PRIORITY_MIN"]).default("PRIORITY_DEFAULT"),
  cuda: z
    .object({
      graphs: bool(),
      busy_wait_events: bool(),
      graph_spec: list(
        z.object({
          batch_size: i32(),
          input: map(ShapeSchema),
          graph_lower_bound: z.object({ batch_size: i32(), input: map(ShapeSchema) }).optional(),
        }),
      ),
      output_copy_stream: bool(),
    })
    .optional(),
  execution_accelerators: z
    .object({
      gpu_execution_accelerator: list(AcceleratorSchema),
      cpu_execution_accelerator: list(AcceleratorSchema),
    })
    .optional(),
  input_pinned_memory: z.object({ enable: bool() }).optional(),
  output_pinned_memory: z.object({ enable: bool() }).optional(),
  gather_kernel_buffer_threshold: i32(),
  eager_batching: bool(),
});

export const QueuePolicySchema = z.object({
  timeout_action: z.enum(["REJECT", "DELAY"]).default("REJECT"),
  default_timeout_microseconds: i64(),
  allow_timeout_override: bool(),
  max_queue_size: i32(),
});

export const DynamicBatchingSchema = z.object({
  preferred_batch_size: list(int32),
  max_queue_delay_microseconds: i64(),
  preserve_ordering: bool(),
  priority_levels: i64(),
  default_priority_level: i64(),
  default_queue_policy: QueuePolicySchema.optional(),
  // Keys are priority levels (uint64), as strings: JSON object keys.
  priority_queue_policy: map(QueuePolicySchema),
});

const ControlSchema = z.object({
  kind: z
    .enum(["CONTROL_SEQUENCE_START", "CONTROL_SEQUENCE_READY", "CONTROL_SEQUENCE_END", "CONTROL_SEQUENCE_CORRID"])
    .default("CONTROL_SEQUENCE_START"),
  int32_false_true: list(int32),
  fp32_false_true: list(z.number()),
  bool_false_true: list(z.boolean()),
  data_type: dataType,
});

export const SequenceBatchingSchema = z.object({
  direct: z.object({ max_queue_delay_microseconds: i64(), minimum_slot_utilization: z.number().default(0) }).optional(),
  oldest: z
    .object({
      max_candidate_sequences: i32(),
      preferred_batch_size: list(int32),
      max_queue_delay_microseconds: i64(),
      preserve_ordering: bool(),
    })
    .optional(),
  max_sequence_idle_microseconds: i64(),
  control_input: list(z.object({ name: str(), control: list(ControlSchema) })),
  state: list(
    z.object({
      input_name: str(),
      output_name: str(),
      data_type: dataType,
      dims: list(int64),
      initial_state: list(
        z.object({
          data_type: dataType,
          dims: list(int64),
          zero_data: z.boolean().optional(),
          data_file: z.string().optional(),
          name: str(),
        }),
      ),
      use_same_buffer_for_input_output: bool(),
      use_growable_memory: bool(),
    }),
  ),
  iterative_sequence: bool(),
});

export const EnsembleSchema = z.object({
  step: list(
    z.object({
      model_name: str(),
      model_version: i64(),
      input_map: map(z.string()),
      output_map: map(z.string()),
      model_namespace: str(),
    }),
  ),
  max_inflight_requests: i32(),
});

const WarmupSchema = z.object({
  name: str(),
  batch_size: i32(),
  inputs: map(
    z.object({
      data_type: dataType,
      dims: list(int64),
      zero_data: z.boolean().optional(),
      random_data: z.boolean().optional(),
      input_data_file: z.string().optional(),
    }),
  ),
  count: i32(),
});

export const ModelConfigSchema = z.object({
  name: str(),
  platform: str(),
  backend: str(),
  runtime: str(),
  // Triton: an absent policy serves the latest version only.
  version_policy: VersionPolicySchema.default(() => ({ latest: { num_versions: 1 } })),
  max_batch_size: i32(),
  input: list(ModelInputSchema),
  output: list(ModelOutputSchema),
  batch_input: list(BatchInputSchema),
  batch_output: list(BatchOutputSchema),
  optimization: OptimizationSchema.optional(),
  dynamic_batching: DynamicBatchingSchema.optional(),
  sequence_batching: SequenceBatchingSchema.optional(),
  ensemble_scheduling: EnsembleSchema.optional(),
  instance_group: list(InstanceGroupSchema),
  default_model_filename: str(),
  cc_model_filenames: map(z.string()),
  metric_tags: map(z.string()),
  parameters: map(z.object({ string_value: str() })),
  model_warmup: list(WarmupSchema),
  model_operations: z.object({ op_library_filename: list(z.string()) }).optional(),
  model_transaction_policy: z.object({ decoupled: bool() }).default(() => ({ decoupled: false })),
  model_repository_agents: z
    .object({ agents: list(z.object({ name: str(), parameters: map(z.string()) })) })
    .optional(),
  response_cache: z.object({ enable: bool() }).optional(),
  model_metrics: z
    .object({
      metric_control: list(
        z.object({
          metric_identifier: z.object({ family: str() }).optional(),
          histogram_options: z.object({ buckets: list(z.number()) }).optional(),
        }),
      ),
    })
    .optional(),
});

export type ModelConfig = z.output<typeof ModelConfigSchema>;
export type ModelInput = z.output<typeof ModelInputSchema>;
export type ModelOutput = z.output<typeof ModelOutputSchema>;
export type ModelInstanceGroup = z.output<typeof InstanceGroupSchema>;
export type ModelVersionPolicy = z.output<typeof VersionPolicySchema>;
export type ModelDynamicBatching = z.output<typeof DynamicBatchingSchema>;
export type ModelQueuePolicy = z.output<typeof QueuePolicySchema>;
export type ModelSequenceBatching = z.output<typeof SequenceBatchingSchema>;
export type ModelEnsembling = z.output<typeof EnsembleSchema>;

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
