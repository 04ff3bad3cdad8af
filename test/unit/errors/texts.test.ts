import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  GRPC_STATUS, HTTP_STATUS, SEGMENT_PLACEHOLDER, ServerError, isErrorCode, toServerError,
} from "../../../src/errors/server-error.js";
import * as texts from "../../../src/errors/texts.js";
import { segmentName } from "../../../src/ipc/segments.js";

type AnyFactory = ((...args: unknown[]) => ServerError) & { code: string };

/** The exported factories: every exported function but the two error classes. */
const factories: [string, AnyFactory][] = Object.entries(texts)
  .filter(([name, value]) => typeof value === "function" && name !== "ModelLoadError" && name !== "VersionLoadError")
  .map(([name, value]) => [name, value as AnyFactory]);

/** docs/errors.md's table: factory → its code, HTTP and gRPC columns. */
function documented(): Map<string, { code: string; http: string; grpc: string; when: string }> {
  const md = readFileSync(new URL("../../../docs/errors.md", import.meta.url), "utf8");
  const rows = new Map<string, { code: string; http: string; grpc: string; when: string }>();
  for (const line of md.split("\n")) {
    const m = /^\|\s*`(\w+)`\s*\|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|\s*$/.exec(line);
    if (!m) continue;
    expect(rows.has(m[1]!), `${m[1]} is listed twice`).toBe(false);
    rows.set(m[1]!, { code: m[2]!.trim(), http: m[3]!.trim(), grpc: m[4]!.trim(), when: m[5]!.trim() });
  }
  return rows;
}

const given = new ServerError("UNAVAILABLE", "underneath");

/** Arguments for the factories whose code is their caller's: each must yield UNAVAILABLE. */
const GIVEN_SAMPLES: Record<string, unknown[]> = {
  loadFailed: ["m", "detail", "UNAVAILABLE"],
  versionsFailed: ["m", given],
  versionLoadFailed: ["m", 1, given],
  retold: [given, "other text"],
  inParametersKeyword: [given],
  forModelIo: [given, "m"],
  handlerImportFailed: ["/m/1/model.ts", "detail", "UNAVAILABLE"],
  inEnsemble: [given, "e"],
};

describe("error factories and docs/errors.md", () => {
  const rows = documented();

  it("documents every factory, and nothing else", () => {
    expect(factories.length).toBeGreaterThan(100);
    const names = factories.map(([n]) => n);
    expect(names.filter((n) => !rows.has(n)), "factories missing from docs/errors.md").toEqual([]);
    expect([...rows.keys()].filter((n) => !names.includes(n)), "rows naming no factory").toEqual([]);
    for (const [name, row] of rows) expect(row.when, `${name}: the 'when' column`).not.toBe("");
  });

  it("shows the code and the statuses each factory's errors have", () => {
    // Any argument works where a factory only quotes it: an array prints as its element and has
    // join/map/length for the factories that format shapes and name lists.
    const anything = ["x"];
    for (const [name, f] of factories) {
      const row = rows.get(name)!;
      if (f.code === "given") {
        expect(row, name).toMatchObject({ code: "(given)", http: "(per code)", grpc: "(per code)" });
        expect(GIVEN_SAMPLES[name], `${name} needs a sample in GIVEN_SAMPLES`).toBeDefined();
        const e = f(...GIVEN_SAMPLES[name]!);
        expect(e, name).toBeInstanceOf(ServerError);
        expect(e.code, name).toBe("UNAVAILABLE");
        continue;
      }
      expect(isErrorCode(f.code), name).toBe(true);
      const e = f(...Array.from({ length: 6 }, () => anything));
      expect(e, name).toBeInstanceOf(ServerError);
      expect(e.code, name).toBe(f.code);
      expect(row, name).toEqual({
        code: e.code, http: String(HTTP_STATUS[e.code]), grpc: String(GRPC_STATUS[e.code]), when: row.when,
      });
    }
  });
});

describe("causes", () => {
  it("toServerError keeps what it converts as the cause, its message unchanged", () => {
    const boom = new Error("boom");
    const e = toServerError(boom);
    expect(e).toMatchObject({ code: "INTERNAL", message: "boom" });
    expect(e.cause).toBe(boom);
    expect(toServerError("text").cause).toBe("text");
    expect(toServerError(given)).toBe(given);
  });

  it("factories keep the error they report, which never crosses to a client", () => {
    let parse: unknown;
    try {
      JSON.parse("{");
    } catch (err) {
      parse = err;
    }
    const cases: [ServerError, unknown][] = [
      [texts.jsonUnparsable(parse), parse],
      [texts.decompressFailed("gzip", new Error("incorrect header check")), undefined],
      [texts.undecodableRequest(parse), parse],
      [texts.configUnreadable("/m/config.pbtxt", parse), parse],
      [texts.ensembleDependencyFailed("e", "dep", given), given],
      [texts.inParametersKeyword(given), given],
      [texts.forModelIo(given, "m"), given],
      [texts.versionsFailed("m", given), given],
    ];
    for (const [e, cause] of cases) {
      if (cause !== undefined) expect(e.cause, e.message).toBe(cause);
      else expect(e.cause, e.message).toBeInstanceOf(Error);
      expect(Object.keys(e.toJSON()).sort()).toEqual(["code", "message"]);
    }
    expect(texts.decompressFailed("gzip", new Error("incorrect header check")).message)
      .toBe("failed to decompress the request body (gzip): incorrect header check");
    expect(texts.jsonUnparsable(parse).message).toBe(`failed to parse the request JSON buffer: ${(parse as Error).message}`);
  });
});

