import { describe, expect, it } from "vitest";
import { parseArgs, stubOptionsFrom } from "../../../src/cli.js";

describe("CLI", () => {
  it("takes tritonserver's flags and defaults", () => {
    const o = parseArgs(["--model-repository", "/a", "--model-repository=/b", "--http-port=0", "--allow-grpc=false",
      "--model-control-mode", "explicit", "--load-model", "x", "--load-model=y", "--exit-on-error=false"]);
    expect(o.modelRepositories).toEqual(["/a", "/b"]);
    expect(o).toMatchObject({ httpPort: 0, grpcPort: 8001, metricsPort: 8002, allowGrpc: false, allowHttp: true,
      modelControlMode: "explicit", loadModels: ["x", "y"], exitOnError: false, strictReadiness: true,
      httpMaxInputSize: 64 * 1024 * 1024 });
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
