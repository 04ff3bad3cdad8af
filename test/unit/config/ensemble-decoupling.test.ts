/**
 * Triton's decoupled data-flow check of an ensemble (ValidateEnsembleConfig): an ensemble with a
 * reachable decoupled step is decoupled whatever its own policy said; a step, or the ensemble's
 * outputs, fed from two different decoupled steps is refused with Triton's text (its qa
 * invalid_decoupled_branching and invalid_decoupled_branching_2 models).
 */
import { describe, expect, it } from "vitest";
import { ensembleDecoupling, withDecoupling } from "../../../src/config/ensemble-decoupling.js";
import type { ModelConfig } from "../../../src/config/schema.js";

type Step = { model_name: string; model_version: number; input_map: Record<string, string>; output_map: Record<string, string> };
const step = (model: string, input: Record<string, string>, output: Record<string, string>): Step =>
  ({ model_name: model, model_version: -1, input_map: input, output_map: output });
const ensemble = (name: string, inputs: string[], outputs: string[], steps: Step[], decoupled = false) => ({
  name, input: inputs.map((n) => ({ name: n })), output: outputs.map((n) => ({ name: n })),
  model_transaction_policy: { decoupled }, ensemble_scheduling: { step: steps },
}) as unknown as ModelConfig;
const DECOUPLED = new Set(["repeat_int32"]);
const configOf = (model: string) =>
  (model === "missing" ? undefined : ({ model_transaction_policy: { decoupled: DECOUPLED.has(model) } }) as ModelConfig);
const repeat = (out: Record<string, string>) => step("repeat_int32", { IN: "IN", DELAY: "DELAY", WAIT: "WAIT" }, out);
const INPUTS = ["IN", "DELAY", "WAIT"];

describe("ensembleDecoupling", () => {
  it("a decoupled first step makes the ensemble decoupled (repeat_square), and says which steps are", () => {
    const config = ensemble("repeat_square", INPUTS, ["OUT"], [repeat({ OUT: "repeat_out" }), step("square_int32", { IN: "repeat_out" }, { OUT: "OUT" })]);
    const d = ensembleDecoupling(config, configOf);
    expect(d).toEqual({ decoupled: true, steps: [true, false] });
    expect(withDecoupling(config, d).model_transaction_policy.decoupled).toBe(true);
    expect(config.model_transaction_policy.decoupled).toBe(false); // a copy, not the loaded one changed
  });

  it("no decoupled step: not decoupled, even if the ensemble's config said so (Triton overwrites it)", () => {
    const config = ensemble("plain", ["X"], ["Y"], [step("square_int32", { IN: "X" }, { OUT: "Y" })], true);
    const d = ensembleDecoupling(config, configOf);
    expect(d).toEqual({ decoupled: false, steps: [false] });
    expect(withDecoupling(config, d).model_transaction_policy.decoupled).toBe(false);
    expect(ensembleDecoupling(ensemble("m", ["X"], ["Y"], [step("missing", { IN: "X" }, { OUT: "Y" })]), configOf).decoupled).toBe(false);
  });

  it("a step reading the decoupled tensor and one derived from it is fine (fan_repeat)", () => {
    const config = ensemble("fan_repeat", INPUTS, ["OUT"], [
      repeat({ OUT: "repeat_out" }),
      step("identity_int32", { INPUT0: "repeat_out" }, { OUTPUT0: "identity_out" }),
      step("libtorch", { INPUT0: "repeat_out", INPUT1: "identity_out" }, { OUTPUT__1: "OUT" }),
    ]);
    expect(ensembleDecoupling(config, configOf)).toEqual({ decoupled: true, steps: [true, false, false] });
  });

  it("refuses a step fed by two decoupled steps, naming that step (invalid_decoupled_branching)", () => {
    const config = ensemble("invalid_decoupled_branching", INPUTS, ["OUT"], [
      repeat({ OUT: "repeat_1_out" }),
      repeat({ OUT: "repeat_2_out" }),
      step("int32_dim1_nobatch_output2", { INPUT0: "repeat_1_out", INPUT1: "repeat_2_out" }, { OUTPUT0: "identity_0", OUTPUT1: "identity_1" }),
      step("int32_dim1_nobatch_output2", { INPUT0: "identity_0", INPUT1: "identity_1" }, { OUTPUT0: "OUT" }),
    ]);
    expect(() => ensembleDecoupling(config, configOf)).toThrow(expect.objectContaining({
      code: "INVALID_ARG",
      message: "in ensemble invalid_decoupled_branching, step of model 'int32_dim1_nobatch_output2' receives inputs originated from different decoupled models",
    }));
  });

  it("refuses outputs from two decoupled steps, naming the ensemble (invalid_decoupled_branching_2)", () => {
    const config = ensemble("invalid_decoupled_branching_2", INPUTS, ["OUT", "IDX"], [repeat({ OUT: "OUT" }), repeat({ IDX: "IDX" })]);
    expect(() => ensembleDecoupling(config, configOf)).toThrow(
      "in ensemble invalid_decoupled_branching_2, step of model 'invalid_decoupled_branching_2' receives inputs originated from different decoupled models");
  });

  it("refuses a step mixing a decoupled tensor with an ensemble input", () => {
    const config = ensemble("mixed", INPUTS, ["OUT"], [repeat({ OUT: "r" }), step("add", { A: "r", B: "IN" }, { SUM: "s" }), step("square_int32", { IN: "s" }, { OUT: "OUT" })]);
    expect(() => ensembleDecoupling(config, configOf)).toThrow("in ensemble mixed, step of model 'add' receives inputs originated from different decoupled models");
  });
});
