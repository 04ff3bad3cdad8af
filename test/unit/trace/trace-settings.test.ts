/**
 * Trace settings as Triton's TraceManager keeps them: model settings fall back to the global one
 * field by field, null clears a field, a global update reaches models that follow it, sampling by
 * rate and count (and forced by a client's trace context), and the extension's response shape.
 */
import { describe, expect, it } from "vitest";
import { ServerError } from "../../../src/errors/index.js";
import { TraceSettings, TRACE_TIMESTAMPS, TRACE_TENSORS, levelNames } from "../../../src/trace/settings.js";

const triton = (file = "/tmp/t.json") => new TraceSettings({
  values: { level: TRACE_TIMESTAMPS, rate: 1000, count: -1, logFrequency: 0, file }, mode: "triton", modeSettings: [],
});

describe("TraceSettings", () => {
  it("answers Triton's defaults, in Triton's key order", () => {
    const s = new TraceSettings({ values: { level: 0, rate: 1000, count: -1, logFrequency: 0, file: "" }, mode: "triton", modeSettings: [] });
    expect(Object.entries(s.response(undefined))).toEqual([
      ["trace_level", ["OFF"]], ["trace_rate", "1000"], ["trace_count", "-1"], ["log_frequency", "0"], ["trace_file", ""], ["trace_mode", "triton"],
    ]);
    expect(s.active).toBe(false);
  });

  it("gives a model its own fields and the global ones for the rest, until cleared", () => {
    const s = triton();
    s.update("m", { rate: 6 });
    expect(s.response("m")).toMatchObject({ trace_rate: "6", trace_level: ["TIMESTAMPS"] });
    s.update(undefined, { level: TRACE_TIMESTAMPS | TRACE_TENSORS, rate: 2 });
    // The model keeps its rate, follows the global level.
    expect(s.response("m")).toMatchObject({ trace_rate: "6", trace_level: ["TIMESTAMPS", "TENSORS"] });
    expect(s.response("other")).toMatchObject({ trace_rate: "2" });
    s.update("m", { rate: null });
    expect(s.response("m")).toMatchObject({ trace_rate: "2" });
    s.update(undefined, { rate: null, level: null });
    expect(s.response(undefined)).toMatchObject({ trace_rate: "1000", trace_level: ["TIMESTAMPS"] });
  });

  it("samples every rate-th request while count lasts, then only forced ones", () => {
    const s = triton();
    s.update(undefined, { rate: 3, count: 2 });
    const setting = s.setting("m");
    const picks = Array.from({ length: 12 }, () => setting.sample(false));
    expect(picks.map((p, i) => (p ? i + 1 : 0)).filter(Boolean)).toEqual([3, 6]);
    expect(s.response(undefined).trace_count).toBe("0");
    expect(setting.sample(true)).toBe(true);
  });

  it("refuses a setting that cannot trace, other than OFF, with Triton's text", () => {
    const s = triton("");
    expect(() => s.update(undefined, { rate: 5 })).toThrow(ServerError);
    expect(() => s.update(undefined, { rate: 5 })).toThrow("Attempting to set invalid trace setting :trace file name is not given");
    s.update(undefined, { level: 0 });
    expect(s.response(undefined).trace_level).toEqual(["OFF"]);
    expect(s.active).toBe(false);
    const ok = triton();
    expect(() => ok.update(undefined, { rate: 0 })).toThrow("Attempting to set invalid trace setting :sample rate must be non-zero");
  });

  it("names levels as Triton lists them", () => {
    expect(levelNames(0)).toEqual(["OFF"]);
    expect(levelNames(TRACE_TENSORS)).toEqual(["TENSORS"]);
    expect(levelNames(TRACE_TENSORS | TRACE_TIMESTAMPS)).toEqual(["TIMESTAMPS", "TENSORS"]);
  });
});
