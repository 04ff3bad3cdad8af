/**
 * The texts of the model-config rules (config/rules.ts, config/ensemble-rules.ts): Triton's
 * model_config_utils.cc and model_repository_manager.cc texts, byte for byte, odd spacing and
 * unbalanced quotes included (clients and tests written against Triton match on them). Every one
 * is INVALID_ARG. One factory per text template; listed in docs/errors.md like texts.ts's.
 */
import { define } from "./factory.js";

/** How Triton names an instance group in its texts. */
const groupOf = (group: string, model: string) => `instance group ${group} of model ${model}`;

/** Triton's three boolean-control fields, as its texts list them. */
const PAIRS = "'int32_false_true', 'fp32_false_true'";

// ---------------------------------------------------------------------------------------------
// The model (ValidateModelConfig).

/** A config whose name is empty after the folder's name was filled in. */
export const configNameMissing = define("INVALID_ARG", () => "model configuration must specify 'name'");

/** A config whose name is not its folder's. */
export const directoryNameMismatch = define("INVALID_ARG", (directory: string, model: string) =>
  `unexpected directory name '${directory}' for model '${model}', directory name must equal model name`);

/** A config with neither a platform nor a backend. */
export const platformOrBackendMissing = define("INVALID_ARG", (model: string) =>
  `must specify 'platform' or 'backend' for '${model}'`);

/** A config without a backend whose platform is not "ensemble". */
export const platformUnexpected = define("INVALID_ARG", (platform: string, model: string) =>
  `unexpected platform type '${platform}' for ${model}`);

/** An ensemble config that names a backend. */
export const ensembleWithBackend = define("INVALID_ARG", (model: string, platform: string) =>
  `Ensemble model '${model}' must have platform type '${platform}' and empty backend type`);

/** A backend of Triton's families with a platform of another family (Triton's text: no space after "got:"). */
export const platformBackendMismatch = define("INVALID_ARG", (platform: string, backend: string) =>
  `unexpected 'platform' and 'backend' pair, got:${platform}, ${backend}`);

/** A negative max_batch_size. */
export const maxBatchSizeNegative = define("INVALID_ARG", (model: string) =>
  `'max_batch_size' must be non-negative value for ${model}`);

/** A dynamic batching preferred size below 1. */
export const preferredSizeNotPositive = define("INVALID_ARG", (model: string) =>
  `dynamic batching preferred size must be positive for ${model}`);

/** A dynamic batching preferred size above max_batch_size. */
export const preferredSizeTooLarge = define("INVALID_ARG", (model: string) =>
  `dynamic batching preferred size must be <= max batch size for ${model}`);

/** A default_priority_level outside [1, priority_levels]. */
export const defaultPriorityOutOfRange = define("INVALID_ARG", (levels: number, model: string) =>
  `default priority level must be in range [1, ${levels}] for ${model}`);

/** A priority_queue_policy key outside [1, priority_levels]. */
export const queuePolicyPriorityOutOfRange = define("INVALID_ARG", (levels: number, model: string) =>
  `priority queue policy must have priority level in range [1, ${levels}] for ${model}`);

/** preserve_ordering with more than one priority level. */
export const preserveOrderingLevels = define("INVALID_ARG", (model: string) =>
  `Only one priority level is allowed when 'preserve_ordering' is true for ${model}`);

/** preserve_ordering with a queue policy that delays timed-out requests. */
export const preserveOrderingDelay = define("INVALID_ARG", (model: string) =>
  `Queue policy can not have DELAY as timeout action when 'preserve_ordering' is true for ${model}`);

/** A model of the ensemble platform without ensemble_scheduling. */
export const ensembleSchedulingMissing = define("INVALID_ARG", (model: string, platform: string) =>
  `ensemble scheduling must be set for ensemble ${model} whose platform is ${platform}`);

/** The response cache enabled for a model it cannot serve; `what` is the feature in Triton's words. */
export const responseCacheUnsupported = define("INVALID_ARG", (model: string, what: string) =>
  `Response Cache does not currently support model ${model} with ${what}. Please disable the response cache.`);

