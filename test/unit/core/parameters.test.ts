import { describe, expect, it } from "vitest";
import { checkParameterKey, checkRepositoryName, checkUnloadDependents, loadOptionsFrom } from "../../../src/core/parameters.js";

describe("parameters shared by the front ends", () => {
  it("refuses Triton's reserved prefix", () => {
    expect(() => checkParameterKey("triton_enable_x")).toThrow(/reserved for Triton usage/);
    expect(() => checkParameterKey("priority")).not.toThrow();
  });

  it("reads load options: config as a JSON string or object, nothing else", () => {
    expect(loadOptionsFrom({ config: '{"max_batch_size":4}' })).toEqual({ config: '{"max_batch_size":4}' });
    expect(loadOptionsFrom({ config: { max_batch_size: 4 } })).toEqual({ config: '{"max_batch_size":4}' });
    expect(() => loadOptionsFrom({ config: new Uint8Array(2) })).toThrow("Unable to parse 'config': expected a JSON string");
    expect(() => loadOptionsFrom({ "file:1/model.onnx": "x" })).toThrow(/not supported/);
    expect(() => loadOptionsFrom({ other: 1 })).toThrow("unknown load parameter 'other'; expected 'config'");
  });

  it("refuses unload_dependents and named repositories", () => {
    expect(() => checkUnloadDependents(false)).not.toThrow();
    expect(() => checkUnloadDependents(true)).toThrow(/not supported/);
    expect(() => checkUnloadDependents("yes")).toThrow("Unable to parse 'unload_dependents'");
    expect(() => checkRepositoryName(undefined)).not.toThrow();
    expect(() => checkRepositoryName("r")).toThrow("'repository_name' specification is not supported");
  });
});
