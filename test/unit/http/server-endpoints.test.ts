import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ServerError } from "../../../src/errors/index.js";
import { FakeApi, postJson, rawRequest, responseOf, start, type Running } from "./helpers.js";

let api: FakeApi;
let server: Running;

beforeEach(async () => {
  api = new FakeApi();
  server = await start(api, 4096);
});
afterEach(async () => {
  await server.close();
});

const get = (path: string) => fetch(server.url + path);
const post = (path: string, body?: string) => fetch(server.url + path, { method: "POST", body });

describe("health", () => {
  it("answers 200 with an empty body when live and ready", async () => {
    for (const path of ["/v2/health/live", "/v2/health/ready"]) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("");
    }
  });

  it("answers 400 with an empty body when not", async () => {
    api.live = false;
    api.ready = false;
    for (const path of ["/v2/health/live", "/v2/health/ready"]) {
      const res = await get(path);
      expect(res.status).toBe(400);
      expect(await res.text()).toBe("");
    }
  });

  it("answers 400 when the probe throws", async () => {
    api.isReady = () => {
      throw new Error("broken");
    };
    expect((await get("/v2/health/ready")).status).toBe(400);
  });
});

describe("metadata, config and readiness", () => {
  it("serves server metadata", async () => {
    const res = await get("/v2");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toEqual(api.serverMetadata());
  });

  it("serves model metadata, passing the version on", async () => {
    api.addModel("m", [{ name: "in", datatype: "FP32", shape: [-1, 4] }], 8);
    const res = await get("/v2/models/m/versions/7");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(api.models.get("m")!.metadata);
    await get("/v2/models/m");
    expect(api.metadataCalls).toEqual([["m", "7"], ["m", undefined]]);
  });

  it("maps an unknown model to 404 with the core's message", async () => {
    const res = await get("/v2/models/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "Request for unknown model: 'nope' is not found" });
  });

  it("serves the model config", async () => {
    const res = await get("/v2/models/echo/config");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ name: "echo", max_batch_size: 0, input: [] });
  });

  it("answers model readiness: 200 empty, or 400 with Triton's text", async () => {
    api.addModel("cold", [], 0, false);
    const ok = await get("/v2/models/echo/ready");
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("");
    const cold = await get("/v2/models/cold/versions/1/ready");
    expect(cold.status).toBe(400);
    expect(await cold.json()).toEqual({ error: "Model version not ready" });
  });
});