describe("load failures carry their model and detail", () => {
  it("builds its text from fields, and a version's failure quotes the detail once", () => {
    const e = texts.strictConfigRequired("m");
    expect(e).toBeInstanceOf(texts.ModelLoadError);
    expect(e).toMatchObject({
      code: "INVALID_ARG", model: "m", detail: "config.pbtxt is required with --strict-model-config",
      message: "failed to load 'm': config.pbtxt is required with --strict-model-config",
    });
    const v = texts.versionLoadFailed("m", 2, texts.loadFailed("m", "initialize failed: boom", "INTERNAL"));
    expect(v.message).toBe("failed to load 'm': initialize failed: boom");
    expect(v.reason).toMatchObject({ code: "INTERNAL", message: "initialize failed: boom" });
    expect(v.forRepositoryApi()).toMatchObject({
      code: "INVALID_ARG",
      message: "load failed for model 'm': version 2 is at UNAVAILABLE state: Internal: initialize failed: boom;",
    });
  });

  it("replaces the module path a stub names in its own text with the model's name", () => {
    // The stub sends the detail alone (`during: "import"`); main names the module, in Triton's text.
    const wire = texts.handlerImportFailed("/tmp/cache/m-1.mjs", "SyntaxError: x", "INVALID_ARG");
    expect(wire).toMatchObject({ code: "INVALID_ARG", message: "failed to load '/tmp/cache/m-1.mjs': SyntaxError: x" });
    expect(texts.versionLoadFailed("m", 1, wire).message).toBe("failed to load 'm': SyntaxError: x");
    expect(texts.versionsFailed("m", wire)).toMatchObject({ code: "INVALID_ARG", message: "failed to load 'm': SyntaxError: x", detail: "SyntaxError: x" });
    expect(texts.versionsFailed("m", new ServerError("INTERNAL", "stub died")).message).toBe("failed to load 'm': stub died");
  });

  it("takes segment names out of the detail as out of the message", () => {
    const name = segmentName(77);
    const e = texts.loadFailed("m", `shm_open ${name} failed`, "INTERNAL");
    expect(e.detail).toBe(`shm_open ${SEGMENT_PLACEHOLDER} failed`);
    expect(e.message).toBe(`failed to load 'm': shm_open ${SEGMENT_PLACEHOLDER} failed`);
  });
});

describe("messages are the texts they were (a sample, copied from before the factories)", () => {
  it.each([
    [texts.modelNotFound("m"), "NOT_FOUND", "Request for unknown model: 'm' is not found"],
    [texts.versionNotReady("m", "3"), "UNAVAILABLE", "Request for unknown model: 'm' version 3 is not at ready state"],
    [texts.noAvailableVersions("m"), "NOT_FOUND", "Request for unknown model: 'm' has no available versions"],
    [texts.pollFailed("x"), "INTERNAL", "failed to load 'x', failed to poll from model repository"],
    [texts.backendUnsupported("m", "pytorch_libtorch"), "UNSUPPORTED", "failed to load 'm': backend/platform 'pytorch_libtorch' is not supported by this server yet"],
    [texts.inputMissing("", "m", 2, 3, ["a"], ["b"]), "INVALID_ARG",
      "[request id: <id_unknown>] expected number of inputs between 2 and 3 but got 1 inputs for model 'm'. Got input(s) ['a'], but missing required input(s) ['b']. Please provide all required input(s)."],
    [texts.inputMissing("r1", "m", 2, 2, [], ["a", "b"]), "INVALID_ARG",
      "[request id: r1] expected 2 inputs but got 0 inputs for model 'm'. Got input(s) [], but missing required input(s) ['a','b']. Please provide all required input(s)."],
    [texts.shapeMismatch("", "x", "m", [-1, 4], [2, 5]), "INVALID_ARG", "[request id: <id_unknown>] unexpected shape for input 'x' for model 'm'. Expected [-1,4], got [2,5]"],
    [texts.inputByteSizeMismatch("x", "m", 16, 12), "INVALID_ARG", "input byte size mismatch for input 'x' for model 'm'. Expected 16, got 12"],
    [texts.inputByteSizeMismatch("x", "m", 16, 12, "r"), "INVALID_ARG", "[request id: r] input byte size mismatch for input 'x' for model 'm'. Expected 16, got 12"],
    [texts.sharedMemoryUnsupported("output", "y"), "UNSUPPORTED", "output 'y': shared memory is not supported by this server"],
    [texts.inputDataChoice("x", false), "INVALID_ARG", "Input 'x' must set exactly one of 'data' or 'binary_data_size' in 'parameters', but set neither"],
    [texts.jsonParameterType("set", "classification", "unsigned-integer"), "INVALID_ARG",
      "Unable to set 'classification': attempt to access JSON non-unsigned-integer as unsigned-integer"],
    [texts.grpcParameterType("timeout", "int64_param"), "INVALID_ARG", "invalid value type for 'timeout' parameter, expected int64_param."],
    [texts.clientClosedConnection(), "CANCELLED", "the client closed the connection before the response"],
    [texts.configSchemaInvalid("m", "/r/m/config.pbtxt", "max_batch_size", "bad"), "INVALID_ARG",
      "invalid model configuration for 'm' (/r/m/config.pbtxt): max_batch_size: bad"],
    [texts.forModelIo(new ServerError("INVALID_ARG", "model input 'x' must specify 'dims'"), "m"), "INVALID_ARG",
      "model input 'x' must specify 'dims' for m"],
  ] as const)("%#: %s", (e, code, message) => {
    expect(e).toBeInstanceOf(ServerError);
    expect({ code: e.code, message: e.message }).toEqual({ code, message });
  });
});
