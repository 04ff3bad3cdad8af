/**
 * Handler-made parameters (stub/sdk/parameters.ts), as pb_stub.cc's PyParametersToJSON: string,
 * integer and boolean values only, with Triton's texts, thrown by the InferenceResponse and (BLS)
 * InferenceRequest constructors; a request received from the server keeps its client's parameters.
 */
import { describe, expect, it } from "vitest";
import { TritonError } from "../../../stub/sdk/errors.js";
import { InferenceRequest, InferenceResponse } from "../../../stub/sdk/request.js";
import { thrown } from "../thrown.js";

const VALUES = "Expect parameters values to have type bool/int/str, found type ";


const bad: [string, unknown, string][] = [
  ["a fractional number", 1.5, "<class 'float'>"],
  ["NaN", Number.NaN, "<class 'float'>"],
  ["Infinity", Number.POSITIVE_INFINITY, "<class 'float'>"],
  ["null", null, "<class 'NoneType'>"],
  ["an array", [1, 2], "<class 'list'>"],
  ["a nested object", { a: 1 }, "<class 'dict'>"],
  ["a bigint", 5n, "<class 'bigint'>"],
  ["undefined", undefined, "<class 'undefined'>"],
  ["a Map", new Map(), "<class 'Map'>"],
];

describe("InferenceResponse parameters", () => {
  it("takes strings, integers and booleans, and keeps a copy", () => {
    const params: Record<string, string | number | boolean> = { s: "x", i: -7, big: 2 ** 40, b: false };
    const r = new InferenceResponse({ parameters: params });
    params.s = "changed";
    expect(r.parameters()).toEqual({ s: "x", i: -7, big: 2 ** 40, b: false });
  });

  for (const [what, value, type] of bad) {
    it(`refuses ${what} with pb_utils' text, INVALID_ARG`, () => {
      const e = thrown(() => new InferenceResponse({ parameters: { ok: 1, key: value } as never }));
      expect(e.message()).toBe(VALUES + type);
      expect(e.code()).toBe(TritonError.INVALID_ARG);
    });
  }

  it("refuses a symbol key with pb_utils' key text", () => {
    const e = thrown(() => new InferenceResponse({ parameters: { [Symbol("k")]: 1 } as never }));
    expect(e.message()).toBe("Expect parameters keys to have type str, found type <class 'symbol'>");
  });
});

describe("BLS InferenceRequest parameters", () => {
  it("are checked as a response's", () => {
    const e = thrown(() => new InferenceRequest({ modelName: "m", inputs: [], parameters: { t: 0.7 } as never }));
    expect(e.message()).toBe(VALUES + "<class 'float'>");
    expect(new InferenceRequest({ modelName: "m", inputs: [], parameters: { t: 7, u: "x" } }).parameters()).toEqual({ t: 7, u: "x" });
  });

  it("a request received from the server keeps its client's parameters unchecked", () => {
    const r = InferenceRequest.received({ modelName: "m", inputs: [], parameters: { temperature: 0.5 } }, () => false);
    expect(r.parameters()).toEqual({ temperature: 0.5 });
  });
});
