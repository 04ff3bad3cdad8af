import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ServerError } from "../../../src/errors/index.js";
import { parseConfigText } from "../../../src/config/parse.js";
import {
  configToJson,
  isStubBackend,
  tensorShapeForMetadata,
  validateModelConfig,
  type ModelConfig,
} from "../../../src/config/schema.js";

const fixture = (path: string) => fileURLToPath(new URL(`../../fixtures/configs/${path}`, import.meta.url));
const load = (path: string, modelName: string): ModelConfig => {
  const file = fixture(path);
  return validateModelConfig(parseConfigText(readFileSync(file, "utf8"), file), { modelName, file });
};
const fromText = (text: string, modelName = "m", gpus?: number[]): ModelConfig =>
  validateModelConfig(parseConfigText(text, "config.pbtxt"), { modelName, gpus });

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ServerError);
    expect((err as ServerError).code).toBe("INVALID_ARG");
    return (err as ServerError).message;
  }
  throw new Error("expected a ServerError, nothing was thrown");
}

const IO = 'input [{ name: "x" data_type: TYPE_FP32 dims: [ 2 ] }] output [{ name: "y" data_type: TYPE_FP32 dims: [ 2 ] }]';

describe("validateModelConfig: complete config of a loaded model", () => {
  it("add_sub: every default filled as Triton does", () => {
    const cfg = load("valid/add_sub.pbtxt", "add_sub");
    const tensor = { format: "FORMAT_NONE", is_shape_tensor: false, allow_ragged_batch: false, optional: false, is_non_linear_format_io: false };
    const out = { label_filename: "", is_shape_tensor: false, is_non_linear_format_io: false };
    expect(cfg).toEqual({
      name: "add_sub",
      platform: "",
      backend: "python",
      runtime: "",
      version_policy: { latest: { num_versions: 1 } },
      max_batch_size: 0,
      input: [
        { name: "INPUT0", data_type: "TYPE_FP32", dims: [4], ...tensor },
        { name: "INPUT1", data_type: "TYPE_FP32", dims: [4], ...tensor },
      ],
      output: [
        { name: "OUTPUT0", data_type: "TYPE_FP32", dims: [4], ...out },
        { name: "OUTPUT1", data_type: "TYPE_FP32", dims: [4], ...out },
      ],
      batch_input: [],
      batch_output: [],
      optimization: {
        priority: "PRIORITY_DEFAULT",
        input_pinned_memory: { enable: true },
        output_pinned_memory: { enable: true },
        gather_kernel_buffer_threshold: 0,
        eager_batching: false,
      },
      instance_group: [
        { name: "add_sub_0", kind: "KIND_CPU", count: 1, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: "" },
      ],
      default_model_filename: "",
      cc_model_filenames: {},
      metric_tags: {},
      parameters: {},
      model_warmup: [],
      model_transaction_policy: { decoupled: false },
    });
  });

  it("onnx: backend and default_model_filename follow the platform; explicit values are kept", () => {
    const cfg = load("valid/densenet_onnx.pbtxt", "densenet_onnx");
    expect(cfg.backend).toBe("onnxruntime");
    expect(cfg.default_model_filename).toBe("model.onnx");
    expect(cfg.instance_group).toMatchObject([{ name: "densenet_onnx_0", kind: "KIND_CPU", count: 2 }]);
    expect(cfg.dynamic_batching).toEqual({
      preferred_batch_size: [4, 8],
      max_queue_delay_microseconds: 100,
      preserve_ordering: false,
      priority_levels: 2,
      default_priority_level: 2,
      default_queue_policy: { timeout_action: "REJECT", default_timeout_microseconds: 50000, allow_timeout_override: true, max_queue_size: 16 },
      priority_queue_policy: { "1": { timeout_action: "DELAY", default_timeout_microseconds: 1000, allow_timeout_override: false, max_queue_size: 4 } },
    });
    expect(cfg.optimization?.execution_accelerators?.cpu_execution_accelerator).toEqual([{ name: "openvino", parameters: {} }]);
    expect(cfg.parameters).toEqual({ intra_op_thread_count: { string_value: "2" } });
  });

  it("ensemble: no instance group or optimization is added", () => {
    const cfg = load("valid/ensemble_model.pbtxt", "ensemble_model");
    expect(cfg.instance_group).toEqual([]);
    expect(cfg.optimization).toBeUndefined();
    expect(cfg.ensemble_scheduling?.step.map((s) => s.model_name)).toEqual([
      "image_preprocess_model", "classification_model", "segmentation_model",
    ]);
  });

  it("sequence batcher: explicit idle time kept, stub alias backend kept as written", () => {
    const cfg = load("valid/simple_sequence.pbtxt", "simple_sequence");
    expect(cfg.backend).toBe("ts");
    expect(cfg.sequence_batching?.max_sequence_idle_microseconds).toBe(5000000);
    expect(cfg.sequence_batching?.oldest?.preferred_batch_size).toEqual([2, 4]);
    expect(cfg.sequence_batching?.state[0]?.initial_state[0]?.zero_data).toBe(true);
  });

  it("default instance group: one group named after the model, KIND_CPU, count 1 (2 for onnxruntime)", () => {
    expect(fromText(`backend: "python" ${IO}`).instance_group).toEqual([
      { name: "m", kind: "KIND_CPU", count: 1, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: "" },
    ]);
    expect(fromText(`platform: "onnxruntime_onnx" ${IO}`).instance_group).toMatchObject([{ name: "m", kind: "KIND_CPU", count: 2 }]);
  });

  it("unnamed groups are '<model>_<index>'; count < 1 becomes the default", () => {
    const cfg = fromText(`backend: "python" ${IO} instance_group [{ name: "a" count: 3 kind: KIND_CPU }, { count: 0 kind: KIND_CPU }, { kind: KIND_MODEL }]`);
    expect(cfg.instance_group.map((g) => [g.name, g.kind, g.count])).toEqual([
      ["a", "KIND_CPU", 3], ["m_1", "KIND_CPU", 1], ["m_2", "KIND_MODEL", 1],
    ]);
  });

  it("with known GPUs: KIND_AUTO resolves to KIND_GPU on all of them", () => {
    const cfg = fromText(`backend: "python" ${IO}`, "m", [1, 0]);
    expect(cfg.instance_group).toMatchObject([{ name: "m", kind: "KIND_GPU", count: 1, gpus: [0, 1] }]);
    // A listed GPU that does not exist makes KIND_AUTO fall back to CPU, which then may not list GPUs.
    expect(messageOf(() => fromText(`backend: "python" ${IO} instance_group [{ gpus: [ 3 ] }]`, "m", [0]))).toBe(
      "instance group m_0 of model m has kind KIND_CPU but specifies one or more GPUs",
    );
  });

  it("fills Triton's dependent defaults", () => {
    const db = fromText(`backend: "python" max_batch_size: 16 ${IO} dynamic_batching {}`);
    expect(db.dynamic_batching?.preferred_batch_size).toEqual([16]);
    const db0 = fromText(`backend: "python" ${IO} dynamic_batching {}`);
    expect(db0.dynamic_batching?.preferred_batch_size).toEqual([]);
    const sb = fromText(`backend: "python" max_batch_size: 2 ${IO} sequence_batching { oldest {} }`);
    expect(sb.sequence_batching?.max_sequence_idle_microseconds).toBe(1000000);
    expect(sb.sequence_batching?.oldest?.preferred_batch_size).toEqual([2]);
    const named = validateModelConfig({ backend: "python" }, { modelName: "from_folder" });
    expect(named.name).toBe("from_folder");
    const pt = fromText(`platform: "pytorch_libtorch" ${IO}`);
    // Triton fills pytorch's file name only together with the platform.
    expect([pt.backend, pt.default_model_filename]).toEqual(["pytorch", ""]);
    const ptb = fromText(`backend: "pytorch" ${IO}`);
    expect([ptb.platform, ptb.default_model_filename]).toEqual(["pytorch_libtorch", "model.pt"]);
    const trt = fromText(`backend: "tensorrt" ${IO}`);
    expect([trt.platform, trt.default_model_filename]).toEqual(["tensorrt_plan", "model.plan"]);
  });

  it("leaves its input untouched", () => {
    const raw = parseConfigText(`backend: "python" max_batch_size: 4 ${IO} dynamic_batching {}`, "c");
    const before = structuredClone(raw);
    validateModelConfig(raw, { modelName: "m" });
    expect(raw).toEqual(before);
  });

  it("accepts objects built by code, with int64 as JSON strings", () => {
    const cfg = validateModelConfig(
      { name: "m", backend: "ts", input: [{ name: "x", data_type: "TYPE_FP32", dims: ["-1", "3"] }] },
      { modelName: "m" },
    );
    expect(cfg.input[0]?.dims).toEqual([-1, 3]);
    expect(messageOf(() => validateModelConfig({ name: "m", max_batch_size: "lots" }, { modelName: "m", file: "/r/m/config.pbtxt" }))).toMatch(
      /^invalid model configuration for 'm' \(\/r\/m\/config\.pbtxt\): max_batch_size: /,
    );
  });
});

