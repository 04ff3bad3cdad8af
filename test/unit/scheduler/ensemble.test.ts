/**
 * EnsembleScheduler with a fake composing-model path: steps start when their inputs exist (parallel
 * when they can), outputs are renamed through output_map, every step response is released exactly
 * once (with the answer, or at once on failure), a failing step fails the request with Triton's
 * "in ensemble" prefix and its code, and a graph that cannot finish is Triton's deadlock error.
 */
import { describe, expect, it } from "vitest";
import { EnsembleScheduler } from "../../../src/scheduler/ensemble.js";
import type { ModelConfig } from "../../../src/config/schema.js";
import type { CoreRequest, CoreResponse } from "../../../src/core/types.js";
import { ServerError } from "../../../src/errors/index.js";

type Step = { model_name: string; model_version: number; input_map: Record<string, string>; output_map: Record<string, string> };
const config = (steps: Step[], outputs = ["Y"]) =>
  ({ name: "ens", output: outputs.map((name) => ({ name })), ensemble_scheduling: { step: steps } }) as unknown as ModelConfig;
const step = (model: string, input: Record<string, string>, output: Record<string, string>): Step =>
  ({ model_name: model, model_version: -1, input_map: input, output_map: output });
const u8 = (...v: number[]) => Uint8Array.from(v);

/** A fake server path: "inc" adds one to each byte of IN into OUT; "fail" fails; records calls and releases. */
function fakeInfer() {
  const calls: CoreRequest[] = [];
  const releases: string[] = [];
  const infer = async (r: CoreRequest): Promise<CoreResponse> => {
    calls.push(r);
    await new Promise((res) => setTimeout(res, 5));
    if (r.model === "fail") throw new ServerError("INVALID_ARG", "step broke");
    const input = r.inputs.find((t) => t.name === "IN")!;
    return {
      model: r.model, version: "1", id: r.id, parameters: {},
      outputs: [{ name: "OUT", datatype: "UINT8", shape: input.shape, data: input.data.map((v) => v + 1) }],
      release: () => releases.push(r.model),
    };
  };
  return { calls, releases, infer };
}

const request = (data: Uint8Array): CoreRequest =>
  ({ model: "ens", id: "r", inputs: [{ name: "X", datatype: "UINT8", shape: [data.length], data }], parameters: { p: 1 } });

describe("EnsembleScheduler", () => {
  it("chains steps through ensemble tensors and releases their responses with the answer", async () => {
    const f = fakeInfer();
    const s = new EnsembleScheduler(config([step("inc", { IN: "mid" }, { OUT: "Y" }), step("inc", { IN: "X" }, { OUT: "mid" })]), f.infer);
    const result = await s.enqueue(request(u8(1, 2)));
    if (result.error) throw result.error;
    expect(result.outputs.map((t) => [t.name, Array.from(t.data)])).toEqual([["Y", [3, 4]]]);
    expect(f.calls.map((c) => c.inputs[0].data[0])).toEqual([1, 2]);
    expect(f.calls[0]).toMatchObject({ model: "inc", version: undefined, id: "r", parameters: { p: 1 }, outputs: [{ name: "OUT" }] });
    expect(f.releases).toEqual([]);
    result.release();
    result.release();
    expect(f.releases).toEqual(["inc", "inc"]);
    expect(s.pending).toBe(0);
  });

  it("runs independent steps at the same time", async () => {
    const f = fakeInfer();
    const s = new EnsembleScheduler(config([step("inc", { IN: "X" }, { OUT: "Y" }), step("inc", { IN: "X" }, { OUT: "Z" })], ["Y", "Z"]), f.infer);
    const pending = s.enqueue(request(u8(7)));
    await new Promise((r) => setTimeout(r, 1));
    expect(f.calls).toHaveLength(2);
    const result = await pending;
    if (result.error) throw result.error;
    result.release();
  });

  it("fails with the step's error, prefixed, and releases what the other steps produced", async () => {
    const f = fakeInfer();
    const s = new EnsembleScheduler(config([step("inc", { IN: "X" }, { OUT: "Z" }), step("fail", { IN: "X" }, { OUT: "Y" })]), f.infer);
    const failure = await s.enqueue(request(u8(1))).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ServerError);
    expect(failure).toMatchObject({ code: "INVALID_ARG", message: "in ensemble 'ens', step broke" });
    expect(f.releases).toEqual(["inc"]);
  });

  it("reports Triton's deadlock error when an output can never be produced", async () => {
    const f = fakeInfer();
    const s = new EnsembleScheduler(config([step("inc", { IN: "X" }, { OUT: "W" })]), f.infer);
    await expect(s.enqueue(request(u8(1)))).rejects.toThrow("in ensemble 'ens', unexpected deadlock, at least one output is not set while no more ensemble steps can be made");
    expect(f.releases).toEqual(["inc"]);
  });

  it("drains: waits for running requests, then refuses new ones", async () => {
    const f = fakeInfer();
    const s = new EnsembleScheduler(config([step("inc", { IN: "X" }, { OUT: "Y" })]), f.infer);
    const running = s.enqueue(request(u8(1)));
    const drained = s.close();
    const result = await running;
    await drained;
    if (!result.error) result.release();
    await expect(s.enqueue(request(u8(1)))).rejects.toThrow(/unloading/);
  });
});
