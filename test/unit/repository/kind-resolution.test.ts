import { describe, expect, it } from "vitest";
import { ServerError } from "../../../src/errors/index.js";
import { parseConfigText } from "../../../src/config/parse.js";
import { validateModelConfig, type ModelConfig } from "../../../src/config/schema.js";
import { kindResolution } from "../../../src/repository/model-manager.js";
import type { GpuDiscovery } from "../../../src/backends/gpus.js";

const IO = `input [{ name: "x" data_type: TYPE_FP32 dims: [ 4 ] }] output [{ name: "y" data_type: TYPE_FP32 dims: [ 4 ] }]`;
const TWO_GPUS: GpuDiscovery = { ids: [0, 1], source: "/proc/driver/nvidia/gpus lists 2 GPUs (a, b)" };
const NO_GPU: GpuDiscovery = { ids: [], source: "no NVIDIA GPU found" };

function resolve(text: string, found: GpuDiscovery): { cfg: ModelConfig; lines: string[] } {
  const lines: string[] = [];
  const cfg = validateModelConfig(parseConfigText(text, "config.pbtxt"), {
    modelName: "m", ...kindResolution("m", found, (level, source, message) => lines.push(`${level} ${source} ${message}`)),
  });
  return { cfg, lines };
}

describe("KIND_AUTO resolution with discovered GPUs", () => {
  it("becomes KIND_GPU on every GPU found, one INFO line saying why", () => {
    const { cfg, lines } = resolve(`backend: "onnxruntime" ${IO}`, TWO_GPUS);
    expect(cfg.instance_group).toMatchObject([{ name: "m", kind: "KIND_GPU", count: 1, gpus: [0, 1] }]);
    expect(lines).toEqual([
      "INFO model_manager 'm' instance group 'm': KIND_AUTO → KIND_GPU on GPUs 0, 1 (/proc/driver/nvidia/gpus lists 2 GPUs (a, b))",
    ]);
  });

  it("becomes KIND_CPU with none (onnxruntime's CPU default of two instances), with its line", () => {
    const { cfg, lines } = resolve(`backend: "onnxruntime" ${IO}`, NO_GPU);
    expect(cfg.instance_group).toMatchObject([{ name: "m", kind: "KIND_CPU", count: 2, gpus: [] }]);
    expect(lines).toEqual(["INFO model_manager 'm' instance group 'm': KIND_AUTO → KIND_CPU (no NVIDIA GPU found)"]);
  });

  it("keeps the GPUs a KIND_AUTO group names, and logs nothing for explicit kinds", () => {
    const { cfg, lines } = resolve(`backend: "python" ${IO} instance_group [{ gpus: [ 1 ] }, { kind: KIND_CPU }, { kind: KIND_GPU }]`, TWO_GPUS);
    expect(cfg.instance_group).toMatchObject([
      { name: "m_0", kind: "KIND_GPU", gpus: [1] }, { name: "m_1", kind: "KIND_CPU", gpus: [] }, { name: "m_2", kind: "KIND_GPU", gpus: [0, 1] },
    ]);
    expect(lines).toEqual(["INFO model_manager 'm' instance group 'm_0': KIND_AUTO → KIND_GPU on GPU 1 (/proc/driver/nvidia/gpus lists 2 GPUs (a, b))"]);
  });

  it("applies Triton's GPU checks once GPUs are known", () => {
    expect(() => resolve(`backend: "python" ${IO} instance_group [{ kind: KIND_GPU gpus: [ 2 ] }]`, TWO_GPUS)).toThrow(ServerError);
    expect(() => resolve(`backend: "python" ${IO} instance_group [{ kind: KIND_GPU gpus: [ 2 ] }]`, TWO_GPUS))
      .toThrow(/specifies invalid or unsupported gpu id 2/);
  });

  it("leaves KIND_GPU groups to the stub's provider check when no GPU is found", () => {
    const { cfg, lines } = resolve(`backend: "python" ${IO} instance_group [{ kind: KIND_GPU }]`, NO_GPU);
    expect(cfg.instance_group).toMatchObject([{ kind: "KIND_GPU", gpus: [] }]);
    expect(lines).toEqual([]);
  });
});
