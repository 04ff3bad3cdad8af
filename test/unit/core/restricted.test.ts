import { describe, expect, it } from "vitest";
import { GRPC_RESTRICTED_HEADER_PREFIX, RESTRICTED_CATEGORIES, RestrictedFeatures } from "../../../src/core/restricted.js";

const http = (...specs: string[]) => new RestrictedFeatures(specs, { option: "http-restricted-api", feature: "api" });
const headers = (h: Record<string, string>) => (key: string) => h[key];

describe("RestrictedFeatures", () => {
  it("has Triton's categories", () => {
    expect(RESTRICTED_CATEGORIES).toEqual(["health", "metadata", "inference", "shared-memory", "model-config",
      "model-repository", "statistics", "trace", "logging"]);
  });

  it("serves a restricted category only with the header and its value", () => {
    const r = http("model-repository,statistics:Admin-Key=s3cret", "inference:infer-key=k");
    expect(r.refusal("health", headers({}))).toBeNull();
    expect(r.refusal("model-repository", headers({ "admin-key": "s3cret" }))).toBeNull();
    expect(r.refusal("model-repository", headers({}))).toBe("This API is restricted, expecting header 'Admin-Key'");
    expect(r.refusal("statistics", headers({ "admin-key": "wrong" }))).toBe("This API is restricted, expecting header 'Admin-Key'");
    expect(r.refusal("inference", headers({ "infer-key": "k" }))).toBeNull();
    expect(r.refusal("inference", headers({ "admin-key": "s3cret" }))).toBe("This API is restricted, expecting header 'infer-key'");
  });

  it("prefixes gRPC keys as Triton does and says 'protocol'", () => {
    const r = new RestrictedFeatures(["inference:key=v"], { option: "grpc-restricted-protocol", feature: "protocol", headerPrefix: GRPC_RESTRICTED_HEADER_PREFIX });
    expect(r.refusal("inference", headers({ "triton-grpc-protocol-key": "v" }))).toBeNull();
    expect(r.refusal("inference", headers({ key: "v" }))).toBe("This protocol is restricted, expecting header 'triton-grpc-protocol-key'");
  });

  it("refuses bad specs with tritonserver's texts", () => {
    expect(() => http("health")).toThrow("--http-restricted-api option format is '<config name>:<setting>=<value>'. Got health");
    expect(() => http("health:key")).toThrow(/option format is/);
    expect(() => http("health:=v")).toThrow(/option format is/);
    expect(() => http(":k=v")).toThrow(/option format is/);
    expect(() => http("health:k=")).toThrow(/option format is/);
    expect(() => http("healthz:k=v")).toThrow("unknown restricted api 'healthz'");
    expect(() => http("health:k=v", "health,metadata:k2=v2")).toThrow("restricted api 'health' can not be specified in multiple config groups");
    expect(RestrictedFeatures.NONE.empty).toBe(true);
    expect(http("health:k=a=b").refusal("health", headers({ k: "a=b" }))).toBeNull();
  });
});
