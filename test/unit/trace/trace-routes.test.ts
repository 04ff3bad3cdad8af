/** The trace extension's HTTP paths: both methods served, others 405, its restricted category. */
import { describe, expect, it } from "vitest";
import { matchRoute, routeCategory } from "../../../src/http/router.js";

describe("trace setting routes", () => {
  it("matches the global and the per-model path, GET and POST", () => {
    expect(matchRoute("GET", "/v2/trace/setting")).toEqual({ kind: "found", route: { kind: "trace-setting" } });
    expect(matchRoute("POST", "/v2/models/my%20model/trace/setting")).toEqual({ kind: "found", route: { kind: "trace-setting", model: "my model" } });
    expect(matchRoute("DELETE", "/v2/trace/setting")).toMatchObject({ kind: "method-not-allowed", allow: "GET, POST" });
    expect(routeCategory({ kind: "trace-setting" })).toBe("trace");
  });

  it("matches nothing for near misses", () => {
    for (const url of ["/v2/trace", "/v2/trace/settings", "/v2/trace/setting/x", "/v2/models/m/versions/1/trace/setting", "/v2/models/m/trace"]) {
      expect(matchRoute("GET", url).kind, url).toBe("not-found");
    }
  });
});
