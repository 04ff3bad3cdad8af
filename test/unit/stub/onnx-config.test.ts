import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { autoCompleteFromOnnx, checkConfigAgainstOnnx, type OnnxModelIo } from "../../../stub/builtin/onnx-config.js";
// @ts-expect-error: a plain JS module of the benchmark, without types
import { writeMlp } from "../../../bench/models/make-mlp.js";

/** TritonError.message is a method (pb_utils), so toThrow(regex) cannot read it. */
function thrown(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return typeof (e as any).message === "function" ? (e as any).message() : String((e as Error).message);
  }
  return "(did not throw)";
}

const io = (inputs: OnnxModelIo["inputs"], outputs: OnnxModelIo["outputs"]): OnnxModelIo => ({ inputs, outputs });
const t = (name: string, type: string, shape: (number | string)[]) => ({ name, isTensor: true, type, shape });

describe("auto-complete from an ONNX graph", () => {
  it("fills names, types and dims from a generated model; a dynamic first dim means max_batch_size 4 and dynamic batching", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-onnx-unit-"));
    try {
      writeMlp(join(dir, "m.onnx"), { input: 6, hidden: 4, output: 3 });
      const s = await ort.InferenceSession.create(join(dir, "m.onnx"));
      const cfg = autoCompleteFromOnnx({ name: "m" }, { inputs: s.inputMetadata, outputs: s.outputMetadata });
      expect(cfg).toEqual({
        name: "m", max_batch_size: 4, dynamic_batching: {},
        input: [{ name: "INPUT0", data_type: "TYPE_FP32", dims: [6] }],
        output: [{ name: "OUTPUT0", data_type: "TYPE_FP32", dims: [3] }],
      });
      await s.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("maps datatypes, keeps dynamic dims as -1, and a fixed first dim means no batching", () => {
    const cfg = autoCompleteFromOnnx({ name: "m" }, io(
      [t("a", "int64", [2, "n"]), t("b", "bool", [2]), t("c", "string", [2]), t("d", "float16", [2, 3]), t("e", "uint8", [2]), t("f", "int32", [2])],
      [t("y", "float32", [2, -1])]));
    expect(cfg.max_batch_size).toBeUndefined();
    expect(cfg.dynamic_batching).toBeUndefined();
    expect((cfg.input as any[]).map((x) => [x.data_type, x.dims])).toEqual([
      ["TYPE_INT64", [2, -1]], ["TYPE_BOOL", [2]], ["TYPE_STRING", [2]], ["TYPE_FP16", [2, 3]], ["TYPE_UINT8", [2]], ["TYPE_INT32", [2]],
    ]);
    expect((cfg.output as any[])[0]).toEqual({ name: "y", data_type: "TYPE_FP32", dims: [2, -1] });
  });

  it("keeps what the config gives, fills only what it left out, and keeps a given max_batch_size and scheduler", () => {
    const cfg = autoCompleteFromOnnx({ name: "m", max_batch_size: 16, sequence_batching: {}, input: [{ name: "x", data_type: "TYPE_FP32", dims: [3, 8] }] },
      io([t("x", "float32", ["b", 3, -1])], [t("y", "float32", ["b", 10]), t("z", "int64", ["b"])]));
    expect(cfg.max_batch_size).toBe(16);
    expect(cfg.dynamic_batching).toBeUndefined();
    expect(cfg.input).toEqual([{ name: "x", data_type: "TYPE_FP32", dims: [3, 8] }]);
    expect(cfg.output).toEqual([{ name: "y", data_type: "TYPE_FP32", dims: [10] }, { name: "z", data_type: "TYPE_INT64", dims: [1], reshape: { shape: [] } }]);
  });

  it("a config spelling the full shape (batch dim included) turns batching off, as Triton's does", () => {
    const cfg = autoCompleteFromOnnx({ name: "m", input: [{ name: "x", data_type: "TYPE_FP32", dims: [-1, 3] }] },
      io([t("x", "float32", ["b", 3])], [t("y", "float32", ["b", 3])]));
    expect(cfg.max_batch_size).toBeUndefined();
    expect((cfg.output as any[])[0].dims).toEqual([-1, 3]);
  });

  it("refuses max_batch_size on a model without a dynamic first dim", () => {
    expect(thrown(() => autoCompleteFromOnnx({ name: "m", max_batch_size: 8 }, io([t("x", "float32", [1, 3])], [t("y", "float32", [1, 3])]))))
      .toMatch(/configuration specified max_batch_size 8 but model does not support batching/);
  });
});

describe("checkConfigAgainstOnnx", () => {
  const model = io([t("x", "float32", ["b", 3, -1])], [t("y", "int64", ["b", 10])]);
  const base = { name: "m", max_batch_size: 4 };
  it("accepts a compatible config (fixed dims where the model's are dynamic)", () => {
    expect(() => checkConfigAgainstOnnx({ ...base, input: [{ name: "x", data_type: "TYPE_FP32", dims: [3, 7] }], output: [{ name: "y", data_type: "TYPE_INT64", dims: [10] }] }, model)).not.toThrow();
  });
  it("names the tensor whose datatype, dims or name are wrong", () => {
    expect(thrown(() => checkConfigAgainstOnnx({ ...base, input: [{ name: "x", data_type: "TYPE_INT32", dims: [3, 7] }] }, model))).toMatch(/datatype TYPE_INT32 for input 'x'.*expects TYPE_FP32/);
    expect(thrown(() => checkConfigAgainstOnnx({ ...base, input: [{ name: "x", data_type: "TYPE_FP32", dims: [4, 7] }] }, model))).toMatch(/tensor 'x'.*\[-1,3,-1\]/);
    expect(thrown(() => checkConfigAgainstOnnx({ ...base, input: [{ name: "x", data_type: "TYPE_FP32", dims: [3] }] }, model))).toMatch(/tensor 'x'/);
    expect(thrown(() => checkConfigAgainstOnnx({ ...base, input: [{ name: "x", data_type: "TYPE_FP32", dims: [3, 7] }], output: [{ name: "w", data_type: "TYPE_INT64", dims: [10] }] }, model))).toMatch(/unexpected inference output 'w'.*allowed outputs are: y/);
    expect(thrown(() => checkConfigAgainstOnnx({ ...base, input: [] }, model))).toMatch(/input 'x' of the model is missing/);
  });
});
