/**
 * A decoupled ensemble (EnsembleScheduler with streamed steps) over a fake composing-model path:
 * one ensemble response per response of the decoupled step, each through the steps downstream on
 * that response's tensors; outputs of one iteration paired; the final flag on the response that
 * left nothing in flight, else a bare final flag; a step's error (mid-stream too) ends the stream
 * with Triton's "in ensemble" prefix once the steps in flight ended, and no response after it;
 * every step response released exactly once; cancellation; refusal without a sink.
 */
import { describe, expect, it } from "vitest";
import { EnsembleScheduler } from "../../../src/scheduler/ensemble.js";
import { createScheduler } from "../../../src/scheduler/index.js";
import { ResponseStream } from "../../../src/core/response-stream.js";
import { Cancellation } from "../../../src/core/cancellation.js";
import type { ModelConfig } from "../../../src/config/schema.js";
import type { CoreRequest, CoreResponse, RequestResult } from "../../../src/core/types.js";
import { ServerError } from "../../../src/errors/index.js";

type Step = { model_name: string; model_version: number; input_map: Record<string, string>; output_map: Record<string, string> };
const step = (model: string, input: Record<string, string>, output: Record<string, string>): Step =>
  ({ model_name: model, model_version: -1, input_map: input, output_map: output });
const config = (steps: Step[], outputs: string[]) => ({
  name: "ens", platform: "ensemble", output: outputs.map((name) => ({ name })), model_transaction_policy: { decoupled: true },
  ensemble_scheduling: { step: steps },
}) as unknown as ModelConfig;
const tick = (ms = 2) => new Promise((r) => setTimeout(r, ms));

/**
 * A fake path. "rep" (decoupled): one response per byte of IN (OUT = the byte, IDX = its index),
 * then a bare final flag; parameter mode "error_mid" makes the second an error, "cancel" repeats
 * until the signal aborts. "inc": OUT = IN + 1. "add": SUM = A + B. "fail": an error.
 */
function fakePath() {
  const calls: CoreRequest[] = [];
  let live = 0;
  let released = 0;
  const response = (r: CoreRequest, outputs: Record<string, number[]>): CoreResponse => {
    live++;
    let done = false;
    return {
      model: r.model, version: "1", id: r.id, parameters: {},
      outputs: Object.entries(outputs).map(([name, v]) => ({ name, datatype: "UINT8", shape: [v.length], data: Uint8Array.from(v) })),
      release: () => {
        if (done) throw new Error(`${r.model}: released twice`);
        done = true;
        live--;
        released++;
      },
    };
  };
  const open = (r: CoreRequest): ResponseStream => {
    calls.push(r);
    if (r.model === "refused") throw new ServerError("NOT_FOUND", "no such model");
    const s = new ResponseStream();
    const input = (name: string) => Array.from(r.inputs.find((t) => t.name === name)!.data);
    void (async () => {
      await tick(Math.random() * 4);
      if (r.model === "rep") {
        const values = input("IN");
        for (let i = 0; r.parameters.mode === "cancel" ? !r.signal?.aborted : i < values.length; i++) {
          if (r.parameters.mode === "error_mid" && i === 1) s.push({ error: new ServerError("INVALID_ARG", "bad element at 1"), final: false });
          else s.push({ response: response(r, { OUT: [values[i % values.length]], IDX: [i] }), final: false });
          await tick();
        }
        s.push({ final: true });
      } else if (r.model === "inc") s.push({ response: response(r, { OUT: input("IN").map((v) => v + 1) }), final: true });
      else if (r.model === "add") s.push({ response: response(r, { SUM: [input("A")[0] + input("B")[0]] }), final: true });
      else s.push({ error: new ServerError("INVALID_ARG", "step broke"), final: true });
    })();
    return s;
  };
  return { calls, open, stats: () => ({ live, released }) };
}

interface Event { outputs?: Record<string, number[]>; error?: string; final: boolean }

async function run(s: EnsembleScheduler, data: number[], extra: Partial<CoreRequest> = {}) {
  const events: Event[] = [];
  const results: RequestResult[] = [];
  const sink = (result: RequestResult | null, final: boolean) => {
    if (!result) events.push({ final });
    else if (result.error) events.push({ error: result.error.message, final });
    else {
      results.push(result);
      events.push({ outputs: Object.fromEntries(result.outputs.map((t) => [t.name, Array.from(t.data)])), final });
    }
  };
  const request: CoreRequest = { model: "ens", id: "r", inputs: [{ name: "X", datatype: "UINT8", shape: [data.length], data: Uint8Array.from(data) }], parameters: {}, sink, ...extra };
  const result = await s.enqueue(request);
  expect(result.outputs).toEqual([]);
  return { events, results };
}

const repInc = () => [step("rep", { IN: "X" }, { OUT: "r", IDX: "IDX" }), step("inc", { IN: "r" }, { OUT: "Y" })];