/** A metric_control without `field` ("metric_identifier" or "histogram_options"). */
export const metricControlFieldMissing = define("INVALID_ARG", (field: string) => `metric control must specify '${field}'`);

/** A metric identifier with an empty family. */
export const metricFamilyEmpty = define("INVALID_ARG", () => "metric identifier must specify non-empty 'family'");

/** Histogram options without buckets. */
export const histogramBucketsEmpty = define("INVALID_ARG", () => "histogram options must specify non-empty 'buckets'");

// ---------------------------------------------------------------------------------------------
// Sequence batching (ValidateModelConfig, Get{Boolean,Typed}SequenceControlProperties).

/** A CORRID control of a datatype Triton does not take for correlation ids. */
export const corridDataType = define("INVALID_ARG", (model: string) =>
  `unexpected data type for control CONTROL_SEQUENCE_CORRID for ${model}. ` +
  "Allowed data types are TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32 and TYPE_STRING");

/** A sequence batching (oldest) preferred batch size below 1. */
export const sequencePreferredSizeNotPositive = define("INVALID_ARG", (model: string) =>
  `sequence batching preferred batch size must be positive for ${model}`);

/** A sequence batching (oldest) preferred batch size above max_batch_size. */
export const sequencePreferredSizeTooLarge = define("INVALID_ARG", (model: string) =>
  `sequence batching preferred batch size must be <= max batch size for ${model}`);

/** A direct strategy's minimum_slot_utilization outside (0, 1]. */
export const slotUtilizationOutOfRange = define("INVALID_ARG", (model: string) =>
  `sequence batching minimum slot utilization must be in range (0.0, 1.0] for ${model}`);

/** A control input without a name. */
export const controlTensorUnnamed = define("INVALID_ARG", (model: string) =>
  `sequence batching control tensor must have a name for ${model}`);

/** A control tensor listed under more than one control input. */
export const controlTensorReused = define("INVALID_ARG", (tensor: string, model: string) =>
  `sequence batching control tensor '${tensor}' is specified for multiple control kinds for ${model}`);

/** A control kind given by more than one tensor. */
export const controlKindRepeated = define("INVALID_ARG", (kind: string, model: string) =>
  `sequence batching specifies multiple ${kind} tensors for ${model}`);

/** A CORRID control with a false/true pair. */
export const controlPairForbidden = define("INVALID_ARG", (kind: string, model: string) =>
  `sequence batching must not specify either ${PAIRS} or 'bool_false_true' for ${kind} for ${model}`);

/** A boolean control without a false/true pair. */
export const controlPairMissing = define("INVALID_ARG", (kind: string, model: string) =>
  `sequence batching must specify either ${PAIRS} or 'bool_false_true' for ${kind} for ${model}`);

/** A boolean control with more than one false/true pair. */
export const controlPairAmbiguous = define("INVALID_ARG", (kind: string, model: string) =>
  `sequence batching specifies more than one from ${PAIRS} and 'bool_false_true' for ${kind} for ${model}`);

/** A false/true pair with other than two entries. */
export const controlPairSize = define("INVALID_ARG", (field: string, kind: string, model: string) =>
  `sequence batching control '${field}' must have exactly 2 entries for ${kind} for ${model}`);

// ---------------------------------------------------------------------------------------------
// Inputs and outputs (ValidateModelIOConfig). Each but ioNameRepeated reaches the client through
// forModelIo, which appends " for <model>". `kind` is "input" or "output".

/** An input or output named twice (Triton lets it through; see config/rules.ts). */
export const ioNameRepeated = define("INVALID_ARG", (kind: string, name: string, model: string) =>
  `model ${kind} '${name}' is specified more than once for ${model}`);

/** An input or output without a name. */
export const ioNameMissing = define("INVALID_ARG", (kind: string) => `model ${kind} must specify 'name'`);

/** An input or output without a data_type. */
export const ioDataTypeMissing = define("INVALID_ARG", (kind: string, name: string) => `model ${kind} '${name}' must specify 'data_type'`);

