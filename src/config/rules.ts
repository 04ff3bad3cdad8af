/**
 * Triton's model-config normalization and validation, in Triton's order and with Triton's
 * messages (model_config_utils.cc, model_repository_manager.cc), applied to a config that zod
 * has already shaped. Where a message looks odd (a missing space, an unbalanced quote) it is
 * Triton's own text, kept so clients and tests written against Triton match.
 *
 * Divergences, on purpose:
 * - Both platform and backend empty reports "must specify 'platform' or 'backend' for '<m>'"
 *   (Triton usually fails earlier, inferring a custom backend from a "<name>.<backend>" folder).
 * - A stub backend (python/ts/typescript) gets no default_model_filename: tessera's stub loads
 *   model.ts unless one is named, where Triton would fill "model.py".
 * - Without `gpus` in the options the server does not manage GPUs: KIND_AUTO becomes KIND_CPU and
 *   KIND_GPU groups are accepted as written. Pass `gpus` to get Triton's GPU checks. The model
 *   manager passes the NVIDIA GPUs it finds (backends/gpus.ts), and nothing when it finds none:
 *   a KIND_GPU group then reaches its stub, whose execution-provider check names what is missing
 *   (and WebGPU may still find an adapter that is not an NVIDIA GPU).
 * - Duplicate input or output names are rejected (Triton's config validation lets them through
 *   and the later of the two silently wins).
 */
import {
  ServerError, batchInputDataType, batchIoSourceCount, batchSourceUnknown, batchTargetRepeated, batchTargetUnknown,
  configNameMissing, controlKindRepeated, controlPairAmbiguous, controlPairForbidden, controlPairMissing, controlPairSize,
  controlTensorReused, controlTensorUnnamed, corridDataType, defaultPriorityOutOfRange, directoryNameMismatch,
  ensembleSchedulingMissing, ensembleWithBackend, forModelIo, groupGpuUnsupported, groupGpusForbidden, groupNoGpus,
  groupNoGpusAvailable, histogramBucketsEmpty, instanceGroupsMissing, ioDataTypeMissing, ioDimInvalid, ioDimsMissing,
  ioEmptyReshape, ioFormatDims, ioNameMissing, ioNameRepeated, ioReshapeDimInvalid, ioReshapeSizeMismatch,
  ioReshapeVariableDims, maxBatchSizeNegative, metricControlFieldMissing, metricFamilyEmpty, nonLinearFormatDims,
  nonLinearFormatNotTensorRt, platformBackendMismatch, platformOrBackendMissing, platformUnexpected,
  preferredSizeNotPositive, preferredSizeTooLarge, preserveOrderingDelay, preserveOrderingLevels, profileEmpty,
  profileNegative, profileNotTensorRt, profileUnparsable, queuePolicyPriorityOutOfRange, responseCacheUnsupported,
  sequencePreferredSizeNotPositive, sequencePreferredSizeTooLarge, shapeTensorNotTensorRt, slotUtilizationOutOfRange,
  unexpectedKindAuto,
} from "../errors/index.js";
import type { ModelConfig, ModelInput, ModelOutput, ModelSequenceBatching } from "./model-config.js";
import { validateEnsembleScheduling } from "./ensemble-rules.js";

export interface ValidateOptions {
  /** The model's folder name; the config's name must equal it (and fills it when empty). */
  modelName: string;
  /** The config file, for messages about its structure. */
  file?: string;
  /**
   * GPU ids this server may use. Undefined: tessera does not manage GPUs (see above). An array,
   * even empty, applies Triton's KIND_AUTO resolution and KIND_GPU checks against it.
   */
  gpus?: readonly number[];
  /**
   * Told of each group whose KIND_AUTO was resolved (after `gpus` were filled in), so the caller
   * can log which kind it became and why.
   */
  onKindAuto?: (group: { name: string; kind: "KIND_GPU" | "KIND_CPU"; gpus: readonly number[] }) => void;
  /** Triton's --min-supported-compute-capability; only quoted in a message. Default 6.0. */
  minComputeCapability?: number;
}

