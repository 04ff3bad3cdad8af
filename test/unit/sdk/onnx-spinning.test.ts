import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { sessionOptions } from "../../../stub/builtin/onnxruntime.js";
import { spinningEntries, withSpinningDefault } from "../../../stub/sdk/onnx.js";
// @ts-expect-error: a plain JS module of the benchmark, without types
import { writeMlp } from "../../../bench/models/make-mlp.js";

const params = (p: Record<string, string>) => ({ name: "m", parameters: Object.fromEntries(Object.entries(p).map(([k, v]) => [k, { string_value: v }])) });

describe("onnxruntime thread spinning", () => {
  it("by default, threads stop spinning when a run returns (built-in backend and createSession)", () => {
    expect(spinningEntries({})).toEqual({ "session.force_spinning_stop": "1" });
    expect(sessionOptions({ name: "m" })).toEqual({ extra: { session: { force_spinning_stop: "1" } } });
    expect(withSpinningDefault({ intraOpNumThreads: 2 }, {})).toEqual({ intraOpNumThreads: 2, extra: { session: { force_spinning_stop: "1" } } });
    // Thread counts keep their Triton names beside it.
    expect(sessionOptions(params({ intra_op_thread_count: "1", inter_op_thread_count: "2" })))
      .toEqual({ intraOpNumThreads: 1, interOpNumThreads: 2, extra: { session: { force_spinning_stop: "1" } } });
  });

  it("allow_spinning \"1\" (or onnxruntime's own keys as parameters) brings spinning back", () => {
    const spin = { extra: { session: { intra_op: { allow_spinning: "1" }, force_spinning_stop: "0" } } };
    expect(sessionOptions(params({ allow_spinning: "1" }))).toEqual(spin);
    expect(sessionOptions(params({ allow_spinning: "true" }))).toEqual(spin);
    expect(sessionOptions(params({ "session.intra_op.allow_spinning": "1" }))).toEqual(spin);
    expect(sessionOptions(params({ allow_spinning: "0" })))
      .toEqual({ extra: { session: { intra_op: { allow_spinning: "0" }, force_spinning_stop: "1" } } });
    expect(sessionOptions(params({ "session.force_spinning_stop": "0" }))).toEqual({ extra: { session: { force_spinning_stop: "0" } } });
    // The explicit stop key wins over allow_spinning for the stop.
    expect(spinningEntries(params({ allow_spinning: "1", "session.force_spinning_stop": "1" })))
      .toEqual({ "session.intra_op.allow_spinning": "1", "session.force_spinning_stop": "1" });
    // createSession reads the same parameters from the config for a handler's session.
    expect(withSpinningDefault({}, params({ allow_spinning: "1" }))).toEqual(spin);
  });

  it("a value that is not a boolean is a load error naming the parameter", () => {
    let err: unknown;
    try {
      spinningEntries(params({ allow_spinning: "sometimes" }));
    } catch (e) {
      err = e;
    }
    expect((err as { message(): string }).message()).toMatch(/parameter 'allow_spinning' must be "1" or "0"/);
  });

  it("a handler's own extra settings win, nested or flat, and its other extra entries are kept", () => {
    const own = { extra: { session: { force_spinning_stop: "0" } } };
    expect(withSpinningDefault(own, {})).toBe(own);
    const flat = { extra: { "session.intra_op.allow_spinning": "1" } };
    expect(withSpinningDefault(flat, params({ allow_spinning: "0" }))).toBe(flat);
    const other = { extra: { session: { set_denormal_as_zero: "1" }, optimization: { enable_gelu_approximation: "1" } } };
    expect(withSpinningDefault(other, {})).toEqual({
      extra: { session: { set_denormal_as_zero: "1", force_spinning_stop: "1" }, optimization: { enable_gelu_approximation: "1" } },
    });
    expect(other.extra.session).toEqual({ set_denormal_as_zero: "1" }); // not modified in place
  });

  it("onnxruntime-node accepts the options it builds", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-spin-unit-"));
    try {
      writeMlp(join(dir, "m.onnx"), { input: 6, hidden: 4, output: 3 });
      for (const cfg of [{ name: "m" }, params({ allow_spinning: "1", intra_op_thread_count: "1" })]) {
        const s = await ort.InferenceSession.create(join(dir, "m.onnx"), sessionOptions(cfg));
        const out = await s.run({ [s.inputNames[0]]: new ort.Tensor("float32", new Float32Array(6), [1, 6]) });
        expect(out[s.outputNames[0]].dims).toEqual([1, 3]);
        await s.release();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