/** An input or output without dims. */
export const ioDimsMissing = define("INVALID_ARG", (kind: string, name: string) => `model ${kind} '${name}' must specify 'dims'`);

/** An empty reshape in a model without a batch dimension (it would make a scalar). */
export const ioEmptyReshape = define("INVALID_ARG", (kind: string, name: string) =>
  `model ${kind} '${name}' cannot have empty reshape for non-batching model as scalar tensors are not supported`);

/** A dim below 1 that is not -1 (WILDCARD_DIM). */
export const ioDimInvalid = define("INVALID_ARG", (kind: string, name: string) =>
  `model ${kind} '${name}' dimension must be integer >= 1, or -1 to indicate a variable-size dimension`);

/** A reshape dim below 1 that is not -1 (WILDCARD_DIM). */
export const ioReshapeDimInvalid = define("INVALID_ARG", (kind: string, name: string) =>
  `model ${kind} '${name}' reshape dimensions must be integer >= 1, or -1 to indicate a variable-size dimension`);

/** A reshape with another element count than dims (or other counts between variable dims). */
export const ioReshapeSizeMismatch = define("INVALID_ARG", (kind: string, name: string) =>
  `model ${kind} '${name}' has different size for dims and reshape`);

/** A reshape with another number of variable dims than dims. */
export const ioReshapeVariableDims = define("INVALID_ARG", (kind: string, name: string) =>
  `model ${kind} '${name}' has different number of variable-size dimensions for dims and reshape`);

/** An NHWC or NCHW input without exactly 3 dims. */
export const ioFormatDims = define("INVALID_ARG", () => "model input NHWC/NCHW require 3 dims");

/** A shape tensor outside the TensorRT platform. */
export const shapeTensorNotTensorRt = define("INVALID_ARG", () => "shape tensors are only supported for TensorRT platform");

/** A non-linear IO format outside the TensorRT platform. */
export const nonLinearFormatNotTensorRt = define("INVALID_ARG", () =>
  "Non-linear IO format is only supported for the TensorRT platform");

/** A non-linear IO format without exactly 3 dims. */
export const nonLinearFormatDims = define("INVALID_ARG", (kind: string) => `Non-linear IO format ${kind} requires 3 dims`);

/** A batch input or output kind with other than one source input; `which` is "input" or "output". */
export const batchIoSourceCount = define("INVALID_ARG", (which: string, kind: string, count: number) =>
  `batch ${which} kind '${kind}' expects 1 source input, got ${count}`);

/** A batch input of another data type than TYPE_INT32 or TYPE_FP32. */
export const batchInputDataType = define("INVALID_ARG", () => "batch input data type must be TYPE_INT32 or TYPE_FP32");

/** A batch input or output whose source is not a model input. */
export const batchSourceUnknown = define("INVALID_ARG", (source: string) => `unknown source input name '${source}'`);

/** A batch output whose target is not a model output. */
export const batchTargetUnknown = define("INVALID_ARG", (target: string) => `unknown target output name '${target}'`);

/** A batch output target named twice. */
export const batchTargetRepeated = define("INVALID_ARG", (target: string) =>
  `target output name '${target}' can only be specified once`);

// ---------------------------------------------------------------------------------------------
// Instance groups (ValidateInstanceGroup).

/** A model left without instance groups. */
export const instanceGroupsMissing = define("INVALID_ARG", (model: string) =>
  `must specify one or more 'instance group's for ${model}`);

/** A KIND_CPU or KIND_MODEL group that lists GPUs. */
export const groupGpusForbidden = define("INVALID_ARG", (group: string, model: string, kind: string) =>
  `${groupOf(group, model)} has kind ${kind} but specifies one or more GPUs`);

/** A KIND_GPU group on a server that manages GPUs and has none. */
export const groupNoGpusAvailable = define("INVALID_ARG", (group: string, model: string) =>
  `${groupOf(group, model)} has kind KIND_GPU but no GPUs are available`);

