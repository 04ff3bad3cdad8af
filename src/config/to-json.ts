/**
 * The JSON Triton returns for GET /v2/models/{m}/config (and gRPC's config as JSON).
 *
 * Triton prints the config with protobuf's JSON printer (proto field names, every scalar,
 * repeated and map field printed even when default; message fields and oneof members only when
 * set; enums by name), which renders 64-bit integers as strings, and then rewrites a fixed list
 * of them into JSON numbers (ModelConfigToJson in model_config_utils.cc). Fields not on that list
 * stay strings: sequence_batching.state[].initial_state[].dims, optimization.cuda.graph_spec
 * dims and instance_group[].secondary_devices[].device_id. Map keys are always strings.
 * Fields are printed in the .proto's declaration order, as protobuf does.
 */
import protobuf from "protobufjs";
import { configType } from "./parse.js";
import type { ModelConfig } from "./model-config.js";

/** "<message full name>.<field>" of the 64-bit fields Triton prints as numbers. */
const INT64_AS_NUMBER = new Set([
  "inference.ModelInput.dims",
  "inference.ModelOutput.dims",
  "inference.ModelTensorReshape.shape",
  "inference.ModelVersionPolicy.Specific.versions",
  "inference.ModelDynamicBatching.max_queue_delay_microseconds",
  "inference.ModelDynamicBatching.priority_levels",
  "inference.ModelDynamicBatching.default_priority_level",
  "inference.ModelQueuePolicy.default_timeout_microseconds",
  "inference.ModelSequenceBatching.max_sequence_idle_microseconds",
  "inference.ModelSequenceBatching.StrategyDirect.max_queue_delay_microseconds",
  "inference.ModelSequenceBatching.StrategyOldest.max_queue_delay_microseconds",
  "inference.ModelSequenceBatching.State.dims",
  "inference.ModelEnsembling.Step.model_version",
  "inference.ModelWarmup.Input.dims",
]);

const LONG_TYPES = new Set(["int64", "uint64", "sint64", "fixed64", "sfixed64"]);

export function configToJson(cfg: ModelConfig): Record<string, unknown> {
  return printMessage(configType(), cfg as unknown as Record<string, unknown>, 0);
}

function printMessage(type: protobuf.Type, value: Record<string, unknown>, depth: number): Record<string, unknown> {
  if (depth > 32) throw new Error("model config nests too deeply to print");
  const out: Record<string, unknown> = {};
  for (const declared of type.fieldsArray) {
    const field = declared.resolve();
    const v = value[field.name];
    const key = `${type.fullName.replace(/^\./, "")}.${field.name}`;
    if (field.map) {
      const entries = v && typeof v === "object" ? Object.entries(v as Record<string, unknown>) : [];
      out[field.name] = Object.fromEntries(entries.map(([k, x]) => [String(k), printValue(field, key, x, depth)]));
    } else if (field.repeated) {
      out[field.name] = Array.isArray(v) ? v.map((x) => printValue(field, key, x, depth)) : [];
    } else if (v === undefined || v === null) {
      // Unset messages and oneof members are omitted; unset scalars print their default.
      if (field.partOf || field.resolvedType instanceof protobuf.Type) continue;
      out[field.name] = printValue(field, key, scalarDefault(field), depth);
    } else {
      out[field.name] = printValue(field, key, v, depth);
    }
  }
  return out;
}

function printValue(field: protobuf.Field, key: string, v: unknown, depth: number): unknown {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Type) return printMessage(rt, (v ?? {}) as Record<string, unknown>, depth + 1);
  if (rt instanceof protobuf.Enum) {
    if (typeof v === "string") return v;
    const name = rt.valuesById[Number(v)];
    return name ?? Number(v);
  }
  if (LONG_TYPES.has(field.type)) {
    const n = typeof v === "string" ? Number(v) : (v as number);
    return INT64_AS_NUMBER.has(key) ? n : String(n);
  }
  if ((field.type === "float" || field.type === "double") && typeof v === "number" && !Number.isFinite(v)) {
    return Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
  }
  return v;
}

function scalarDefault(field: protobuf.Field): unknown {
  if (field.resolvedType instanceof protobuf.Enum) return 0;
  switch (field.type) {
    case "string":
      return "";
    case "bool":
      return false;
    case "bytes":
      return "";
    default:
      return 0;
  }
}
