import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ServerError } from "../../../src/errors/index.js";
import { configType, parseConfigJson, parseConfigText } from "../../../src/config/parse.js";

const fixture = (path: string) => fileURLToPath(new URL(`../../fixtures/configs/${path}`, import.meta.url));
const parseFixture = (path: string) => parseConfigText(readFileSync(fixture(path), "utf8"), fixture(path));

/** The thrown ServerError, so a test can check both code and message. */
function errorOf(fn: () => unknown): ServerError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ServerError);
    return err as ServerError;
  }
  throw new Error("expected a ServerError, nothing was thrown");
}

describe("model_config.proto", () => {
  it("defines Triton's field numbers", () => {
    const t = configType();
    const ids = Object.fromEntries(t.fieldsArray.map((f) => [f.name, f.id]));
    expect(ids).toMatchObject({
      name: 1, platform: 2, backend: 17, runtime: 25, version_policy: 3, max_batch_size: 4, input: 5,
      output: 6, batch_input: 20, batch_output: 21, optimization: 12, dynamic_batching: 11,
      sequence_batching: 13, ensemble_scheduling: 15, instance_group: 7, default_model_filename: 8,
      cc_model_filenames: 9, metric_tags: 10, parameters: 14, model_warmup: 16, model_operations: 18,
      model_transaction_policy: 19, model_repository_agents: 23, response_cache: 24,
    });
    const input = Object.fromEntries(configType("ModelInput").fieldsArray.map((f) => [f.name, f.id]));
    expect(input).toMatchObject({
      name: 1, data_type: 2, format: 3, dims: 4, reshape: 5, is_shape_tensor: 6, allow_ragged_batch: 7, optional: 8,
    });
    const group = Object.fromEntries(configType("ModelInstanceGroup").fieldsArray.map((f) => [f.name, f.id]));
    expect(group).toMatchObject({
      name: 1, kind: 4, count: 2, rate_limiter: 6, gpus: 3, secondary_devices: 8, profile: 5, passive: 7, host_policy: 9,
    });
    const dt = configType("ModelInput").fields.data_type!.resolve().resolvedType as unknown as {
      values: Record<string, number>;
    };
    expect(dt.values).toMatchObject({ TYPE_INVALID: 0, TYPE_BOOL: 1, TYPE_FP32: 11, TYPE_STRING: 13, TYPE_BF16: 14 });
  });
});