describe("EnsembleScheduler, decoupled", () => {
  it("one response per decoupled response, through the next step, IDX paired with its own Y", async () => {
    const f = fakePath();
    const s = new EnsembleScheduler(config(repInc(), ["Y", "IDX"]), async () => { throw new Error("not used"); }, { open: f.open, decoupled: [true, false] });
    const { events, results } = await run(s, [10, 20, 30]);
    const responses = events.filter((e) => e.outputs);
    expect(responses.map((e) => e.outputs).sort((a, b) => a!.IDX[0] - b!.IDX[0])).toEqual([
      { Y: [11], IDX: [0] }, { Y: [21], IDX: [1] }, { Y: [31], IDX: [2] },
    ]);
    // Exactly one final event, the last, either on the last response or a bare flag.
    expect(events.filter((e) => e.final)).toHaveLength(1);
    expect(events[events.length - 1].final).toBe(true);
    expect(f.calls.map((c) => c.model)).toEqual(["rep", "inc", "inc", "inc"]);
    expect(f.calls[1]).toMatchObject({ id: "r", outputs: [{ name: "OUT" }] });
    // The step responses the answers view stay pinned until those are released.
    expect(f.stats().live).toBeGreaterThan(0);
    results.forEach((r) => { if (!r.error) { r.release(); r.release(); } });
    expect(f.stats()).toEqual({ live: 0, released: 6 });
    expect(s.pending).toBe(0);
  });

  it("pairs per iteration when a step reads the decoupled tensor and one made from it (fan_repeat)", async () => {
    const f = fakePath();
    const steps = [...repInc(), step("add", { A: "r", B: "Y" }, { SUM: "S" })];
    const s = new EnsembleScheduler(config(steps, ["S"]), async () => { throw new Error("not used"); }, { open: f.open, decoupled: [true, false, false] });
    const { events, results } = await run(s, [1, 5, 9, 13]);
    expect(events.filter((e) => e.outputs).map((e) => e.outputs!.S[0]).sort((a, b) => a - b)).toEqual([3, 11, 19, 27]);
    results.forEach((r) => !r.error && r.release());
    expect(f.stats().live).toBe(0);
  });

  it("a decoupled step that sends nothing: just the final flag (no deadlock error)", async () => {
    const f = fakePath();
    const s = new EnsembleScheduler(config(repInc(), ["Y"]), async () => { throw new Error("not used"); }, { open: f.open, decoupled: [true, false] });
    expect((await run(s, [])).events).toEqual([{ final: true }]);
  });

  it("an error mid-stream ends it, prefixed, after the steps in flight; nothing is left pinned", async () => {
    const f = fakePath();
    const s = new EnsembleScheduler(config(repInc(), ["Y"]), async () => { throw new Error("not used"); }, { open: f.open, decoupled: [true, false] });
    const { events, results } = await run(s, [1, 2, 3, 4], { parameters: { mode: "error_mid" } });
    const last = events[events.length - 1];
    expect(last).toEqual({ error: "in ensemble 'ens', bad element at 1", final: true });
    expect(events.slice(0, -1).every((e) => e.outputs && !e.final)).toBe(true);
    expect(events.length).toBeLessThanOrEqual(2); // at most the first element's answer came first
    results.forEach((r) => !r.error && r.release());
    expect(f.stats().live).toBe(0);
  });

  it("a failing downstream step, and a refused one, end the stream with the prefixed error", async () => {
    for (const model of ["fail", "refused"]) {
      const f = fakePath();
      const steps = [step("rep", { IN: "X" }, { OUT: "r" }), step(model, { IN: "r" }, { OUT: "Y" })];
      const s = new EnsembleScheduler(config(steps, ["Y"]), async () => { throw new Error("not used"); }, { open: f.open, decoupled: [true, false] });
      const { events } = await run(s, [1, 2]);
      expect(events).toEqual([{ error: `in ensemble 'ens', ${model === "fail" ? "step broke" : "no such model"}`, final: true }]);
      expect(f.stats().live).toBe(0);
    }
  });

  it("cancelled: the steps see the signal, the stream ends with the cancellation", async () => {
    const f = fakePath();
    const s = new EnsembleScheduler(config(repInc(), ["Y"]), async () => { throw new Error("not used"); }, { open: f.open, decoupled: [true, false] });
    const signal = new Cancellation();
    setTimeout(() => signal.abort(new Error("gone")), 20);
    const { events, results } = await run(s, [7], { parameters: { mode: "cancel" }, signal });
    expect(events[events.length - 1]).toEqual({ error: "request for model 'ens' was cancelled", final: true });
    expect(f.calls.every((c) => c.signal === signal)).toBe(true);
    results.forEach((r) => !r.error && r.release());
    expect(f.stats().live).toBe(0);
  });

  it("createScheduler builds it from the decoupled config; without a sink or a stream path it refuses", async () => {
    const f = fakePath();
    const infer = async (): Promise<CoreResponse> => { throw new Error("not used"); };
    const s = createScheduler(config(repInc(), ["Y"]), { name: "ens", composingInfer: infer, composingStream: f.open, decoupledSteps: [true, false] });
    await expect(s.enqueue({ model: "ens", id: "", inputs: [], parameters: {} })).rejects.toThrow("model 'ens' is decoupled: its responses stream");
    expect(() => createScheduler(config(repInc(), ["Y"]), { name: "ens", composingInfer: infer })).toThrow("ensemble 'ens' needs the server's inference path");
  });
});
