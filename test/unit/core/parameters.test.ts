import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import {
  checkParameterKey, checkRepositoryName, checkUnloadDependents, jsonParameter, loadOptionsFrom, requestParameter,
  tensorParameter, type WireParameter,
} from "../../../src/core/parameters.js";
import { ServerError } from "../../../src/errors/index.js";

describe("parameters shared by the front ends", () => {
  it("refuses Triton's reserved prefix", () => {
    expect(() => checkParameterKey("triton_enable_x")).toThrow(/reserved for Triton usage/);
    expect(() => checkParameterKey("priority")).not.toThrow();
  });

  it("reads HTTP load options as Triton does: every value a string, config or file: keys only", () => {
    expect(loadOptionsFrom("http", { config: '{"max_batch_size":4}' })).toEqual({ config: '{"max_batch_size":4}' });
    expect(loadOptionsFrom("http", { config: "{}", "file:1/model.onnx": Buffer.from([0, 255, 7]).toString("base64") })).toEqual({
      config: "{}", files: [{ key: "file:1/model.onnx", data: Buffer.from([0, 255, 7]) }],
    });
    for (const bad of [{ config: { max_batch_size: 4 } }, { config: 1 }, { "file:a": true }, { other: 1 }]) {
      expect(() => loadOptionsFrom("http", bad)).toThrow(expect.objectContaining({ code: "INTERNAL", message: "attempt to access JSON non-string as string" }));
    }
    expect(() => loadOptionsFrom("http", { other: "x" })).toThrow(expect.objectContaining({ code: "INTERNAL", message: "unexpected error on creating Triton parameter" }));
  });

  it("reads gRPC load options by the choice each was sent with, with Triton's texts", () => {
    expect(loadOptionsFrom("grpc", { config: "{}", "file:m": new Uint8Array([1]) })).toEqual({ config: "{}", files: [{ key: "file:m", data: new Uint8Array([1]) }] });
    expect(() => loadOptionsFrom("grpc", { config: new Uint8Array(2) })).toThrow("invalid value type for load parameter 'config', expected string_param.");
    expect(() => loadOptionsFrom("grpc", { "file:m": "text" })).toThrow("invalid value type for load parameter 'file:m', expected bytes_param.");
    expect(() => loadOptionsFrom("grpc", { other: 1 })).toThrow("unrecognized load parameter 'other'.");
  });

  it("refuses unload_dependents and named repositories", () => {
    expect(() => checkUnloadDependents(false)).not.toThrow();
    expect(() => checkUnloadDependents(true)).toThrow(/not supported/);
    expect(() => checkUnloadDependents("yes")).toThrow("Unable to parse 'unload_dependents'");
    expect(() => checkRepositoryName(undefined)).not.toThrow();
    expect(() => checkRepositoryName("r")).toThrow("'repository_name' specification is not supported");
  });
});