describe("validateModelConfig: Triton's rules and messages", () => {
  it("fixtures", () => {
    expect(messageOf(() => load("invalid/zero_dim.pbtxt", "zero_dim"))).toBe(
      "model input 'INPUT0' dimension must be integer >= 1, or -1 to indicate a variable-size dimension for zero_dim",
    );
    expect(messageOf(() => load("invalid/preferred_too_big.pbtxt", "preferred_too_big"))).toBe(
      "dynamic batching preferred size must be <= max batch size for preferred_too_big",
    );
    expect(messageOf(() => load("invalid/no_backend.pbtxt", "no_backend"))).toBe(
      "must specify 'platform' or 'backend' for 'no_backend'",
    );
    expect(messageOf(() => load("invalid/name_mismatch.pbtxt", "name_mismatch"))).toBe(
      "unexpected directory name 'name_mismatch' for model 'some_other_name', directory name must equal model name",
    );
  });

  it.each([
    [`platform: "caffe2" ${IO}`, "unexpected platform type 'caffe2' for m"],
    [`platform: "tensorrt_plan" backend: "onnxruntime" ${IO}`, "unexpected 'platform' and 'backend' pair, got:tensorrt_plan, onnxruntime"],
    [`platform: "ensemble" backend: "python" ${IO}`, "Ensemble model 'm' must have platform type 'ensemble' and empty backend type"],
    [`backend: "python" max_batch_size: -1 ${IO}`, "'max_batch_size' must be non-negative value for m"],
    [`backend: "python" max_batch_size: 4 ${IO} dynamic_batching { preferred_batch_size: [ 0 ] }`, "dynamic batching preferred size must be positive for m"],
    [`backend: "python" ${IO} dynamic_batching { preferred_batch_size: [ 2 ] }`, "dynamic batching preferred size must be <= max batch size for m"],
    [`backend: "python" max_batch_size: 4 ${IO} dynamic_batching { priority_levels: 2 default_priority_level: 3 }`, "default priority level must be in range [1, 2] for m"],
    [`backend: "python" max_batch_size: 4 ${IO} dynamic_batching { priority_levels: 2 }`, "default priority level must be in range [1, 2] for m"],
    [`backend: "python" max_batch_size: 4 ${IO} dynamic_batching { priority_levels: 2 default_priority_level: 1 priority_queue_policy { key: 5 value {} } }`, "priority queue policy must have priority level in range [1, 2] for m"],
    [`backend: "python" max_batch_size: 4 ${IO} dynamic_batching { preserve_ordering: true default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 10 } }`, "Queue policy can not have DELAY as timeout action when 'preserve_ordering' is true for m"],
    [`backend: "python" input [{ name: "x" dims: [ 2 ] }]`, "model input 'x' must specify 'data_type' for m"],
    [`backend: "python" input [{ name: "x" data_type: TYPE_FP32 }]`, "model input 'x' must specify 'dims' for m"],
    [`backend: "python" output [{ data_type: TYPE_FP32 dims: [ 1 ] }]`, "model output must specify 'name' for m"],
    [`backend: "python" output [{ name: "y" data_type: TYPE_FP32 dims: [ -2 ] }]`, "model output 'y' dimension must be integer >= 1, or -1 to indicate a variable-size dimension for m"],
    [`backend: "python" input [{ name: "x" data_type: TYPE_FP32 dims: [ 2, 3 ] reshape { shape: [ 5 ] } }]`, "model input 'x' has different size for dims and reshape for m"],
    [`backend: "python" input [{ name: "x" data_type: TYPE_FP32 dims: [ 2, -1 ] reshape { shape: [ -1, 2 ] } }]`, "model input 'x' has different size for dims and reshape for m"],
    [`backend: "python" input [{ name: "x" data_type: TYPE_FP32 dims: [ 2, -1, 3 ] reshape { shape: [ 2, -1 ] } }]`, "model input 'x' has different size for dims and reshape for m"],
    [`backend: "python" input [{ name: "x" data_type: TYPE_FP32 dims: [ 1 ] reshape { } }]`, "model input 'x' cannot have empty reshape for non-batching model as scalar tensors are not supported for m"],
    [`backend: "python" input [{ name: "x" data_type: TYPE_FP32 format: FORMAT_NHWC dims: [ 2 ] }]`, "model input NHWC/NCHW require 3 dims for m"],
    [`backend: "python" input [{ name: "x" data_type: TYPE_INT32 dims: [ 1 ] is_shape_tensor: true }]`, "shape tensors are only supported for TensorRT platform for m"],
    [`backend: "python" input [{ name: "x" data_type: TYPE_FP32 dims: [ 2 ] }, { name: "x" data_type: TYPE_FP32 dims: [ 2 ] }]`, "model input 'x' is specified more than once for m"],
    [`backend: "python" output [{ name: "y" data_type: TYPE_FP32 dims: [ 2 ] }, { name: "y" data_type: TYPE_INT8 dims: [ 2 ] }]`, "model output 'y' is specified more than once for m"],
    [`backend: "python" ${IO} instance_group [{ kind: KIND_CPU gpus: [ 0 ] }]`, "instance group m_0 of model m has kind KIND_CPU but specifies one or more GPUs"],
    [`backend: "python" ${IO} instance_group [{ name: "g" kind: KIND_CPU profile: "0" }]`, "instance group g of model m and platform specifies profile field which is only supported for TensorRT models"],
    [`backend: "python" model_transaction_policy { decoupled: true } response_cache { enable: true } ${IO}`, "Response Cache does not currently support model m with 'decoupled' transaction policy. Please disable the response cache."],
    [`backend: "python" max_batch_size: 2 ${IO} sequence_batching { direct { minimum_slot_utilization: 1.5 } }`, "sequence batching minimum slot utilization must be in range (0.0, 1.0] for m"],
    [`backend: "python" max_batch_size: 2 ${IO} sequence_batching { oldest { preferred_batch_size: [ 4 ] } }`, "sequence batching preferred batch size must be <= max batch size for m"],
    [`backend: "python" ${IO} sequence_batching { control_input [{ name: "S" control [{ kind: CONTROL_SEQUENCE_START }] }] }`, "sequence batching must specify either 'int32_false_true', 'fp32_false_true' or 'bool_false_true' for CONTROL_SEQUENCE_START for m"],
    [`backend: "python" ${IO} sequence_batching { control_input [{ name: "S" control [{ kind: CONTROL_SEQUENCE_END int32_false_true: [ 0 ] }] }] }`, "sequence batching control 'int32_false_true' must have exactly 2 entries for CONTROL_SEQUENCE_END for m"],
    [`backend: "python" ${IO} sequence_batching { control_input [{ name: "C" control [{ kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_FP32 }] }] }`, "unexpected data type for control CONTROL_SEQUENCE_CORRID for m. Allowed data types are TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32 and TYPE_STRING"],
    [`backend: "python" ${IO} sequence_batching { control_input [{ name: "S" control [{ kind: CONTROL_SEQUENCE_START int32_false_true: [0, 1] }] }, { name: "S" }] }`, "sequence batching control tensor 'S' is specified for multiple control kinds for m"],
  ])("%s", (text, message) => {
    expect(messageOf(() => fromText(text))).toBe(message);
  });

  it("dynamic batching with max_batch_size 0 is accepted (Triton lets the batcher run without batching)", () => {
    expect(fromText(`backend: "python" ${IO} dynamic_batching { max_queue_delay_microseconds: 10 }`).dynamic_batching).toBeDefined();
  });

  it("KIND_GPU is checked only when the GPU list is known", () => {
    const text = `backend: "python" ${IO} instance_group [{ kind: KIND_GPU }]`;
    expect(fromText(text).instance_group).toMatchObject([{ kind: "KIND_GPU", gpus: [] }]);
    expect(messageOf(() => fromText(text, "m", []))).toBe("instance group m_0 of model m has kind KIND_GPU but no GPUs are available");
    expect(messageOf(() => fromText(`backend: "python" ${IO} instance_group [{ kind: KIND_GPU gpus: [ 2 ] }]`, "m", [0, 1]))).toBe(
      "instance group m_0 of model m specifies invalid or unsupported gpu id 2. GPUs with at least the minimum required CUDA compute compatibility of 6.000000 are: 0, 1",
    );
  });

  it("ensemble data flow", () => {
    const ens = (steps: string, extra = "") =>
      `platform: "ensemble" ${extra} input [{ name: "IN" data_type: TYPE_FP32 dims: [ 1 ] }] output [{ name: "OUT" data_type: TYPE_FP32 dims: [ 1 ] }] ensemble_scheduling { ${steps} }`;
    const step = (model: string, from: string, to: string) =>
      `step { model_name: "${model}" model_version: -1 input_map { key: "i" value: "${from}" } output_map { key: "o" value: "${to}" } }`;
    expect(fromText(ens(step("a", "IN", "t") + step("b", "t", "OUT"))).ensemble_scheduling?.step).toHaveLength(2);
    expect(messageOf(() => fromText(ens("")))).toBe("must specify 'step' for ensemble 'm'");
    expect(messageOf(() => fromText(ens(step("a", "IN", "t"))))).toBe("ensemble output 'OUT' for ensemble m' is not used");
    expect(messageOf(() => fromText(ens(step("a", "X", "OUT"))))).toBe("ensemble input 'IN' for ensemble m' is not used");
    expect(messageOf(() => fromText(ens(step("a", "IN", "OUT") + step("b", "IN", "z"))))).toBe(
      "ensemble tensor 'z' is unused in ensemble 'm'",
    );
    expect(messageOf(() => fromText(ens(step("a", "IN", "OUT") + step("b", "u", "t") + step("c", "t", "u"))))).toMatch(
      /^ensemble tensor '[tu]' is unused in ensemble 'm'$/,
    );
    expect(messageOf(() => fromText(ens(step("a", "IN", "t") + step("b", "t", "t"))))).toBe(
      "ensemble tensor 't' can appear in an output map only once for ensemble 'm' step 1",
    );
    expect(messageOf(() => fromText(ens(`${step("a", "IN", "t")} step { model_name: "b" model_version: -1 input_map [{ key: "i" value: "t" }, { key: "j" value: "v" }] output_map { key: "o" value: "OUT" } }`)))).toBe(
      "output 'OUT' for ensemble 'm' is not written: at least one of its depending tensors, 'v', is not connected",
    );
    expect(messageOf(() => fromText(ens(step("a", "IN", "OUT"), "instance_group [{ kind: KIND_CPU }]")))).toBe(
      "instance group should not be specified for ensemble 'm'",
    );
    expect(messageOf(() => fromText(`backend: "python" ${IO} ensemble_scheduling { ${step("a", "x", "y")} }`))).toBe(
      "ensemble scheduling cannot be set for model 'm' whose platform is not ensemble",
    );
  });
});