/** -1 in dims: a variable-size dimension (Triton's WILDCARD_DIM). */
export const WILDCARD_DIM = -1;
const SEQUENCE_IDLE_DEFAULT_MICROSECONDS = 1_000_000;

const TF_BACKEND = "tensorflow";
const ENSEMBLE_PLATFORM = "ensemble";
const TRT_PLATFORM = "tensorrt_plan";

/** Triton's BackendType: only these backends must agree with the platform. */
const BACKEND_FAMILY: Readonly<Record<string, string>> = {
  tensorflow: "tensorflow",
  tensorrt: "tensorrt",
  onnxruntime: "onnxruntime",
  pytorch: "pytorch",
};
const PLATFORM_FAMILY: Readonly<Record<string, string>> = {
  tensorflow_graphdef: "tensorflow",
  tensorflow_savedmodel: "tensorflow",
  tensorrt_plan: "tensorrt",
  onnxruntime_onnx: "onnxruntime",
  pytorch_libtorch: "pytorch",
};

export function applyTritonRules(cfg: ModelConfig, opts: ValidateOptions): ModelConfig {
  fillBackendFields(cfg, opts.modelName);
  normalizeModelConfig(cfg);
  validateModelConfigRules(cfg);
  validateModelIoConfig(cfg);
  if (cfg.name !== opts.modelName) {
    throw directoryNameMismatch(opts.modelName, cfg.name);
  }
  if (!cfg.ensemble_scheduling) {
    normalizeInstanceGroups(cfg, opts.gpus, opts.onKindAuto);
    validateInstanceGroups(cfg, opts.gpus, opts.minComputeCapability ?? 6.0);
  }
  return cfg;
}

/**
 * The part of Triton's server-side autofill that needs no files: name from the folder, and the
 * backend, platform and default_model_filename implied by one another. (Inferring them from the
 * files of a version folder lives with the repository scan, which has the folder.)
 */
export function fillBackendFields(cfg: ModelConfig, modelName: string): void {
  if (!cfg.name) cfg.name = modelName;
  const file = () => cfg.default_model_filename;

  if (!cfg.platform && (!cfg.backend || cfg.backend === TF_BACKEND)) {
    if (file() === "model.savedmodel") cfg.platform = "tensorflow_savedmodel";
    else if (file() === "model.graphdef") cfg.platform = "tensorflow_graphdef";
  }
  if (cfg.platform === "tensorflow_savedmodel" || cfg.platform === "tensorflow_graphdef") {
    cfg.backend ||= TF_BACKEND;
    cfg.default_model_filename ||= cfg.platform === "tensorflow_savedmodel" ? "model.savedmodel" : "model.graphdef";
    return;
  }
  const simple: Array<[backend: string, platform: string | undefined, filename: string]> = [
    ["tensorrt", TRT_PLATFORM, "model.plan"],
    ["onnxruntime", "onnxruntime_onnx", "model.onnx"],
    ["openvino", undefined, "model.xml"],
  ];
  for (const [backend, platform, filename] of simple) {
    if (!cfg.backend && ((platform && cfg.platform === platform) || file() === filename)) cfg.backend = backend;
    if (cfg.backend === backend) {
      if (platform) cfg.platform ||= platform;
      cfg.default_model_filename ||= filename;
      return;
    }
  }
  if (!cfg.backend && (cfg.platform === "pytorch_libtorch" || file() === "model.pt")) cfg.backend = "pytorch";
  if (cfg.backend === "pytorch") {
    if (!cfg.platform) {
      cfg.platform = "pytorch_libtorch";
      cfg.default_model_filename ||= "model.pt";
    }
    return;
  }
  if (!cfg.backend && file() === "model.py") cfg.backend = "python";
}

