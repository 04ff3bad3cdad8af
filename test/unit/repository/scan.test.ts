import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ServerError } from "../../../src/errors/index.js";
import {
  defaultModelFilename,
  findModelDir,
  inferBackendFromFiles,
  listModelDirs,
  listVersions,
  missingSpecificVersions,
  readModelConfig,
  readRawModelConfig,
  selectVersions,
  versionsToLoad,
} from "../../../src/repository/scan.js";

const fixture = (path: string) => fileURLToPath(new URL(`../../fixtures/configs/${path}`, import.meta.url));

let root: string;

/** Creates files (content given) and folders (content undefined) under the temp root. */
function tree(entries: Record<string, string | undefined>): void {
  for (const [path, content] of Object.entries(entries)) {
    const full = join(root, path);
    if (content === undefined) mkdirSync(full, { recursive: true });
    else {
      mkdirSync(join(full, ".."), { recursive: true });
      writeFileSync(full, content);
    }
  }
}

function errorOf(fn: () => unknown): ServerError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ServerError);
    return err as ServerError;
  }
  throw new Error("expected a ServerError, nothing was thrown");
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "tessera-scan-"));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("listModelDirs / findModelDir", () => {
  it("lists each subfolder of each repository, sorted, ignoring files", () => {
    tree({ "r1/b": undefined, "r1/a": undefined, "r1/README.md": "x", "r2/c": undefined });
    expect(listModelDirs([join(root, "r1"), join(root, "r2")])).toEqual([
      { name: "a", path: join(root, "r1/a") },
      { name: "b", path: join(root, "r1/b") },
      { name: "c", path: join(root, "r2/c") },
    ]);
  });

  it("rejects a model present in two repositories, and a missing repository", () => {
    tree({ "r1/a": undefined, "r2/a": undefined });
    const dup = errorOf(() => listModelDirs([join(root, "r1"), join(root, "r2")]));
    expect(dup.code).toBe("INVALID_ARG");
    expect(dup.message).toBe("failed to poll model 'a': not unique across all model repositories");
    expect(errorOf(() => listModelDirs([join(root, "nope")])).message).toBe(
      `failed to poll model repository '${join(root, "nope")}': not a directory`,
    );
  });

  it("finds one model by name", () => {
    tree({ "r1/a": undefined, "r2/b": undefined, "r3/b": undefined });
    const repos = ["r1", "r2", "r3"].map((r) => join(root, r));
    expect(findModelDir(repos, "a")).toEqual({ name: "a", path: join(root, "r1/a") });
    const missing = errorOf(() => findModelDir(repos, "zz"));
    expect(missing.code).toBe("NOT_FOUND");
    expect(missing.message).toBe("failed to poll model 'zz': model not found in any model repository.");
    expect(errorOf(() => findModelDir(repos, "b")).message).toBe(
      "failed to poll model 'b': not unique across all model repositories",
    );
  });
});

describe("versions", () => {
  it("listVersions keeps numeric folders only, ascending", () => {
    tree({
      "m/1": undefined, "m/10": undefined, "m/2": undefined, "m/0": undefined, "m/01": undefined,
      "m/v3": undefined, "m/4a": undefined, "m/-1": undefined, "m/warmup": undefined, "m/5": "a file, not a folder",
    });
    expect(listVersions(join(root, "m"))).toEqual([0, 1, 2, 10]);
  });

  it("selectVersions implements latest, all, specific", () => {
    const available = [1, 2, 3, 7];
    expect(selectVersions({ latest: { num_versions: 1 } }, available)).toEqual([7]);
    expect(selectVersions({ latest: { num_versions: 2 } }, available)).toEqual([3, 7]);
    expect(selectVersions({ latest: { num_versions: 9 } }, available)).toEqual([1, 2, 3, 7]);
    expect(selectVersions({ latest: { num_versions: 0 } }, available)).toEqual([]);
    expect(selectVersions({ all: {} }, available)).toEqual([1, 2, 3, 7]);
    expect(selectVersions({}, available)).toEqual([1, 2, 3, 7]); // no choice set: Triton loads all
    expect(selectVersions({ specific: { versions: [7, 4, 1] } }, available)).toEqual([1, 7]);
    expect(missingSpecificVersions({ specific: { versions: [7, 4, 1, 9] } }, available)).toEqual([4, 9]);
    expect(missingSpecificVersions({ all: {} }, available)).toEqual([]);
  });

  it("versionsToLoad warns about missing specific versions and fails when none is left", () => {
    tree({ "m/1": undefined, "m/3": undefined });
    const warnings: string[] = [];
    const cfg = { name: "m", version_policy: { specific: { versions: [3, 4] } } };
    expect(versionsToLoad(cfg, join(root, "m"), (w) => warnings.push(w))).toEqual([3]);
    expect(warnings).toEqual(["version 4 is specified for model 'm', but the version directory is not present"]);
    const none = errorOf(() => versionsToLoad({ name: "m", version_policy: { specific: { versions: [5] } } }, join(root, "m")));
    expect(none.message).toBe("at least one version must be available under the version policy of model 'm'");
    tree({ "empty": undefined });
    expect(errorOf(() => versionsToLoad({ name: "empty", version_policy: { latest: { num_versions: 1 } } }, join(root, "empty"))).code).toBe(
      "INVALID_ARG",
    );
  });
});