describe("configToJson: Triton's GET /v2/models/{m}/config", () => {
  it("add_sub prints every field, in .proto order, int64 dims as numbers", () => {
    const json = configToJson(load("valid/add_sub.pbtxt", "add_sub"));
    expect(Object.keys(json)).toEqual([
      "name", "platform", "backend", "runtime", "version_policy", "max_batch_size", "input", "output",
      "batch_input", "batch_output", "optimization", "instance_group", "default_model_filename",
      "cc_model_filenames", "metric_tags", "parameters", "model_warmup", "model_transaction_policy",
    ]);
    expect(json.input).toEqual([
      { name: "INPUT0", data_type: "TYPE_FP32", format: "FORMAT_NONE", dims: [4], is_shape_tensor: false, allow_ragged_batch: false, optional: false, is_non_linear_format_io: false },
      { name: "INPUT1", data_type: "TYPE_FP32", format: "FORMAT_NONE", dims: [4], is_shape_tensor: false, allow_ragged_batch: false, optional: false, is_non_linear_format_io: false },
    ]);
    expect(json.instance_group).toEqual([
      { name: "add_sub_0", kind: "KIND_CPU", count: 1, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: "" },
    ]);
    expect(json.optimization).toEqual({
      priority: "PRIORITY_DEFAULT", input_pinned_memory: { enable: true }, output_pinned_memory: { enable: true },
      gather_kernel_buffer_threshold: 0, eager_batching: false,
    });
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });

  it("prints the 64-bit fields Triton fixes as numbers and leaves the others as strings", () => {
    const dense = configToJson(load("valid/densenet_onnx.pbtxt", "densenet_onnx"));
    expect(dense.dynamic_batching).toEqual({
      preferred_batch_size: [4, 8],
      max_queue_delay_microseconds: 100,
      preserve_ordering: false,
      priority_levels: 2,
      default_priority_level: 2,
      default_queue_policy: { timeout_action: "REJECT", default_timeout_microseconds: 50000, allow_timeout_override: true, max_queue_size: 16 },
      priority_queue_policy: { "1": { timeout_action: "DELAY", default_timeout_microseconds: 1000, allow_timeout_override: false, max_queue_size: 4 } },
    });
    expect((dense.input as Array<Record<string, unknown>>)[0]?.reshape).toEqual({ shape: [1, 3, 224, 224] });

    const seq = configToJson(load("valid/simple_sequence.pbtxt", "simple_sequence")).sequence_batching as Record<string, any>;
    expect(seq.max_sequence_idle_microseconds).toBe(5000000);
    expect(seq.oldest.max_queue_delay_microseconds).toBe(100);
    expect(seq.state[0].dims).toEqual([1]);
    expect(seq.state[0].initial_state[0].dims).toEqual(["1"]); // Triton never fixes these
    expect(seq.state[0].initial_state[0].zero_data).toBe(true);
    expect(seq.state[0].initial_state[0]).not.toHaveProperty("data_file"); // unset oneof member
    expect(seq).not.toHaveProperty("direct");

    const ens = configToJson(load("valid/ensemble_model.pbtxt", "ensemble_model"));
    expect((ens.ensemble_scheduling as any).step[0].model_version).toBe(-1);
    expect(ens).not.toHaveProperty("optimization");
    expect(ens.instance_group).toEqual([]);

    const specific = configToJson(fromText(`backend: "python" ${IO} version_policy { specific { versions: [ 2, 5 ] } }`));
    expect(specific.version_policy).toEqual({ specific: { versions: [2, 5] } });
    const nvdla = configToJson(fromText(`backend: "python" ${IO} instance_group [{ kind: KIND_CPU secondary_devices [{ device_id: 3 }] }]`));
    expect((nvdla.instance_group as any)[0].secondary_devices).toEqual([{ kind: "KIND_NVDLA", device_id: "3" }]);
  });
});

describe("helpers", () => {
  it("tensorShapeForMetadata adds the batch dimension only for batching models", () => {
    expect(tensorShapeForMetadata({ max_batch_size: 8 }, { dims: [3, -1] })).toEqual([-1, 3, -1]);
    expect(tensorShapeForMetadata({ max_batch_size: 0 }, { dims: [3, -1] })).toEqual([3, -1]);
  });

  it("isStubBackend recognizes typescript and its aliases only", () => {
    expect(["typescript", "ts", "python"].map((backend) => isStubBackend({ backend }))).toEqual([true, true, true]);
    expect(["onnxruntime", "", "TypeScript"].map((backend) => isStubBackend({ backend }))).toEqual([false, false, false]);
  });
});