/** Triton's NormalizeModelConfig: defaults that depend on other fields. */
function normalizeModelConfig(cfg: ModelConfig): void {
  const db = cfg.dynamic_batching;
  if (db && db.preferred_batch_size.length === 0 && cfg.max_batch_size > 0) {
    db.preferred_batch_size.push(cfg.max_batch_size);
  }
  const sb = cfg.sequence_batching;
  if (sb) {
    if (sb.max_sequence_idle_microseconds === 0) sb.max_sequence_idle_microseconds = SEQUENCE_IDLE_DEFAULT_MICROSECONDS;
    if (sb.oldest && sb.oldest.preferred_batch_size.length === 0 && cfg.max_batch_size > 0) {
      sb.oldest.preferred_batch_size.push(cfg.max_batch_size);
    }
  }
  if (!cfg.ensemble_scheduling) {
    cfg.optimization ??= { priority: "PRIORITY_DEFAULT", gather_kernel_buffer_threshold: 0, eager_batching: false };
    cfg.optimization.input_pinned_memory ??= { enable: true };
    cfg.optimization.output_pinned_memory ??= { enable: true };
  }
}

/** Triton's ValidateModelConfig. */
function validateModelConfigRules(cfg: ModelConfig): void {
  const name = cfg.name;
  if (!name) throw configNameMissing();

  if (!cfg.backend) {
    if (!cfg.platform) throw platformOrBackendMissing(name);
    if (cfg.platform !== ENSEMBLE_PLATFORM) throw platformUnexpected(cfg.platform, name);
  } else if (cfg.platform === ENSEMBLE_PLATFORM) {
    throw ensembleWithBackend(name, cfg.platform);
  }
  const family = BACKEND_FAMILY[cfg.backend];
  if (family !== undefined && family !== PLATFORM_FAMILY[cfg.platform]) {
    throw platformBackendMismatch(cfg.platform, cfg.backend);
  }

  if (cfg.max_batch_size < 0) throw maxBatchSizeNegative(name);

  const db = cfg.dynamic_batching;
  if (db) {
    for (const size of db.preferred_batch_size) {
      if (size <= 0) throw preferredSizeNotPositive(name);
      if (size > cfg.max_batch_size) {
        throw preferredSizeTooLarge(name);
      }
    }
    const levels = db.priority_levels;
    if (levels !== 0) {
      if (db.default_priority_level === 0 || db.default_priority_level > levels) {
        throw defaultPriorityOutOfRange(levels, name);
      }
      for (const key of Object.keys(db.priority_queue_policy)) {
        const level = Number(key);
        if (level === 0 || level > levels) {
          throw queuePolicyPriorityOutOfRange(levels, name);
        }
      }
    }
    if (db.preserve_ordering) {
      if (levels > 1) {
        throw preserveOrderingLevels(name);
      }
      const policies = [db.default_queue_policy, ...Object.values(db.priority_queue_policy)];
      for (const p of policies) {
        if (p && p.default_timeout_microseconds !== 0 && p.timeout_action === "DELAY") {
          throw preserveOrderingDelay(name);
        }
      }
    }
  }

  if (cfg.sequence_batching) validateSequenceBatching(cfg, cfg.sequence_batching);

  if (cfg.ensemble_scheduling) {
    validateEnsembleScheduling(cfg, cfg.ensemble_scheduling);
  } else if (cfg.platform === ENSEMBLE_PLATFORM) {
    throw ensembleSchedulingMissing(name, ENSEMBLE_PLATFORM);
  }

  if (cfg.model_transaction_policy.decoupled && cfg.response_cache?.enable) {
    throw responseCacheUnsupported(name, "'decoupled' transaction policy");
  }

  for (const control of cfg.model_metrics?.metric_control ?? []) {
    if (!control.metric_identifier) throw metricControlFieldMissing("metric_identifier");
    if (!control.metric_identifier.family) throw metricFamilyEmpty();
    if (!control.histogram_options) throw metricControlFieldMissing("histogram_options");
    if (control.histogram_options.buckets.length === 0) {
      throw histogramBucketsEmpty();
    }
  }
}

