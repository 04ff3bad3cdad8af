import { describe, expect, it } from "vitest";
import { instanceSlots } from "../../../src/backends/stub/stub-model.js";

type Group = Parameters<typeof instanceSlots>[0]["instance_group"][number];
const group = (g: Partial<Group>): Group => ({
  name: "g", kind: "KIND_CPU", count: 1, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: "", ...g,
} as Group);

describe("instanceSlots", () => {
  it("places count instances on each GPU of a KIND_GPU group, as Triton does", () => {
    expect(instanceSlots({ instance_group: [group({ kind: "KIND_GPU", count: 2, gpus: [0, 1] })] })).toEqual([
      { name: "g_0", kind: "GPU", deviceId: 0 }, { name: "g_1", kind: "GPU", deviceId: 1 },
      { name: "g_2", kind: "GPU", deviceId: 0 }, { name: "g_3", kind: "GPU", deviceId: 1 },
    ]);
  });

  it("places CPU groups, and GPU groups the server could not check, count times on device 0", () => {
    expect(instanceSlots({ instance_group: [group({ name: "c", count: 2 }), group({ name: "u", kind: "KIND_GPU" })] })).toEqual([
      { name: "c_0", kind: "CPU", deviceId: 0 }, { name: "c_1", kind: "CPU", deviceId: 0 }, { name: "u_0", kind: "GPU", deviceId: 0 },
    ]);
  });
});
