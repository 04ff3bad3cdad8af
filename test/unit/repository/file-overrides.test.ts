import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { localize, localizeOverrides } from "../../../src/repository/file-overrides.js";

const file = (path: string) => ({ key: `file:${path}`, data: new Uint8Array([1, 2]) });
const failure = (files: ReturnType<typeof file>[], hasConfig: boolean) => {
  const r = localize(files, hasConfig);
  if ("dir" in r) {
    rmSync(r.dir, { recursive: true, force: true });
    return null;
  }
  return r.failure;
};

describe("file: load overrides, localized as Triton's model repository manager does", () => {
  it("fails a path Triton cannot write, one that leaves the folder, or a missing config", () => {
    expect(failure([file("A".repeat(256))], true)).toMatch(/ENAMETOOLONG/);
    expect(failure([file(`1/${"d/".repeat(2100)}m`)], true)).toMatch(/ENAMETOOLONG/);
    expect(failure([file("../escape")], true)).toMatch(/^Invalid file parameter 'file:..\/escape' with normalized path .* must stay within model directory\.$/);
    expect(failure([file("")], true)).toMatch(/must stay within model directory/);
    expect(failure([file("1/model.onnx"), file("1/model.onnx/x")], true)).toBe(
      "Invalid file parameter 'file:1/model.onnx/x', directory has been created as a file");
    expect(failure([file("1/model.onnx")], false)).toBe("Load parameter 'config' must be specified for model file override");
    expect(failure([file("1/model.onnx"), file("a/b/c.txt")], true)).toBeNull();
  });

  it("writes the files into a private temp folder, and removes the folder of a failed one", () => {
    const r = localize([file("1/model.ts"), file("labels.txt")], true);
    if (!("dir" in r)) throw new Error(r.failure);
    try {
      expect([...readFileSync(join(r.dir, "1", "model.ts"))]).toEqual([1, 2]);
      expect(existsSync(join(r.dir, "labels.txt"))).toBe(true);
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });

  it("answers a failure as Triton's failed poll, logging the reason", () => {
    const logged: string[] = [];
    expect(() => localizeOverrides("m", [file("A".repeat(300))], true, (l) => logged.push(l))).toThrow(
      expect.objectContaining({ code: "INTERNAL", message: "failed to load 'm', failed to poll from model repository" }));
    expect(logged[0]).toMatch(/^Poll failed for model directory 'm': .*ENAMETOOLONG/);
    const dir = localizeOverrides("m", [file("1/model.onnx")], true, () => {});
    expect(existsSync(join(dir, "1", "model.onnx"))).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });
});
