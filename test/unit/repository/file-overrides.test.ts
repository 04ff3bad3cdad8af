import { describe, expect, it } from "vitest";
import { localizeFailure, refuseFileOverrides } from "../../../src/repository/file-overrides.js";

const file = (path: string) => ({ key: `file:${path}`, data: new Uint8Array([1, 2]) });

describe("file: load overrides, localized as Triton's model repository manager does", () => {
  it("fails a path Triton cannot write, one that leaves the folder, or a missing config", () => {
    expect(localizeFailure([file("A".repeat(256))], true)).toMatch(/ENAMETOOLONG/);
    expect(localizeFailure([file(`1/${"d/".repeat(2100)}m`)], true)).toMatch(/ENAMETOOLONG/);
    expect(localizeFailure([file("../escape")], true)).toMatch(/^Invalid file parameter 'file:..\/escape' with normalized path .* must stay within model directory\.$/);
    expect(localizeFailure([file("")], true)).toMatch(/must stay within model directory/);
    expect(localizeFailure([file("1/model.onnx"), file("1/model.onnx/x")], true)).toBe(
      "Invalid file parameter 'file:1/model.onnx/x', directory has been created as a file");
    expect(localizeFailure([file("1/model.onnx")], false)).toBe("Load parameter 'config' must be specified for model file override");
    expect(localizeFailure([file("1/model.onnx"), file("a/b/c.txt")], true)).toBeNull();
  });

  it("answers a failure as Triton's failed poll, logging the reason; a clean one as unsupported", () => {
    const logged: string[] = [];
    expect(() => refuseFileOverrides("m", [file("A".repeat(300))], true, (l) => logged.push(l))).toThrow(
      expect.objectContaining({ code: "INTERNAL", message: "failed to load 'm', failed to poll from model repository" }));
    expect(logged[0]).toMatch(/^Poll failed for model directory 'm': .*ENAMETOOLONG/);
    expect(() => refuseFileOverrides("m", [file("1/model.onnx")], true, () => {})).toThrow(expect.objectContaining({ code: "UNSUPPORTED" }));
  });
});