describe("reserved request parameters (Triton's rules and texts per protocol)", () => {
  const http = (key: string, value: unknown) => requestParameter("http", key, jsonParameter(value));
  const grpc = (key: string, p: WireParameter) => requestParameter("grpc", key, p);
  const UINT = "attempt to access JSON non-unsigned-integer as unsigned-integer";
  const BOOL = "attempt to access JSON non-boolean as boolean";

  it("types JSON values as rapidjson does", () => {
    expect(jsonParameter(3)).toEqual({ kind: "uint", value: 3 });
    expect(jsonParameter(0)).toEqual({ kind: "uint", value: 0 });
    expect(jsonParameter(-1)).toEqual({ kind: "int", value: -1 });
    expect(jsonParameter(1.5)).toEqual({ kind: "double", value: 1.5 });
    expect(jsonParameter(2 ** 60)).toEqual({ kind: "double", value: 2 ** 60 });
    expect(jsonParameter("x")).toEqual({ kind: "string", value: "x" });
    expect(jsonParameter(false)).toEqual({ kind: "bool", value: false });
    expect(jsonParameter(null)).toEqual({ kind: "other" });
    expect(jsonParameter({})).toEqual({ kind: "other" });
  });

  it("over HTTP: priority and timeout are unsigned integers", () => {
    expect(http("priority", 2)).toBe(2);
    expect(http("timeout", 0)).toBe(0);
    for (const bad of ["x", -1, 1.5, true, null]) {
      expect(() => http("priority", bad)).toThrow(`Unable to parse 'priority': ${UINT}`);
      expect(() => http("timeout", bad)).toThrow(`Unable to parse 'timeout': ${UINT}`);
    }
  });

  it("over HTTP: sequence_id is an unsigned integer or a string; the flags are booleans", () => {
    expect(http("sequence_id", 7)).toBe(7);
    expect(http("sequence_id", "corr-1")).toBe("corr-1"); // Triton's string correlation ids
    for (const bad of [-1, 1.5, true, {}]) {
      expect(() => http("sequence_id", bad)).toThrow("Unable to parse 'sequence_id': attempt to access JSON non-string as string");
    }
    expect(http("sequence_start", true)).toBe(true);
    expect(() => http("sequence_start", 1)).toThrow(`Unable to parse 'sequence_start': ${BOOL}`);
    expect(() => http("sequence_end", "true")).toThrow(`Unable to parse 'sequence_end': ${BOOL}`);
    expect(() => http("binary_data_output", 1)).toThrow(`Unable to parse 'binary_data_output': ${BOOL}`);
  });

  it("refuses with INVALID_ARG", () => {
    let error: unknown;
    try {
      http("priority", "x");
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).code).toBe("INVALID_ARG");
  });

  it("over gRPC: Triton's InferParameter choices and lower bounds", () => {
    expect(grpc("priority", { kind: "int", value: 3 })).toBe(3);
    expect(grpc("priority", { kind: "uint", value: 3 })).toBe(3);
    expect(() => grpc("priority", { kind: "string", value: "1" }))
      .toThrow("invalid value type for 'priority' parameter, expected int64_param or uint64_param.");
    expect(() => grpc("priority", { kind: "int", value: -1 })).toThrow("invalid value for 'priority', expected value >= 0.");
    expect(grpc("timeout", { kind: "int", value: 100 })).toBe(100);
    expect(() => grpc("timeout", { kind: "int", value: -1 })).toThrow("invalid value for 'timeout', expected value >= 0.");
    expect(() => grpc("timeout", { kind: "uint", value: 1 })).toThrow("invalid value type for 'timeout' parameter, expected int64_param.");
    expect(grpc("sequence_id", { kind: "string", value: "s" })).toBe("s");
    expect(() => grpc("sequence_id", { kind: "uint", value: 1 }))
      .toThrow("invalid value type for 'sequence_id' parameter, expected int64_param or string_param.");
    expect(() => grpc("sequence_start", { kind: "int", value: 1 }))
      .toThrow("invalid value type for 'sequence_start' parameter, expected bool_param.");
    expect(() => grpc("sequence_end", { kind: "string", value: "true" }))
      .toThrow("invalid value type for 'sequence_end' parameter, expected bool_param.");
    // Triton's gRPC gives binary_data_output no meaning: an ordinary parameter there.
    expect(grpc("binary_data_output", { kind: "int", value: 1 })).toBe(1);
  });

  it("keeps ordinary parameters, own keys only", () => {
    expect(http("constructor", 1)).toBe(1);
    expect(http("toString", "x")).toBe("x");
    expect(() => http("p", {})).toThrow("parameter 'p' has invalid type. It should be either 'int', 'bool', or 'string'.");
    expect(() => http("triton_x", 1)).toThrow(/reserved for Triton usage/);
  });

  it("checks tensors' reserved parameters", () => {
    expect(tensorParameter("http", "input", "binary_data_size", jsonParameter(8))).toBe(8);
    expect(() => tensorParameter("http", "input", "binary_data_size", jsonParameter(-8)))
      .toThrow(`Unable to parse 'binary_data_size': ${UINT}`);
    expect(() => tensorParameter("http", "output", "binary_data", jsonParameter("yes")))
      .toThrow(`Unable to parse 'binary_data': ${BOOL}`);
    expect(tensorParameter("http", "output", "classification", jsonParameter(0))).toBe(0);
    expect(() => tensorParameter("http", "output", "classification", jsonParameter(2.5)))
      .toThrow(`Unable to set 'classification': ${UINT}`);
    expect(() => tensorParameter("grpc", "output", "classification", { kind: "int", value: 0 }))
      .toThrow("invalid value for 'classification' parameter, expected >= 0");
    expect(tensorParameter("grpc", "output", "binary_data", { kind: "string", value: "x" })).toBeUndefined();
  });
});
