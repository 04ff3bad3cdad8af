import { describe, expect, it } from "vitest";
import { discoverGpus, type GpuFs } from "../../../src/backends/gpus.js";

/** A file system holding only the given folders (anything else: ENOENT). */
function fakeFs(dirs: Record<string, string[]>): GpuFs {
  return {
    readdir(path) {
      const entries = dirs[path];
      if (!entries) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
      return entries;
    },
  };
}

describe("discoverGpus", () => {
  it("counts the driver's GPU folders under /proc, in PCI bus order", () => {
    const found = discoverGpus(fakeFs({ "/proc/driver/nvidia/gpus": ["0000:41:00.0", "0000:01:00.0"] }), {});
    expect(found.ids).toEqual([0, 1]);
    expect(found.source).toBe("/proc/driver/nvidia/gpus lists 2 GPUs (0000:01:00.0, 0000:41:00.0)");
  });

  it("falls back to /dev/nvidia<N> nodes, ignoring nvidiactl, nvidia-uvm and friends", () => {
    const found = discoverGpus(fakeFs({ "/dev": ["null", "nvidiactl", "nvidia-uvm", "nvidia0", "nvidia-modeset", "shm"] }), {});
    expect(found.ids).toEqual([0]);
    expect(found.source).toBe("/dev has 1 NVIDIA device node (nvidia0)");
  });

  it("finds none without the driver", () => {
    const found = discoverGpus(fakeFs({ "/dev": ["null", "shm"] }), {});
    expect(found.ids).toEqual([]);
    expect(found.source).toMatch(/^no NVIDIA GPU found/);
  });

  it("narrows by CUDA_VISIBLE_DEVICES as CUDA does (renumbered from 0, stops at an invalid index)", () => {
    const fs = fakeFs({ "/proc/driver/nvidia/gpus": ["a", "b", "c", "d"] });
    expect(discoverGpus(fs, { CUDA_VISIBLE_DEVICES: "2,3" }).ids).toEqual([0, 1]);
    expect(discoverGpus(fs, { CUDA_VISIBLE_DEVICES: "1,7,2" }).ids).toEqual([0]);
    expect(discoverGpus(fs, { CUDA_VISIBLE_DEVICES: "" }).ids).toEqual([]);
    expect(discoverGpus(fs, { CUDA_VISIBLE_DEVICES: "-1" }).ids).toEqual([]);
    // UUIDs are not resolved: all GPUs stay.
    expect(discoverGpus(fs, { CUDA_VISIBLE_DEVICES: "GPU-8f3a" }).ids).toEqual([0, 1, 2, 3]);
    expect(discoverGpus(fs, { CUDA_VISIBLE_DEVICES: "2,3" }).source).toContain('CUDA_VISIBLE_DEVICES="2,3" leaves 2');
  });
});
