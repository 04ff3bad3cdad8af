import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerError } from "../../../src/errors/index.js";
import { validateModelConfig, type ModelConfig } from "../../../src/config/schema.js";
import { checkModelFiles } from "../../../src/repository/model-files.js";

// <base>/repo/m is the model folder; <base>/outside holds what a config must never reach.
let base: string;
let model: string;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), "tessera-model-files-"));
  model = join(base, "repo", "m");
  mkdirSync(join(model, "1", "sub"), { recursive: true });
  mkdirSync(join(model, "2"), { recursive: true });
  mkdirSync(join(model, "warmup"), { recursive: true });
  mkdirSync(join(base, "outside", "dir"), { recursive: true });
  writeFileSync(join(model, "1", "model.ts"), "");
  writeFileSync(join(model, "shared.ts"), "");
  writeFileSync(join(model, "labels.txt"), "a\n");
  writeFileSync(join(base, "outside", "evil.mjs"), "");
  symlinkSync(join(base, "outside", "evil.mjs"), join(model, "1", "link.mjs")); // a link out
  symlinkSync(join(base, "outside", "dir"), join(model, "1", "dirlink")); // a folder link out
  symlinkSync(join(base, "outside", "gone.mjs"), join(model, "1", "dangling.mjs")); // a link out to nothing
  symlinkSync("../../../outside/gone.mjs", join(model, "1", "relative-dangling.mjs")); // the same, relative
  symlinkSync("loop-b", join(model, "1", "loop-a")); // a loop
  symlinkSync("loop-a", join(model, "1", "loop-b"));
  symlinkSync(join(model, "shared.ts"), join(model, "1", "inside.ts")); // a link that stays in
  symlinkSync("../missing-yet.ts", join(model, "1", "inside-dangling.ts")); // one that stays in, to nothing yet
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

function config(fields: Record<string, unknown>): ModelConfig {
  return validateModelConfig({
    name: "m", backend: "typescript",
    input: [{ name: "IN", data_type: "TYPE_FP32", dims: [1] }],
    output: [{ name: "OUT", data_type: "TYPE_FP32", dims: [1] }],
    ...fields,
  }, { modelName: "m" });
}

function refusal(fields: Record<string, unknown>, versions = [1]): ServerError | undefined {
  try {
    checkModelFiles(config(fields), model, versions);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(ServerError);
    return err as ServerError;
  }
}

const file = (name: string) => ({ default_model_filename: name });
const outside = (name: string) => `default model file path '${name}' in model 'm' is outside model directory`;

describe("files a config names resolve inside the model folder", () => {
  it("accepts files in the version folder, elsewhere in the model folder, missing ones, and links that stay in", () => {
    for (const name of ["model.ts", "sub/x.ts", "../shared.ts", "./model.ts", "missing.ts", "sub/../model.ts", "inside.ts", "inside-dangling.ts", "nodir/x.ts"]) {
      expect(refusal(file(name)), name).toBeUndefined();
    }
  });

  it("refuses a default_model_filename that leaves it, with INVALID_ARG naming it as given", () => {
    for (const name of ["../../../outside/evil.mjs", "../../../../etc/hostname", "../..", "sub/../../../x", "/etc/hostname", "a\0b"]) {
      expect(refusal(file(name)), name).toMatchObject({ code: "INVALID_ARG", message: outside(name) });
    }
  });

  it("says the same whether the outside target exists or not", () => {
    expect(refusal(file("../../../../etc/hostname"))?.message).toBe(outside("../../../../etc/hostname"));
    expect(refusal(file("../../../../etc/no-such-file-here"))?.message).toBe(outside("../../../../etc/no-such-file-here"));
  });

  it("refuses links inside the model folder that point out (to a file, through a folder, to nothing) or loop", () => {
    for (const name of ["link.mjs", "dirlink/evil.mjs", "dirlink/not-there.mjs", "dangling.mjs", "relative-dangling.mjs", "loop-a"]) {
      expect(refusal(file(name)), name).toMatchObject({ code: "INVALID_ARG", message: outside(name) });
    }
  });

  it("checks default_model_filename in every version that loads", () => {
    // "link.mjs" escapes in version 1 only; version 2 has no such link (a missing file is the backend's to report).
    expect(refusal(file("link.mjs"), [2])).toBeUndefined();
    expect(refusal(file("link.mjs"), [2, 1])?.message).toBe(outside("link.mjs"));
  });

  it("checks label files under the model folder", () => {
    const labels = (name: string) => ({ output: [{ name: "OUT", data_type: "TYPE_FP32", dims: [1], label_filename: name }] });
    expect(refusal(labels("labels.txt"))).toBeUndefined();
    expect(refusal(labels("1/model.ts"))).toBeUndefined();
    expect(refusal(labels("../../outside/evil.mjs"))).toMatchObject({
      code: "INVALID_ARG", message: "label file path '../../outside/evil.mjs' for output 'OUT' in model 'm' is outside model directory",
    });
    expect(refusal(labels("1/link.mjs"))?.code).toBe("INVALID_ARG");
  });

  it("checks warmup data files under <model>/warmup", () => {
    const warmup = (name: string) => ({
      model_warmup: [{ name: "w", batch_size: 1, inputs: { IN: { data_type: "TYPE_FP32", dims: [1], input_data_file: name } } }],
    });
    expect(refusal(warmup("raw_in"))).toBeUndefined();
    expect(refusal(warmup("../labels.txt"))).toBeUndefined(); // still in the model folder
    expect(refusal(warmup("../../../outside/evil.mjs"))).toMatchObject({
      code: "INVALID_ARG",
      message: "warmup data file path '../../../outside/evil.mjs' for input 'IN' of warmup 'w' in model 'm' is outside model directory",
    });
  });

  it("checks sequence-batching initial state files under <model>/initial_state", () => {
    const state = (name: string) => ({
      sequence_batching: {
        state: [{ input_name: "S_IN", output_name: "S_OUT", data_type: "TYPE_FP32", dims: [1], initial_state: [{ name: "s", data_type: "TYPE_FP32", dims: [1], data_file: name }] }],
      },
    });
    expect(refusal(state("s0"))).toBeUndefined();
    expect(refusal(state("../../outside/evil.mjs"))).toMatchObject({
      code: "INVALID_ARG", message: "initial state data file path '../../outside/evil.mjs' for state 'S_IN' in model 'm' is outside model directory",
    });
  });

  it("is satisfied by a config that names no files", () => {
    expect(refusal({})).toBeUndefined();
  });
});
