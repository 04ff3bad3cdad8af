import { describe, expect, it } from "vitest";
import { ServerError } from "../../../src/errors/index.js";
import { checkLoadModelName } from "../../../src/repository/model-name.js";

function refusal(name: string): ServerError | undefined {
  try {
    checkLoadModelName(name);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(ServerError);
    return err as ServerError;
  }
}

// The names of Triton's own test (qa/L0_input_validation/input_validation_test.py).
const TRAVERSAL = ["../etc", "a/../b", "../../etc/passwd", "../../../../etc", "model/..", "..", "/etc/passwd", "model/subdir", "model/", " ..", ".. "];
const WHITESPACE = ["", " ", "   ", "\t", "\n", "\r", "\f", "\v", " \t \n "];
const VALID = ["model123", "model.version1", "...", "..my_model", "model..1", "model....1", "a b", "a\\b"];

describe("load model names (Triton's ValidateModelName)", () => {
  it("refuses '..' and any '/' with Triton's text, naming the name as given", () => {
    for (const name of TRAVERSAL) {
      const e = refusal(name);
      expect(e, JSON.stringify(name)).toMatchObject({
        code: "INVALID_ARG",
        message: `invalid model name '${name}', model name must not contain path traversal characters`,
      });
    }
  });

  it("refuses '.', which would name the repository folder itself", () => {
    expect(refusal(".")?.message).toBe("invalid model name '.', model name must not contain path traversal characters");
    expect(refusal(" . ")?.code).toBe("INVALID_ARG");
  });

  it("refuses an empty or all-whitespace name with Triton's text", () => {
    for (const name of WHITESPACE) {
      expect(refusal(name), JSON.stringify(name)).toMatchObject({
        code: "INVALID_ARG", message: "Model name cannot be empty. Please enter a valid name to deploy.",
      });
    }
  });

  it("accepts names that only look like traversal", () => {
    for (const name of VALID) expect(refusal(name), name).toBeUndefined();
  });
});