describe("parseConfigText: Triton's examples", () => {
  it("add_sub (python backend): repeated input blocks concatenate, absent fields stay absent", () => {
    expect(parseFixture("valid/add_sub.pbtxt")).toEqual({
      name: "add_sub",
      backend: "python",
      input: [
        { name: "INPUT0", data_type: "TYPE_FP32", dims: [4] },
        { name: "INPUT1", data_type: "TYPE_FP32", dims: [4] },
      ],
      output: [
        { name: "OUTPUT0", data_type: "TYPE_FP32", dims: [4] },
        { name: "OUTPUT1", data_type: "TYPE_FP32", dims: [4] },
      ],
      instance_group: [{ kind: "KIND_CPU" }],
    });
  });

  it("onnx model with dynamic batching, priorities and queue policies", () => {
    expect(parseFixture("valid/densenet_onnx.pbtxt")).toEqual({
      name: "densenet_onnx",
      platform: "onnxruntime_onnx",
      max_batch_size: 8,
      input: [
        {
          name: "data_0", data_type: "TYPE_FP32", format: "FORMAT_NCHW", dims: [3, 224, 224],
          reshape: { shape: [1, 3, 224, 224] },
        },
      ],
      output: [
        {
          name: "fc6_1", data_type: "TYPE_FP32", dims: [1000], reshape: { shape: [1, 1000, 1, 1] },
          label_filename: "densenet_labels.txt",
        },
      ],
      dynamic_batching: {
        preferred_batch_size: [4, 8],
        max_queue_delay_microseconds: 100,
        priority_levels: 2,
        default_priority_level: 2,
        default_queue_policy: {
          timeout_action: "REJECT", default_timeout_microseconds: 50000, allow_timeout_override: true, max_queue_size: 16,
        },
        priority_queue_policy: { "1": { timeout_action: "DELAY", default_timeout_microseconds: 1000, max_queue_size: 4 } },
      },
      instance_group: [{ count: 2, kind: "KIND_CPU" }],
      optimization: { execution_accelerators: { cpu_execution_accelerator: [{ name: "openvino" }] } },
      parameters: { intra_op_thread_count: { string_value: "2" } },
    });
  });

  it("ensemble: steps with input/output maps and model_version -1", () => {
    const cfg = parseFixture("valid/ensemble_model.pbtxt");
    expect(cfg.platform).toBe("ensemble");
    expect(cfg.ensemble_scheduling).toEqual({
      step: [
        {
          model_name: "image_preprocess_model", model_version: -1,
          input_map: { RAW_IMAGE: "IMAGE" }, output_map: { PREPROCESSED_OUTPUT: "preprocessed_image" },
        },
        {
          model_name: "classification_model", model_version: -1,
          input_map: { FORMATTED_IMAGE: "preprocessed_image" }, output_map: { CLASSIFICATION_OUTPUT: "CLASSIFICATION" },
        },
        {
          model_name: "segmentation_model", model_version: -1,
          input_map: { FORMATTED_IMAGE: "preprocessed_image" }, output_map: { SEGMENTATION_OUTPUT: "SEGMENTATION" },
        },
      ],
    });
    expect(cfg.output).toEqual([
      { name: "CLASSIFICATION", data_type: "TYPE_FP32", dims: [1000] },
      { name: "SEGMENTATION", data_type: "TYPE_FP32", dims: [3, 224, 224] },
    ]);
  });

  it("sequence batcher: oldest strategy, control inputs, implicit state", () => {
    expect(parseFixture("valid/simple_sequence.pbtxt").sequence_batching).toEqual({
      max_sequence_idle_microseconds: 5000000,
      oldest: { max_candidate_sequences: 4, preferred_batch_size: [2, 4], max_queue_delay_microseconds: 100 },
      control_input: [
        { name: "START", control: [{ kind: "CONTROL_SEQUENCE_START", fp32_false_true: [0, 1] }] },
        { name: "READY", control: [{ kind: "CONTROL_SEQUENCE_READY", fp32_false_true: [0, 1] }] },
        { name: "CORRID", control: [{ kind: "CONTROL_SEQUENCE_CORRID", data_type: "TYPE_UINT64" }] },
      ],
      state: [
        {
          input_name: "INPUT_STATE", output_name: "OUTPUT_STATE", data_type: "TYPE_INT32", dims: [1],
          initial_state: [{ data_type: "TYPE_INT32", dims: [1], zero_data: true, name: "initial state" }],
        },
      ],
    });
  });

  it("accepts the text format's spellings: comments, ':' before messages, ';' and ',' separators, <>", () => {
    const text = [
      "# comment",
      'name: "m"; backend: "python",',
      "version_policy: < specific { versions: 1 versions: 3 } >",
      "input: { name: 'a' data_type: TYPE_INT64 dims: -1 dims: 2 }",
      "model_transaction_policy { decoupled: true }",
    ].join("\n");
    expect(parseConfigText(text, "inline.pbtxt")).toEqual({
      name: "m",
      backend: "python",
      version_policy: { specific: { versions: [1, 3] } },
      input: [{ name: "a", data_type: "TYPE_INT64", dims: [-1, 2] }],
      model_transaction_policy: { decoupled: true },
    });
  });

  it("keeps an explicitly written default value (presence is information)", () => {
    expect(parseConfigText("max_batch_size: 0", "f")).toEqual({ max_batch_size: 0 });
    expect(parseConfigText("", "f")).toEqual({});
  });
});