describe("repository", () => {
  it("indexes all models without a body and ready ones on request", async () => {
    const all = await post("/v2/repository/index");
    expect(all.status).toBe(200);
    expect(await all.json()).toEqual([{ name: "echo", version: "1", state: "READY" }]);
    await post("/v2/repository/index", JSON.stringify({ ready: true }));
    expect(api.indexCalls).toEqual([{ ready: false }, { ready: true }]);
  });

  it("refuses a malformed index body", async () => {
    const bad = await post("/v2/repository/index", JSON.stringify({ ready: "yes" }));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: "Invalid value for 'ready': expected a boolean" });
    for (const ready of ["null", "1", "[true]", '{"x":true}']) {
      const res = await post("/v2/repository/index", `{"ready":${ready}}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: "Invalid value for 'ready': expected a boolean" });
    }
    const broken = await post("/v2/repository/index", "{");
    expect(broken.status).toBe(400);
    expect((await broken.json()).error).toMatch(/^failed to parse the request JSON buffer/);
  });

  it("loads with and without a config override", async () => {
    const config = JSON.stringify({ max_batch_size: 4 });
    const a = await post("/v2/repository/models/m1/load", JSON.stringify({ parameters: { config } }));
    expect(a.status).toBe(200);
    expect(await a.text()).toBe("");
    await post("/v2/repository/models/m2/load");
    expect(api.loads).toEqual([["m1", { config }], ["m2", {}]]);
  });

  it("refuses load parameters as Triton does, and hands file: overrides on", async () => {
    const file = await post(
      "/v2/repository/models/m/load",
      JSON.stringify({ parameters: { "file:1/model.onnx": "AAAA" } }),
    );
    expect(file.status).toBe(200);
    const other = await post("/v2/repository/models/m/load", JSON.stringify({ parameters: { x: "1" } }));
    expect(other.status).toBe(500);
    expect(await other.json()).toEqual({ error: "unexpected error on creating Triton parameter" });
    for (const parameters of [{ config: { max_batch_size: 1 } }, { config: 1 }, { "file:a": null }]) {
      const res = await post("/v2/repository/models/m/load", JSON.stringify({ parameters }));
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: "attempt to access JSON non-string as string" });
    }
    const notObject = await post("/v2/repository/models/m/load", JSON.stringify({ parameters: [] }));
    expect(notObject.status).toBe(500);
    expect(await notObject.json()).toEqual({ error: "attempt to get members for non-object" });
    // The file itself is the repository's to judge: the front end hands it on, decoded.
    expect(api.loads).toEqual([["m", { files: [{ key: "file:1/model.onnx", data: Buffer.from([0, 0, 0]) }] }]]);
  });

  it("maps a load failure through HTTP_STATUS", async () => {
    api.loadError = new ServerError("INVALID_ARG", "failed to load 'm': bad config");
    const res = await post("/v2/repository/models/m/load");
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "failed to load 'm': bad config" });
  });

  it("unloads, accepting unload_dependents: false but not true", async () => {
    expect((await post("/v2/repository/models/m/unload")).status).toBe(200);
    const f = await post("/v2/repository/models/m/unload", JSON.stringify({ parameters: { unload_dependents: false } }));
    expect(f.status).toBe(200);
    const t = await post("/v2/repository/models/m/unload", JSON.stringify({ parameters: { unload_dependents: true } }));
    expect(t.status).toBe(501);
    expect(api.unloads).toEqual(["m", "m"]);
  });

  it("refuses a named repository as unsupported", async () => {
    const res = await post("/v2/repository/other/index");
    expect(res.status).toBe(501);
    expect(await res.json()).toEqual({ error: "'repository_name' specification is not supported" });
  });
});

describe("routing errors", () => {
  it.each(["/", "/v1/models/m", "/v2/models/m/versions/x/infer", "/v2/health/", "/v2/models/m/statistics"])(
    "answers 404 {error: Not Found} for %s",
    async (path) => {
      const res = await get(path);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: "Not Found" });
    },
  );

  it("answers 405 with Allow for a known path with the wrong method", async () => {
    const a = await get("/v2/models/echo/infer");
    expect(a.status).toBe(405);
    expect(a.headers.get("allow")).toBe("POST");
    expect(await a.json()).toEqual({ error: "Method Not Allowed" });
    const b = await post("/v2/health/live");
    expect(b.status).toBe(405);
    expect(b.headers.get("allow")).toBe("GET");
    expect((await fetch(server.url + "/v2/models/echo", { method: "DELETE" })).status).toBe(405);
  });
});

describe("core errors", () => {
  const input = { name: "x", datatype: "INT32", shape: [1], data: [1] };
  it.each([
    ["INVALID_ARG", 400], ["NOT_FOUND", 404], ["UNAVAILABLE", 503], ["INTERNAL", 500],
    ["UNSUPPORTED", 501], ["ALREADY_EXISTS", 400], ["CANCELLED", 400], ["UNKNOWN", 400],
  ])("maps %s to %i with the message", async (code, status) => {
    const res = await postJson(server.url + "/v2/models/echo/infer", {
      parameters: { fail: code }, inputs: [input],
    });
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({ error: `injected ${code} failure` });
  });

  it("answers 500 for a non-ServerError without leaking the stack, and logs it", async () => {
    const res = await postJson(server.url + "/v2/models/echo/infer", {
      parameters: { fail: "TypeError" }, inputs: [input],
    });
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(JSON.parse(body)).toEqual({ error: "not a server error" });
    expect(body).not.toMatch(/\bat \S+:\d+/);
    expect(server.logs.some((l) => l.includes("TypeError: not a server error"))).toBe(true);
  });
});

describe("body limits and encodings", () => {
  it("answers 413 from Content-Length alone, before the body arrives", async () => {
    const req = rawRequest(server.port, "/v2/models/echo/infer", { "Content-Length": 5000 });
    req.write("{");
    const res = await responseOf(req);
    req.destroy();
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error).toBe(
      "Request body size of 5000 bytes exceeds the maximum allowed size of 4096 bytes. " +
      "Use --http-max-input-size to increase the limit.",
    );
  });

  it("answers 413 for a chunked body that grows past the limit", async () => {
    const req = rawRequest(server.port, "/v2/repository/index", { "Transfer-Encoding": "chunked" });
    req.write(Buffer.alloc(3000, 32));
    req.write(Buffer.alloc(3000, 32));
    const res = await responseOf(req);
    req.destroy();
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error).toMatch(/exceeds the maximum allowed size of 4096 bytes/);
  });

  it("accepts a body exactly at the limit", async () => {
    const body = JSON.stringify({ ready: true }).padEnd(4096, " ");
    expect((await post("/v2/repository/index", body)).status).toBe(200);
  });

  it("decompresses gzip and deflate bodies", async () => {
    const payload = {
      inputs: [{ name: "x", datatype: "INT32", shape: [2], data: [1, 2] }],
    };
    const res = await fetch(server.url + "/v2/models/echo/infer", {
      method: "POST", headers: { "Content-Encoding": "gzip" }, body: gzipSync(JSON.stringify(payload)),
    });
    expect(res.status).toBe(200);
    expect((await res.json()).outputs[0].data).toEqual([1, 2]);
  });

  it("answers 413 when a body decompresses past the limit", async () => {
    const res = await fetch(server.url + "/v2/models/echo/infer", {
      method: "POST", headers: { "Content-Encoding": "gzip" }, body: gzipSync(Buffer.alloc(100_000, 32)),
    });
    expect(res.status).toBe(413);
    expect((await res.json()).error).toMatch(/decompresses to more than the maximum allowed size/);
  });

  it("refuses an unknown encoding as unsupported, listing the ones it takes", async () => {
    const res = await fetch(server.url + "/v2/models/echo/infer", {
      method: "POST", headers: { "Content-Encoding": "br" }, body: "x",
    });
    expect(res.status).toBe(501);
    expect(res.headers.get("accept-encoding")).toBe("gzip, deflate");
    expect(await res.json()).toEqual({ error: "Unsupported compression type" });
  });
});