type ControlKind = ModelSequenceBatching["control_input"][number]["control"][number]["kind"];

function validateSequenceBatching(cfg: ModelConfig, sb: ModelSequenceBatching): void {
  const name = cfg.name;
  if (cfg.response_cache?.enable) {
    throw responseCacheUnsupported(name, "sequence batching scheduler");
  }
  for (const kind of ["CONTROL_SEQUENCE_START", "CONTROL_SEQUENCE_END", "CONTROL_SEQUENCE_READY"] as const) {
    checkSequenceControl(sb, name, kind, true);
  }
  const corrid = checkSequenceControl(sb, name, "CONTROL_SEQUENCE_CORRID", false);
  if (corrid && !["TYPE_UINT64", "TYPE_INT64", "TYPE_UINT32", "TYPE_INT32", "TYPE_STRING"].includes(corrid)) {
    throw corridDataType(name);
  }
  for (const size of sb.oldest?.preferred_batch_size ?? []) {
    if (size <= 0) throw sequencePreferredSizeNotPositive(name);
    if (size > cfg.max_batch_size) {
      throw sequencePreferredSizeTooLarge(name);
    }
  }
  const utilization = sb.direct?.minimum_slot_utilization ?? 0;
  if (sb.direct && (utilization < 0 || utilization > 1)) {
    throw slotUtilizationOutOfRange(name);
  }
}

/**
 * Triton's Get{Boolean,Typed}SequenceControlProperties, as checks: boolean controls (start,
 * end, ready) carry exactly one of the *_false_true pairs; the CORRID control carries none and
 * names its data type, which is returned.
 */
function checkSequenceControl(
  sb: ModelSequenceBatching,
  model: string,
  kind: ControlKind,
  boolean: boolean,
): string | undefined {
  const seenTensors = new Set<string>();
  let found: string | undefined;
  for (const input of sb.control_input) {
    if (!input.name) throw controlTensorUnnamed(model);
    if (seenTensors.has(input.name)) {
      throw controlTensorReused(input.name, model);
    }
    seenTensors.add(input.name);
    for (const c of input.control) {
      if (c.kind !== kind) continue;
      if (found !== undefined) throw controlKindRepeated(kind, model);
      const pairs = [c.int32_false_true, c.fp32_false_true, c.bool_false_true].filter((p) => p.length > 0);
      if (!boolean) {
        if (pairs.length > 0) {
          throw controlPairForbidden(kind, model);
        }
        found = c.data_type;
        continue;
      }
      if (pairs.length === 0) {
        throw controlPairMissing(kind, model);
      }
      if (pairs.length > 1) {
        throw controlPairAmbiguous(kind, model);
      }
      const field = c.int32_false_true.length
        ? "int32_false_true"
        : c.fp32_false_true.length
          ? "fp32_false_true"
          : "bool_false_true";
      if (pairs[0]!.length !== 2) {
        throw controlPairSize(field, kind, model);
      }
      found = field === "int32_false_true" ? "TYPE_INT32" : field === "fp32_false_true" ? "TYPE_FP32" : "TYPE_BOOL";
    }
  }
  return found;
}

/** Triton's ValidateModelIOConfig: every message ends in " for <model>". */
function validateModelIoConfig(cfg: ModelConfig): void {
  const wrap = (check: () => void) => {
    try {
      check();
    } catch (err) {
      if (err instanceof ServerError) throw forModelIo(err, cfg.name);
      throw err;
    }
  };
  for (const io of cfg.input) wrap(() => validateInput(io, cfg));
  for (const io of cfg.output) wrap(() => validateOutput(io, cfg));
  wrap(() => validateBatchIo(cfg));
  for (const [what, list] of [["input", cfg.input], ["output", cfg.output]] as const) {
    const seen = new Set<string>();
    for (const io of list) {
      if (seen.has(io.name)) throw ioNameRepeated(what, io.name, cfg.name);
      seen.add(io.name);
    }
  }
}

