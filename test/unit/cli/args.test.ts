import { describe, expect, it } from "vitest";
import { parseArgs, stubOptionsFrom } from "../../../src/cli.js";

import { quietly } from "./quietly.js";

describe("CLI", () => {
  it("takes tritonserver's flags and defaults", () => {
    const o = parseArgs(["--model-repository", "/a", "--model-repository=/b", "--http-port=0", "--allow-grpc=false",
      "--model-control-mode", "explicit", "--load-model", "x", "--load-model=y", "--exit-on-error=false"]);
    expect(o.modelRepositories).toEqual(["/a", "/b"]);
    expect(o).toMatchObject({ httpPort: 0, grpcPort: 8001, metricsPort: 8002, allowGrpc: false, allowHttp: true,
      modelControlMode: "explicit", loadModels: ["x", "y"], exitOnError: false, strictReadiness: true,
      httpMaxInputSize: 64 * 1024 * 1024 });
  });

  it("bounds gRPC messages by the HTTP limit unless told, and sets HTTP timeouts by default", () => {
    const o = parseArgs(["--model-repository", "/a", "--http-max-input-size", "1000"]);
    expect(o).toMatchObject({ httpMaxInputSize: 1000, grpcMaxInputSize: 1000, httpHeaderTimeoutSecs: 30, httpRequestTimeoutSecs: 60 });
    expect(o.httpRestrictedApi?.empty).toBe(true);
    expect(o.grpcRestrictedProtocol?.empty).toBe(true);
    const set = parseArgs(["--model-repository", "/a", "--grpc-max-input-size=5", "--http-header-timeout-secs", "0",
      "--http-request-timeout-secs=2"]);
    expect(set).toMatchObject({ grpcMaxInputSize: 5, httpHeaderTimeoutSecs: 0, httpRequestTimeoutSecs: 2 });
    expect(() => quietly(() => parseArgs(["--model-repository", "/a", "--grpc-max-input-size", "0"]))).toThrow(/--grpc-max-input-size/);
  });

  it("reads poll mode's --repository-poll-secs (default 15) and --model-config-name", () => {
    expect(parseArgs(["--model-repository", "/a", "--model-control-mode=poll"])).toMatchObject({ modelControlMode: "poll", repositoryPollSecs: 15 });
    expect(parseArgs(["--model-repository", "/a", "--model-control-mode=poll", "--repository-poll-secs=0.5", "--model-config-name", "alt"]))
      .toMatchObject({ repositoryPollSecs: 0.5, modelConfigName: "alt" });
    expect(parseArgs(["--model-repository", "/a"]).modelConfigName).toBeUndefined();
    for (const bad of ["-1", "x", ""]) {
      expect(() => quietly(() => parseArgs(["--model-repository", "/a", `--repository-poll-secs=${bad}`]))).toThrow(/--repository-poll-secs/);
    }
  });

  it("reads --http-restricted-api and --grpc-restricted-protocol (repeatable)", () => {
    const o = parseArgs(["--model-repository", "/a", "--http-restricted-api", "model-repository:k=v",
      "--http-restricted-api=statistics,health:k2=v2", "--grpc-restricted-protocol", "inference:key=x"]);
    expect(o.httpRestrictedApi!.refusal("statistics", (h) => (h === "k2" ? "v2" : undefined))).toBeNull();
    expect(o.httpRestrictedApi!.refusal("model-repository", () => undefined)).toBe("This API is restricted, expecting header 'k'");
    expect(o.grpcRestrictedProtocol!.refusal("inference", () => undefined))
      .toBe("This protocol is restricted, expecting header 'triton-grpc-protocol-key'");
    expect(() => quietly(() => parseArgs(["--model-repository", "/a", "--http-restricted-api", "nope:k=v"])))
      .toThrow(/unknown restricted api 'nope'/);
  });

  it("reads the stub backend's --backend-config settings and ignores other backends'", () => {
    expect(stubOptionsFrom(["python,shm-default-byte-size=4096", "typescript,shm-growth-byte-size=8192",
      "python,stub-timeout-seconds=2", "onnxruntime,default-max-batch-size=4"]))
      .toEqual({ arenaBytes: 4096, growthBytes: 8192, stubTimeoutMs: 2000 });
    expect(() => stubOptionsFrom(["python,shm-default-byte-size=-1"])).toThrow(/positive number/);
    expect(() => stubOptionsFrom(["python,nonsense=1"])).toThrow(/unknown setting 'nonsense'/);
    expect(() => stubOptionsFrom(["garbage"])).toThrow(/expects <backend>,<setting>=<value>/);
  });
});