/** A KIND_GPU group without GPUs. */
export const groupNoGpus = define("INVALID_ARG", (group: string, model: string) =>
  `${groupOf(group, model)} has kind KIND_GPU but specifies no GPUs`);

/** A GPU id the server does not use; `minCc` as Triton prints it (six decimals), `usable` the ids it does. */
export const groupGpuUnsupported = define("INVALID_ARG", (group: string, model: string, id: number, minCc: string, usable: readonly number[]) =>
  `${groupOf(group, model)} specifies invalid or unsupported gpu id ${id}. GPUs with at least the minimum required ` +
  `CUDA compute compatibility of ${minCc} are: ${usable.join(", ")}`);

/** A profile outside the TensorRT platform (Triton's text, missing space included). */
export const profileNotTensorRt = define("INVALID_ARG", (group: string, model: string, platform: string) =>
  `${groupOf(group, model)} and platform ${platform}specifies profile field which is only supported for TensorRT models`);

/** An empty profile name. */
export const profileEmpty = define("INVALID_ARG", () => "profile name must not be empty");

/** A profile that does not start with an integer (Triton's std::stoi failure). */
export const profileUnparsable = define("INVALID_ARG", (profile: string) => `unable to parse '${profile}': stoi`);

/** A negative profile. */
export const profileNegative = define("INVALID_ARG", (group: string, model: string, platform: string, profile: string) =>
  `${groupOf(group, model)} and platform ${platform} specifies invalid profile ${profile}. ` +
  "The field should contain the string representation of a non-negative integer.");

// ---------------------------------------------------------------------------------------------
// Ensembles (ValidateEnsembleSchedulingConfig; Triton's unbalanced quotes kept).

/** ensemble_scheduling in a model whose platform is not "ensemble". */
export const ensembleSchedulingMisplaced = define("INVALID_ARG", (model: string) =>
  `ensemble scheduling cannot be set for model '${model}' whose platform is not ensemble`);

/** An ensemble with instance groups. */
export const ensembleInstanceGroup = define("INVALID_ARG", (model: string) =>
  `instance group should not be specified for ensemble '${model}'`);

/** An ensemble with optimization settings. */
export const ensembleOptimization = define("INVALID_ARG", (model: string) =>
  `optimization should not be specified for ensemble '${model}'`);

/** An ensemble with model_warmup. */
export const ensembleWarmup = define("INVALID_ARG", (model: string) => `model_warmup can not be specified for ensemble '${model}'`);

/** An ensemble without steps. */
export const ensembleStepsMissing = define("INVALID_ARG", (model: string) => `must specify 'step' for ensemble '${model}'`);

/** A step without `field` ("model_name", "input_map" or "output_map"). */
export const ensembleStepFieldMissing = define("INVALID_ARG", (field: string, step: number, model: string) =>
  `must specify '${field}' in step ${step} of ensemble '${model}'`);

/** An ensemble tensor written by two output maps. */
export const ensembleTensorWrittenTwice = define("INVALID_ARG", (tensor: string, model: string, step: number) =>
  `ensemble tensor '${tensor}' can appear in an output map only once for ensemble '${model}' step ${step}`);

/** An ensemble input or output that no step uses; `kind` is "input" or "output" (Triton's stray quote). */
export const ensembleIoUnused = define("INVALID_ARG", (kind: string, tensor: string, model: string) =>
  `ensemble ${kind} '${tensor}' for ensemble ${model}' is not used`);

/** An ensemble output no step writes; `disconnected` is the first not-ready tensor upstream, if any. */
export const ensembleOutputNotWritten = define("INVALID_ARG", (model: string, output: string, disconnected?: string) =>
  `output '${output}' for ensemble '${model}' is not written` +
  (disconnected === undefined ? "" : `: at least one of its depending tensors, '${disconnected}', is not connected`));

/** An ensemble tensor that is never ready or that no step reads. */
export const ensembleTensorUnused = define("INVALID_ARG", (tensor: string, model: string) =>
  `ensemble tensor '${tensor}' is unused in ensemble '${model}'`);
