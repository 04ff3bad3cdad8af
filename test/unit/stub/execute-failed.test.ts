/**
 * What a call whose execute() threw answers (stub/errors.ts executeFailed, describeThrown): the
 * text of pb_stub.cc's ProcessRequests, "Failed to process the request(s) for model '<instance>',
 * message: " then the thrown value as pybind11 words a Python exception, INTERNAL.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { describeThrown, executeFailed } from "../../../stub/errors.js";
import { TritonError } from "../../../stub/sdk/errors.js";

const PREFIX = "Failed to process the request(s) for model 'm_0_0', message: ";

describe("executeFailed", () => {
  it("is INTERNAL with Triton's prefix before the detail", () => {
    expect(executeFailed("m_0_0", "detail")).toEqual({ code: "INTERNAL", message: `${PREFIX}detail` });
  });
});

describe("describeThrown", () => {
  it("an Error: its name and message; frames of this file (not the stub's) in an At: block", () => {
    function execute(): never {
      throw new TypeError("boom");
    }
    let err: unknown;
    try {
      execute();
    } catch (e) {
      err = e;
    }
    const text = describeThrown(err);
    expect(text.startsWith("TypeError: boom\n\nAt:\n  ")).toBe(true);
    // No repository given: the file's name alone, never a server path.
    expect(text).toMatch(/\n {2}execute-failed\.test\.ts\(\d+\): execute\n/);
    expect(text.endsWith("\n")).toBe(true);
    expect(text).not.toMatch(/\/stub\/errors\.ts/);
    expect(text).not.toContain("/");
    // A frame inside the repository: named relative to it.
    const root = join(dirname(fileURLToPath(import.meta.url)), "..");
    expect(describeThrown(err, root)).toMatch(/\n {2}stub\/execute-failed\.test\.ts\(\d+\): execute\n/);
  });

  it("a TritonError: its class name and message() (a method)", () => {
    const text = describeThrown(new TritonError("bad input", TritonError.INVALID_ARG));
    expect(text).toMatch(/^TritonError: bad input(\n\nAt:\n( {2}\S.*\(\d+\): .*\n)+)?$/);
  });

  it("a subclass with its own name; an empty message as pybind11's <EMPTY MESSAGE>", () => {
    class MyFailure extends Error {
      override name = "MyFailure";
    }
    expect(describeThrown(new MyFailure("x")).split("\n")[0]).toBe("MyFailure: x");
    expect(describeThrown(new Error("")).split("\n")[0]).toBe("Error: <EMPTY MESSAGE>");
  });

  it("a bare thrown value is its text alone, and no stack means no At: block", () => {
    expect(describeThrown("a bare string")).toBe("a bare string");
    expect(describeThrown(42)).toBe("42");
    expect(describeThrown({ name: "Custom", message: "no stack" })).toBe("Custom: no stack");
  });
});
