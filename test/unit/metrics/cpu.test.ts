import { describe, expect, it } from "vitest";
import { CpuSampler, parseMemInfo, parseProcStat } from "../../../src/metrics/cpu.js";

describe("CPU metrics", () => {
  it("reads busy and total jiffies from /proc/stat's cpu line (iowait is idle)", () => {
    const stat = "cpu  100 10 50 800 40 5 5 2 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1\n";
    expect(parseProcStat(stat)).toEqual({ busy: 100 + 10 + 50 + 5 + 5 + 2, total: 100 + 10 + 50 + 800 + 40 + 5 + 5 + 2 });
    expect(parseProcStat("cpu0 1 2 3 4\n")).toBeNull();
    expect(parseProcStat("cpu  a b c d\n")).toBeNull();
  });

  it("reads RAM from /proc/meminfo: used = MemTotal - MemAvailable", () => {
    const info = "MemTotal:       16000 kB\nMemFree:         1000 kB\nMemAvailable:    6000 kB\n";
    expect(parseMemInfo(info)).toEqual({ totalBytes: 16000 * 1024, usedBytes: 10000 * 1024 });
    expect(parseMemInfo("MemTotal: 5 kB\n")).toBeNull();
  });

  it("samples this machine: utilization within [0, 1], used within total", () => {
    const cpu = new CpuSampler();
    for (let i = 0; i < 1e6; i++) Math.sqrt(i); // some busy time between the samples
    cpu.poll();
    const r = cpu.reading;
    expect(r.utilization).toBeGreaterThanOrEqual(0);
    expect(r.utilization).toBeLessThanOrEqual(1);
    expect(r.totalBytes).toBeGreaterThan(0);
    expect(r.usedBytes).toBeGreaterThan(0);
    expect(r.usedBytes).toBeLessThanOrEqual(r.totalBytes);
    cpu.start(10);
    cpu.stop();
  });
});