describe("readModelConfig", () => {
  it("reads, parses and validates config.pbtxt", () => {
    tree({ "add_sub/config.pbtxt": readFileSync(fixture("valid/add_sub.pbtxt"), "utf8"), "add_sub/1/model.py": "" });
    const cfg = readModelConfig(join(root, "add_sub"), "add_sub");
    expect(cfg.backend).toBe("python");
    expect(cfg.input.map((i) => i.name)).toEqual(["INPUT0", "INPUT1"]);
    expect(cfg.instance_group).toMatchObject([{ name: "add_sub_0", kind: "KIND_CPU", count: 1 }]);
  });

  it("reports parse errors with the config's path and line", () => {
    tree({ "m/config.pbtxt": 'name: "m"\nbackend: "python"\nbogus: 1\n' });
    expect(errorOf(() => readModelConfig(join(root, "m"), "m")).message).toBe(
      `failed to parse ${join(root, "m/config.pbtxt")}:3: unknown field "bogus" in inference.ModelConfig`,
    );
  });

  it("without config.pbtxt: named after the folder, backend inferred from the version folder's files", () => {
    tree({ "handler/1/model.ts": "export default class {}" });
    const cfg = readModelConfig(join(root, "handler"), "handler");
    expect([cfg.name, cfg.backend, cfg.max_batch_size]).toEqual(["handler", "typescript", 0]);
    expect(readRawModelConfig(join(root, "handler"))).toEqual({ raw: {} });

    tree({ "onnx/2/model.onnx": "bytes" });
    const onnx = readModelConfig(join(root, "onnx"), "onnx");
    expect([onnx.backend, onnx.platform, onnx.default_model_filename]).toEqual(["onnxruntime", "onnxruntime_onnx", "model.onnx"]);
  });

  it("without config.pbtxt and no recognizable file: Triton's validation message; or the file is required", () => {
    tree({ "bare/1/weights.bin": "" });
    expect(errorOf(() => readModelConfig(join(root, "bare"), "bare")).message).toBe(
      "must specify 'platform' or 'backend' for 'bare'",
    );
    expect(errorOf(() => readModelConfig(join(root, "bare"), "bare", { requireConfigFile: true })).message).toBe(
      `failed to read text proto from ${join(root, "bare/config.pbtxt")}: no such file`,
    );
  });

  it("inferBackendFromFiles leaves configs that name a backend alone", () => {
    tree({ "m/1/model.onnx": "" });
    expect(inferBackendFromFiles({ backend: "python" }, join(root, "m"))).toEqual({ backend: "python" });
    expect(inferBackendFromFiles({}, join(root, "m"))).toEqual({ backend: "onnxruntime" });
  });
});

describe("defaultModelFilename", () => {
  it("uses default_model_filename, else the backend's file; stub backends load model.ts", () => {
    const f = (backend: string, platform = "", default_model_filename = "") =>
      defaultModelFilename({ backend, platform, default_model_filename });
    expect(f("python", "", "handler.mjs")).toBe("handler.mjs");
    expect(f("python")).toBe("model.ts");
    expect(f("typescript")).toBe("model.ts");
    expect(f("onnxruntime", "onnxruntime_onnx")).toBe("model.onnx");
    expect(f("tensorflow", "tensorflow_savedmodel")).toBe("model.savedmodel");
    expect(f("", "ensemble")).toBe("");
  });
});
