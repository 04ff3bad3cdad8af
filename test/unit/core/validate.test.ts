import { describe, expect, it } from "vitest";
import { validateModelConfig } from "../../../src/config/schema.js";
import { validateRequest } from "../../../src/core/validate.js";
import { classify } from "../../../src/core/classification.js";
import { decodeBytesElements } from "../../../src/ipc/datatypes.js";
import type { CoreRequest, CoreTensor } from "../../../src/core/types.js";

const cfg = (extra: Record<string, unknown> = {}) => validateModelConfig({
  name: "m", backend: "python",
  input: [
    { name: "A", data_type: "TYPE_FP32", dims: [4] },
    { name: "B", data_type: "TYPE_INT64", dims: [-1] },
    { name: "C", data_type: "TYPE_STRING", dims: [1], optional: true },
  ],
  output: [{ name: "Y", data_type: "TYPE_FP32", dims: [4] }],
  ...extra,
}, { modelName: "m" });

const t = (name: string, datatype: CoreTensor["datatype"], shape: number[], bytes: number): CoreTensor =>
  ({ name, datatype, shape, data: new Uint8Array(bytes) });
const req = (inputs: CoreTensor[], extra: Partial<CoreRequest> = {}): CoreRequest =>
  ({ model: "m", id: "", inputs, parameters: {}, ...extra });

describe("validateRequest", () => {
  const ok = [t("A", "FP32", [4], 16), t("B", "INT64", [3], 24)];

  it("accepts a valid request, with optional inputs left out", () => {
    expect(validateRequest(req(ok), cfg())).toBe(1);
  });

  it("rejects with Triton's texts", () => {
    const c = cfg();
    expect(() => validateRequest(req([ok[0]]), c)).toThrow(
      "[request id: <id_unknown>] expected number of inputs between 2 and 3 but got 1 inputs for model 'm'. Got input(s) ['A'], but missing required input(s) ['B']. Please provide all required input(s).");
    expect(() => validateRequest(req([...ok, t("Z", "FP32", [1], 4)]), c)).toThrow("[request id: <id_unknown>] unexpected inference input 'Z' for model 'm'");
    expect(() => validateRequest(req([t("A", "FP64", [4], 32), ok[1]]), c)).toThrow("inference input 'A' data-type is 'FP64', but model 'm' expects 'FP32'");
    expect(() => validateRequest(req([t("A", "FP32", [3], 12), ok[1]], { id: "r7" }), c)).toThrow("[request id: r7] unexpected shape for input 'A' for model 'm'. Expected [4], got [3]");
    expect(() => validateRequest(req([t("A", "FP32", [4], 12), ok[1]]), c)).toThrow("input byte size mismatch for input 'A' for model 'm'. Expected 16, got 12");
    expect(() => validateRequest(req(ok, { outputs: [{ name: "Q" }] }), c)).toThrow("unexpected inference output 'Q' for model 'm'");
  });

  it("checks the batch dimension when the model batches", () => {
    const c = cfg({ max_batch_size: 8 });
    expect(validateRequest(req([t("A", "FP32", [2, 4], 32), t("B", "INT64", [2, 5], 80)]), c)).toBe(2);
    expect(() => validateRequest(req([t("A", "FP32", [9, 4], 144), t("B", "INT64", [9, 1], 72)]), c)).toThrow(
      "inference request batch-size must be <= 8 for 'm'");
    expect(() => validateRequest(req([t("A", "FP32", [2, 4], 32), t("B", "INT64", [3, 1], 24)]), c)).toThrow(/batch size does not match/);
    expect(() => validateRequest(req([t("A", "FP32", [4], 16), t("B", "INT64", [4, 1], 32)]), c)).toThrow("Expected [-1,4], got [4]");
    // Every input's batch dimension comes before any input's datatype or shape (Triton's order).
    expect(() => validateRequest(req([t("A", "FP64", [2, 4], 64), t("B", "INT64", [3, 1], 24)]), c)).toThrow(/batch size does not match/);
  });
});

describe("classify", () => {
  it("returns the top N as value:index:label, per batch row, highest first", () => {
    const scores = new Float32Array([0.1, 0.7, 0.2, 0.5, 0.25, 0.25]);
    const out = classify({ name: "Y", datatype: "FP32", shape: [2, 3], data: new Uint8Array(scores.buffer) }, 2, true, ["cat", "dog", "eel"]);
    expect(out.shape).toEqual([2, 2]);
    const text = decodeBytesElements(out.data)!.map((e) => new TextDecoder().decode(e));
    // Triton prints values as std::to_string does: six decimals.
    expect(text).toEqual(["0.700000:1:dog", "0.200000:2:eel", "0.500000:0:cat", "0.250000:1:dog"]);
  });

  it("omits the label without a label file", () => {
    const out = classify({ name: "Y", datatype: "INT32", shape: [3], data: new Uint8Array(new Int32Array([3, 9, 1]).buffer) }, 1, false, null);
    expect(decodeBytesElements(out.data)!.map((e) => new TextDecoder().decode(e))).toEqual(["9:1"]) // integers print exactly;
  });
});

describe("validateRequest: requested outputs", () => {
  it("refuses an output asked for twice, with Triton's text", () => {
    const c = cfg();
    const inputs = [t("A", "FP32", [4], 16), t("B", "INT64", [3], 24)];
    expect(validateRequest(req(inputs, { outputs: [{ name: "Y" }] }), c)).toBe(1);
    expect(() => validateRequest(req(inputs, { outputs: [{ name: "Y" }, { name: "Y" }] }), c))
      .toThrow("[request id: <id_unknown>] output 'Y' already exists in request");
    expect(() => validateRequest(req(inputs, { id: "r1", outputs: [{ name: "Y" }, { name: "Y", classification: 1 }] }), c))
      .toThrow("[request id: r1] output 'Y' already exists in request");
  });
});

describe("classify: Triton's kMaxClassificationElements", () => {
  const tensor = (datatype: "FP32" | "FP16" | "BOOL" | "BYTES", count: number, size: number) =>
    ({ name: "Y", datatype, shape: [count], data: new Uint8Array(count * size) }) as CoreTensor;
  const thrown = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return [(e as { code: string }).code, (e as Error).message];
    }
    return null;
  };

  it("classifies 1 000 000 elements and refuses 1 000 001 with Triton's text, INVALID_ARG", () => {
    expect(classify(tensor("FP32", 1_000_000, 4), 1, false, null).shape).toEqual([1]);
    expect(thrown(() => classify(tensor("FP32", 1_000_001, 4), 1, false, null))).toEqual(["INVALID_ARG", "classification output tensor too large"]);
  });

  it("checks the size before the other unclassifiable types, after BYTES, in Triton's order", () => {
    expect(thrown(() => classify(tensor("FP16", 1_000_001, 2), 1, false, null))).toEqual(["INVALID_ARG", "classification output tensor too large"]);
    expect(thrown(() => classify(tensor("BOOL", 3, 1), 1, false, null))?.[1]).toBe("class result not available for output due to unsupported type 'BOOL'");
    expect(thrown(() => classify(tensor("BYTES", 1_000_001, 4), 1, false, null))?.[1]).toBe("class result not available for output due to unsupported type 'BYTES'");
  });
});