function validateInput(io: ModelInput, cfg: ModelConfig): void {
  validateIoShape(io, cfg.max_batch_size, "input");
  if ((io.format === "FORMAT_NHWC" || io.format === "FORMAT_NCHW") && io.dims.length !== 3) {
    throw ioFormatDims();
  }
  validateTensorRtOnly(io, cfg.platform, "input");
}

function validateOutput(io: ModelOutput, cfg: ModelConfig): void {
  validateIoShape(io, cfg.max_batch_size, "output");
  validateTensorRtOnly(io, cfg.platform, "output");
}

function validateTensorRtOnly(io: ModelInput | ModelOutput, platform: string, kind: string): void {
  if (platform !== TRT_PLATFORM && io.is_shape_tensor) {
    throw shapeTensorNotTensorRt();
  }
  if (io.is_non_linear_format_io) {
    if (platform !== TRT_PLATFORM) throw nonLinearFormatNotTensorRt();
    if (io.dims.length !== 3) throw nonLinearFormatDims(kind);
  }
}

/** Triton's GetElementCount: -1 if any dim is variable, 0 for no dims, else the product. */
export function elementCount(dims: readonly number[]): number {
  if (dims.includes(WILDCARD_DIM)) return -1;
  return dims.length === 0 ? 0 : dims.reduce((a, b) => a * b, 1);
}

function validateIoShape(io: ModelInput | ModelOutput, maxBatchSize: number, kind: "input" | "output"): void {
  if (!io.name) throw ioNameMissing(kind);
  if (io.data_type === "TYPE_INVALID") throw ioDataTypeMissing(kind, io.name);
  if (io.dims.length === 0) throw ioDimsMissing(kind, io.name);
  const reshape = io.reshape;
  // With no batch dimension an empty reshape would make the tensor a scalar, which Triton rejects.
  if (reshape && reshape.shape.length === 0 && maxBatchSize === 0) {
    throw ioEmptyReshape(kind, io.name);
  }
  const badDim = (d: number) => d < 1 && d !== WILDCARD_DIM;
  if (io.dims.some(badDim)) {
    throw ioDimInvalid(kind, io.name);
  }
  if (!reshape) return;
  if (reshape.shape.some(badDim)) {
    throw ioReshapeDimInvalid(kind, io.name);
  }
  const dimsSize = elementCount(io.dims);
  const reshapeSize = elementCount(reshape.shape);
  // An empty reshape (count 0) is allowed exactly when dims hold one element.
  if (dimsSize !== reshapeSize && (reshapeSize !== 0 || dimsSize !== 1)) {
    throw ioReshapeSizeMismatch(kind, io.name);
  }
  if (dimsSize === -1) {
    // Each run of fixed dims between variable ones must hold the same element count in both.
    const runs = (dims: readonly number[]) => {
      const out: number[] = [];
      let cur = 1;
      for (const d of dims) {
        if (d === WILDCARD_DIM) {
          out.push(cur);
          cur = 1;
        } else cur *= d;
      }
      out.push(cur);
      return out;
    };
    const a = runs(io.dims);
    const b = runs(reshape.shape);
    if (a.length !== b.length) {
      throw ioReshapeVariableDims(kind, io.name);
    }
    if (a.some((n, i) => n !== b[i])) throw ioReshapeSizeMismatch(kind, io.name);
  }
}

function validateBatchIo(cfg: ModelConfig): void {
  const inputs = new Set(cfg.input.map((i) => i.name));
  const outputs = new Set(cfg.output.map((o) => o.name));
  for (const bi of cfg.batch_input) {
    if (bi.source_input.length !== 1) {
      throw batchIoSourceCount("input", bi.kind, bi.source_input.length);
    }
    if (bi.data_type !== "TYPE_INT32" && bi.data_type !== "TYPE_FP32") {
      throw batchInputDataType();
    }
    for (const s of bi.source_input) if (!inputs.has(s)) throw batchSourceUnknown(s);
  }
  for (const bo of cfg.batch_output) {
    if (bo.source_input.length !== 1) {
      throw batchIoSourceCount("output", bo.kind, bo.source_input.length);
    }
    for (const s of bo.source_input) if (!inputs.has(s)) throw batchSourceUnknown(s);
    const targets = new Set<string>();
    for (const t of bo.target_name) {
      if (!outputs.has(t)) throw batchTargetUnknown(t);
      if (targets.has(t)) throw batchTargetRepeated(t);
      targets.add(t);
    }
  }
}

