import { describe, expect, it } from "vitest";
import { chooseExecutionProvider, configuredGpuAccelerators, type ExecutionProviderName } from "../../../stub/sdk/index.js";
import { TritonError } from "../../../stub/sdk/errors.js";

/** A probe with availability injected: null = works, a string = why not. */
function probe(available: Partial<Record<ExecutionProviderName, string | null>>) {
  const tried: ExecutionProviderName[] = [];
  const fn = async (ep: ExecutionProviderName) => {
    tried.push(ep);
    return ep in available ? available[ep]! : "not available";
  };
  return { fn, tried };
}

describe("chooseExecutionProvider", () => {
  it("KIND_CPU uses the CPU provider and never tries a GPU one", async () => {
    const p = probe({ cpu: null, cuda: null });
    expect(await chooseExecutionProvider("CPU", ["cuda"], p.fn)).toEqual({ executionProvider: "cpu", reason: "KIND_CPU" });
    expect(p.tried).toEqual(["cpu"]);
  });

  it("KIND_GPU prefers CUDA, then WebGPU", async () => {
    expect((await chooseExecutionProvider("GPU", [], probe({ cuda: null, webgpu: null }).fn)).executionProvider).toBe("cuda");
    const p = probe({ cuda: "libcudart missing", webgpu: null, cpu: null });
    const c = await chooseExecutionProvider("GPU", [], p.fn);
    expect(c.executionProvider).toBe("webgpu");
    expect(c.reason).toContain("cuda: libcudart missing");
    expect(p.tried).toEqual(["cuda", "webgpu"]);
  });

  it("KIND_GPU without any GPU provider is an error naming each missing piece, never CPU", async () => {
    const p = probe({ cuda: "no driver", webgpu: "no adapter", cpu: null });
    const err = await chooseExecutionProvider("GPU", [], p.fn).catch((e) => e);
    expect(err).toBeInstanceOf(TritonError);
    expect(err.message()).toMatch(/no GPU execution provider could start \(cuda: no driver; webgpu: no adapter\)/);
    expect(p.tried).not.toContain("cpu");
  });

  it("KIND_AUTO falls back to CPU and says why", async () => {
    const c = await chooseExecutionProvider("AUTO", [], probe({ cuda: "no driver", webgpu: "no adapter", cpu: null }).fn);
    expect(c.executionProvider).toBe("cpu");
    expect(c.reason).toMatch(/KIND_AUTO found no GPU provider \(cuda: no driver; webgpu: no adapter\), using CPU/);
    expect((await chooseExecutionProvider("AUTO", [], probe({ cuda: null }).fn)).executionProvider).toBe("cuda");
  });

  it("the config's gpu_execution_accelerator list overrides the order, and only those are tried", async () => {
    const p = probe({ cuda: null, webgpu: null });
    const c = await chooseExecutionProvider("GPU", ["webgpu"], p.fn);
    expect(c).toEqual({ executionProvider: "webgpu", reason: "gpu_execution_accelerator" });
    expect(p.tried).toEqual(["webgpu"]);
    const err = await chooseExecutionProvider("GPU", ["cuda"], probe({ cuda: "no driver", webgpu: null }).fn).catch((e) => e);
    expect(err.message()).toContain("cuda: no driver");
    const bad = await chooseExecutionProvider("GPU", ["tensorrt"], probe({}).fn).catch((e) => e);
    expect(bad.message()).toMatch(/'tensorrt' is not supported/);
  });

  it("reads the accelerators from the config", () => {
    expect(configuredGpuAccelerators({})).toEqual([]);
    expect(configuredGpuAccelerators({ optimization: { execution_accelerators: { gpu_execution_accelerator: [{ name: "WebGPU" }, { name: "cuda" }] } } }))
      .toEqual(["webgpu", "cuda"]);
  });
});
