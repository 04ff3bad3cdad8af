import { describe, expect, it } from "vitest";
import { matchRoute, parsePath, routeCategory } from "../../../src/http/router.js";

describe("parsePath", () => {
  it("names the server routes", () => {
    expect(parsePath("/v2")).toEqual({ kind: "server-metadata" });
    expect(parsePath("/v2/health/live")).toEqual({ kind: "health", probe: "live" });
    expect(parsePath("/v2/health/ready")).toEqual({ kind: "health", probe: "ready" });
  });

  it("names model routes with and without a version", () => {
    expect(parsePath("/v2/models/m")).toEqual({ kind: "model-metadata", model: "m", version: undefined });
    expect(parsePath("/v2/models/m/versions/12")).toEqual({ kind: "model-metadata", model: "m", version: "12" });
    expect(parsePath("/v2/models/m/ready")).toEqual({ kind: "model-ready", model: "m", version: undefined });
    expect(parsePath("/v2/models/m/versions/3/config")).toEqual({ kind: "model-config", model: "m", version: "3" });
    expect(parsePath("/v2/models/m/versions/3/infer")).toEqual({ kind: "infer", model: "m", version: "3" });
    expect(parsePath("/v2/models/m/infer?x=1")).toEqual({ kind: "infer", model: "m", version: undefined });
  });

  it("decodes escaped model names and refuses malformed escapes", () => {
    expect(parsePath("/v2/models/my%20model/infer")).toMatchObject({ model: "my model" });
    expect(parsePath("/v2/models/bad%zz/infer")).toBeNull();
  });

  it("names repository routes, with a repository name when given", () => {
    expect(parsePath("/v2/repository/index")).toEqual({ kind: "repository-index", repository: undefined });
    expect(parsePath("/v2/repository/r1/index")).toEqual({ kind: "repository-index", repository: "r1" });
    expect(parsePath("/v2/repository/models/m/load")).toEqual({ kind: "repository-load", model: "m", repository: undefined });
    expect(parsePath("/v2/repository/models/m/unload")).toEqual({ kind: "repository-unload", model: "m", repository: undefined });
    expect(parsePath("/v2/repository/r1/models/m/load")).toEqual({ kind: "repository-load", model: "m", repository: "r1" });
  });

  it.each([
    "", "/", "/v1", "/v2/", "/v2x", "/v2/health", "/v2/health/dead", "/v2/models", "/v2/models/",
    "/v2/models/m/", "/v2//models/m", "/v2/models/m/versions", "/v2/models/m/versions/x1",
    "/v2/models/m/versions/1/bogus", "/v2/models/m/infer/more", "/v2/models/m/statistics",
    "/v2/repository", "/v2/repository/models/m", "/v2/repository/models/m/reload",
    "/v2/repository/r/x", "/v2/repository/a/b/c/d/e",
  ])("matches nothing for %j", (path) => {
    expect(parsePath(path)).toBeNull();
  });
});

describe("matchRoute", () => {
  it("accepts the route's method only", () => {
    expect(matchRoute("POST", "/v2/models/m/infer")).toMatchObject({ kind: "found" });
    expect(matchRoute("GET", "/v2/models/m/infer")).toEqual({ kind: "method-not-allowed", allow: "POST", route: { kind: "infer", model: "m" } });
    expect(matchRoute("GET", "/v2/health/live")).toMatchObject({ kind: "found" });
    expect(matchRoute("POST", "/v2/health/live")).toMatchObject({ kind: "method-not-allowed", allow: "GET" });
    expect(matchRoute("GET", "/v2/repository/index")).toMatchObject({ kind: "method-not-allowed", allow: "POST" });
    expect(matchRoute("GET", "/nothing")).toEqual({ kind: "not-found" });
    expect(matchRoute(undefined, undefined)).toEqual({ kind: "not-found" });
  });
});

describe("routeCategory", () => {
  it("puts each route in Triton's restricted-API category", () => {
    const category = (method: string, url: string) => {
      const m = matchRoute(method, url);
      return m.kind === "not-found" ? null : routeCategory(m.route);
    };
    expect(category("GET", "/v2/health/live")).toBe("health");
    expect(category("GET", "/v2/models/m/ready")).toBe("health");
    expect(category("GET", "/v2")).toBe("metadata");
    expect(category("GET", "/v2/models/m/versions/1")).toBe("metadata");
    expect(category("GET", "/v2/models/m/config")).toBe("model-config");
    expect(category("POST", "/v2/models/m/infer")).toBe("inference");
    expect(category("GET", "/v2/models/m/infer")).toBe("inference"); // the method is checked after
    expect(category("POST", "/v2/models/m/generate_stream")).toBe("inference");
    expect(category("GET", "/v2/models/stats")).toBe("statistics");
    expect(category("POST", "/v2/repository/index")).toBe("model-repository");
    expect(category("POST", "/v2/repository/models/m/unload")).toBe("model-repository");
  });
});