/**
 * Triton's NormalizeInstanceGroup (without backend-preferred groups): one group named after the
 * model when none is given, "<model>_<index>" for unnamed groups, KIND_AUTO resolved, and
 * count < 1 replaced by the default (1; 2 for CPU groups of the tensorflow/onnxruntime backends).
 */
function normalizeInstanceGroups(
  cfg: ModelConfig, gpus: readonly number[] | undefined, onKindAuto: ValidateOptions["onKindAuto"],
): void {
  const supported = new Set(gpus ?? []);
  if (cfg.instance_group.length === 0) {
    cfg.instance_group.push({
      name: cfg.name, kind: "KIND_AUTO", count: 0, gpus: [], secondary_devices: [], profile: [],
      passive: false, host_policy: "",
    });
  }
  cfg.instance_group.forEach((group, index) => {
    if (!group.name) group.name = `${cfg.name}_${index}`;
    const auto = group.kind === "KIND_AUTO";
    if (auto) {
      const usable = supported.size > 0 && group.gpus.every((g) => supported.has(g));
      group.kind = usable ? "KIND_GPU" : "KIND_CPU";
    }
    if (group.count < 1) {
      const cpuDefaultTwo = cfg.backend === TF_BACKEND || cfg.backend === "onnxruntime";
      group.count = group.kind === "KIND_CPU" && cpuDefaultTwo ? 2 : 1;
    }
    if (group.kind === "KIND_GPU" && group.gpus.length === 0 && gpus !== undefined) {
      group.gpus = [...supported].sort((a, b) => a - b);
    }
    if (auto) onKindAuto?.({ name: group.name, kind: group.kind as "KIND_GPU" | "KIND_CPU", gpus: group.gpus });
  });
}

/** Triton's ValidateInstanceGroup. */
function validateInstanceGroups(cfg: ModelConfig, gpus: readonly number[] | undefined, minCc: number): void {
  if (cfg.instance_group.length === 0) throw instanceGroupsMissing(cfg.name);
  const supported = [...new Set(gpus ?? [])].sort((a, b) => a - b);
  for (const g of cfg.instance_group) {
    const who = `instance group ${g.name} of model ${cfg.name}`;
    if (g.kind === "KIND_MODEL" || g.kind === "KIND_CPU") {
      if (g.gpus.length > 0) throw groupGpusForbidden(g.name, cfg.name, g.kind);
    } else if (g.kind === "KIND_GPU") {
      if (gpus !== undefined) {
        if (g.gpus.length === 0) {
          throw supported.length === 0 ? groupNoGpusAvailable(g.name, cfg.name) : groupNoGpus(g.name, cfg.name);
        }
        for (const id of g.gpus) {
          if (!supported.includes(id)) {
            throw groupGpuUnsupported(g.name, cfg.name, id, minCc.toFixed(6), supported);
          }
        }
      }
    } else {
      throw unexpectedKindAuto(who);
    }
    if (cfg.platform !== TRT_PLATFORM && g.profile.length > 0) {
      throw profileNotTensorRt(g.name, cfg.name, cfg.platform);
    }
    for (const profile of g.profile) {
      if (!profile) throw profileEmpty();
      const m = /^\s*([+-]?\d+)/.exec(profile);
      if (!m) throw profileUnparsable(profile);
      if (Number(m[1]) < 0) {
        throw profileNegative(g.name, cfg.name, cfg.platform, profile);
      }
    }
  }
}