describe("parseConfigText: errors name file and line", () => {
  it("syntax error", () => {
    const file = fixture("invalid/syntax_error.pbtxt");
    const err = errorOf(() => parseFixture("invalid/syntax_error.pbtxt"));
    expect(err.code).toBe("INVALID_ARG");
    expect(err.message).toBe(`failed to parse ${file}:9: expected a field name, got ']'`);
  });

  it("unknown field", () => {
    const file = fixture("invalid/unknown_field.pbtxt");
    expect(errorOf(() => parseFixture("invalid/unknown_field.pbtxt")).message).toBe(
      `failed to parse ${file}:7: unknown field "foo" in inference.ModelInput`,
    );
  });

  it("bad enum name, located although protobufjs reports no line", () => {
    const file = fixture("invalid/bad_enum.pbtxt");
    const msg = errorOf(() => parseFixture("invalid/bad_enum.pbtxt")).message;
    expect(msg).toMatch(
      new RegExp(`^failed to parse ${file}:6: invalid value "TYPE_FLOAT32" for inference\\.ModelInput\\.data_type, expected one of TYPE_INVALID, TYPE_BOOL, `),
    );
    expect(msg).toContain("TYPE_BF16");
  });

  it("value errors on later lines", () => {
    expect(errorOf(() => parseConfigText('name: "a"\n\nmax_batch_size: "x"', "c.pbtxt")).message).toBe(
      "failed to parse c.pbtxt:3: integer value expected",
    );
    expect(errorOf(() => parseConfigText('name: "a"\nbackend: "b"\nname: "c"', "c.pbtxt")).message).toBe(
      "failed to parse c.pbtxt:3: field inference.ModelConfig.name is specified more than once",
    );
    expect(errorOf(() => parseConfigText("dynamic_batching {}\nsequence_batching {}", "c.pbtxt")).message).toBe(
      "failed to parse c.pbtxt:2: only one of the fields in oneof 'scheduling_choice' may be set",
    );
    expect(errorOf(() => parseConfigText("\nmax_batch_size: 4294967296", "c.pbtxt")).message).toBe(
      "failed to parse c.pbtxt:2: integer value out of range",
    );
  });

  it("unterminated message reports end of input", () => {
    expect(errorOf(() => parseConfigText('input {\n  name: "a"\n', "c.pbtxt")).message).toMatch(
      /^failed to parse c\.pbtxt:3: expected '}'$/,
    );
  });
});

describe("parseConfigJson (load override)", () => {
  it("accepts snake_case and lowerCamel names, int64 as strings, enums in any case", () => {
    const cfg = parseConfigJson(
      JSON.stringify({
        name: "m",
        backend: "python",
        maxBatchSize: 4,
        input: [{ name: "x", data_type: "type_fp32", dims: ["-1", 3] }],
        instance_group: [{ kind: "kind_cpu", count: 2 }],
        dynamic_batching: {
          max_queue_delay_microseconds: "500",
          priority_queue_policy: { "2": { timeout_action: "delay", default_timeout_microseconds: "7" } },
        },
        parameters: { k: { string_value: "v" } },
      }),
    );
    expect(cfg).toEqual({
      name: "m",
      backend: "python",
      max_batch_size: 4,
      input: [{ name: "x", data_type: "TYPE_FP32", dims: [-1, 3] }],
      instance_group: [{ kind: "KIND_CPU", count: 2 }],
      dynamic_batching: {
        max_queue_delay_microseconds: 500,
        priority_queue_policy: { "2": { timeout_action: "DELAY", default_timeout_microseconds: 7 } },
      },
      parameters: { k: { string_value: "v" } },
    });
  });

  it("rejects unknown fields, bad values and malformed JSON with INVALID_ARG", () => {
    const unknown = errorOf(() => parseConfigJson('{"name":"m","foo":1}'));
    expect(unknown.code).toBe("INVALID_ARG");
    expect(unknown.message).toBe('Invalid config override: inference.ModelConfig: unknown field: "foo"');
    expect(errorOf(() => parseConfigJson('{"input":[{"data_type":"TYPE_NOPE"}]}')).message).toMatch(
      /^Invalid config override: inference\.ModelInput\.data_type: unknown enum value/,
    );
    expect(errorOf(() => parseConfigJson("{name:")).message).toMatch(/^Invalid config override: /);
  });
});
