/**
 * Header forwarding (core/header-forward.ts): Triton's "(?i)" prefix and "(?-i)" opt-out,
 * partial matches, reserved names (exact) and the "triton_" prefix with Triton's text.
 */
import { describe, expect, it } from "vitest";
import { HeaderForward, rawHeaderPairs } from "../../../src/core/header-forward.js";
import { ServerError } from "../../../src/errors/index.js";

const forward = (pattern: string, headers: [string, string][]) => {
  const params: Record<string, string | number | boolean> = {};
  new HeaderForward(pattern, "http-header-forward-pattern").apply(headers, params);
  return params;
};

describe("HeaderForward", () => {
  it("matches case-insensitively anywhere in the name, as RE2::PartialMatch with (?i)", () => {
    expect(forward("MY_HEADER.*", [["my_header_1", "a"], ["x-My_Header", "b"], ["other", "c"]])).toEqual({ my_header_1: "a", "x-My_Header": "b" });
  });

  it("(?-i) makes it case-sensitive", () => {
    expect(forward("(?-i)MY_HEADER.*", [["my_header_1", "a"], ["MY_HEADER_2", "b"]])).toEqual({ MY_HEADER_2: "b" });
  });

  it("refuses reserved names and the triton_ prefix with Triton's text, INVALID_ARG", () => {
    for (const name of ["sequence_id", "sequence_start", "sequence_end", "priority", "timeout", "headers", "binary_data_output", "triton_x"]) {
      let err: unknown;
      try {
        forward(".*", [["fine", "1"], [name, "1"]]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ServerError);
      expect((err as ServerError).code).toBe("INVALID_ARG");
      expect((err as ServerError).message).toBe(`Header '${name}' is reserved for Triton usage and cannot be forwarded.`);
    }
    // Reserved names compare exactly, as Triton's std::find does.
    expect(forward(".*", [["Timeout", "1"]])).toEqual({ Timeout: "1" });
  });

  it("refuses a pattern that is not a regular expression", () => {
    expect(() => new HeaderForward("(", "grpc-header-forward-pattern")).toThrow(/--grpc-header-forward-pattern: invalid regular expression '\('/);
  });

  it("pairs Node's rawHeaders", () => {
    expect(rawHeaderPairs(["A", "1", "b", "2"])).toEqual([["A", "1"], ["b", "2"]]);
  });
});
