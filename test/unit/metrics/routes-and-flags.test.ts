/** The statistics routes of the HTTP front end, and the metrics flags of the CLI. */
import { describe, expect, it } from "vitest";
import { parseArgs } from "../../../src/cli.js";
import { matchRoute, parsePath } from "../../../src/http/router.js";

describe("statistics routes", () => {
  it("matches Triton's statistics paths", () => {
    expect(parsePath("/v2/models/stats")).toEqual({ kind: "model-stats" });
    expect(parsePath("/v2/models/m/stats")).toEqual({ kind: "model-stats", model: "m", version: undefined });
    expect(parsePath("/v2/models/m/versions/3/stats")).toEqual({ kind: "model-stats", model: "m", version: "3" });
    expect(parsePath("/v2/models/a%20b/stats?x=1")).toEqual({ kind: "model-stats", model: "a b", version: undefined });
    expect(parsePath("/v2/models/m/versions/x/stats")).toBeNull();
    expect(parsePath("/v2/models/m/stats/more")).toBeNull();
    // A model named "stats" still has its other routes.
    expect(parsePath("/v2/models/stats/ready")).toEqual({ kind: "model-ready", model: "stats", version: undefined });
    expect(matchRoute("POST", "/v2/models/stats")).toMatchObject({ kind: "method-not-allowed", allow: "GET" });
  });
});

describe("metrics flags", () => {
  it("takes tritonserver's metrics flags, with its defaults", () => {
    const defaults = parseArgs(["--model-repository", "/r"]);
    expect(defaults).toMatchObject({ allowMetrics: true, metricsPort: 8002, metricsIntervalMs: 2000, allowCpuMetrics: true, allowGpuMetrics: true });
    expect(defaults.metricsAddress).toBeUndefined();
    expect(parseArgs(["--model-repository", "/r", "--allow-metrics=false", "--metrics-port", "0", "--metrics-address", "10.0.0.1",
      "--metrics-interval-ms=500", "--allow-cpu-metrics", "false", "--allow-gpu-metrics=false"]))
      .toMatchObject({ allowMetrics: false, metricsPort: 0, metricsAddress: "10.0.0.1", metricsIntervalMs: 500,
        allowCpuMetrics: false, allowGpuMetrics: false });
    expect(() => parseArgs(["--model-repository", "/r", "--metrics-interval-ms", "0"])).toThrow();
  });
});
