/**
 * What the HTTP front end checks before it reads a request: the restricted APIs
 * (--http-restricted-api: 403 and Triton's text, before the method is looked at) and the header
 * and request timeouts that keep a slow or stalled client from holding a socket and a part-read body.
 */
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { RestrictedFeatures } from "../../../src/core/restricted.js";
import { FakeApi, postJson, start, type Running } from "./helpers.js";

let server: Running | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const restricted = (...specs: string[]) => new RestrictedFeatures(specs, { option: "http-restricted-api", feature: "api" });

describe("restricted APIs", () => {
  it("answers a restricted API 403 unless the header has the value, others as usual", async () => {
    server = await start(new FakeApi(), 1 << 20, { restricted: restricted("model-repository,inference:Admin-Key=s3cret") });
    const text = { error: "This API is restricted, expecting header 'Admin-Key'" };
    expect((await fetch(`${server.url}/v2/health/live`)).status).toBe(200);
    const index = await fetch(`${server.url}/v2/repository/index`, { method: "POST" });
    expect(index.status).toBe(403);
    expect(await index.json()).toEqual(text);
    const wrong = await fetch(`${server.url}/v2/repository/index`, { method: "POST", headers: { "admin-key": "guess" } });
    expect(wrong.status).toBe(403);
    const allowed = await fetch(`${server.url}/v2/repository/index`, { method: "POST", headers: { "Admin-Key": "s3cret" } });
    expect(allowed.status).toBe(200);
    const infer = await postJson(`${server.url}/v2/models/echo/infer`, { inputs: [] });
    expect([infer.status, await infer.json()]).toEqual([403, text]);
    const inferOk = await postJson(`${server.url}/v2/models/echo/infer`, { inputs: [] }, { "admin-key": "s3cret" });
    expect(inferOk.status).toBe(200);
    // As in Triton, the restriction comes before the method check.
    expect((await fetch(`${server.url}/v2/models/echo/infer`)).status).toBe(403);
    expect((await fetch(`${server.url}/v2/models/echo/infer`, { headers: { "admin-key": "s3cret" } })).status).toBe(405);
  });
});

/** Opens a socket, writes `text`, and resolves with what came back once the server closed it. */
function stall(port: number, text: string): Promise<{ reply: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    let reply = "";
    const socket: Socket = connect(port, "127.0.0.1", () => socket.write(text));
    socket.on("data", (c: Buffer) => (reply += c.toString()));
    socket.on("error", () => {});
    socket.on("close", () => resolve({ reply, ms: Date.now() - t0 }));
    setTimeout(() => {
      socket.destroy();
      reject(new Error("the server kept the stalled socket open"));
    }, 8000).unref();
  });
}

describe("timeouts", () => {
  it("closes a request whose body stops coming, with 408, after the request timeout", async () => {
    server = await start(new FakeApi(), 1 << 20, { headersTimeoutMs: 500, requestTimeoutMs: 500 });
    const { reply, ms } = await stall(server.port,
      "POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"inputs\":");
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(ms).toBeLessThan(3000);
  });

  it("closes a connection whose headers stop coming", async () => {
    server = await start(new FakeApi(), 1 << 20, { headersTimeoutMs: 500, requestTimeoutMs: 1000 });
    const { ms } = await stall(server.port, "POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\n");
    expect(ms).toBeLessThan(3000);
  });

  it("keeps a headers timeout within a shorter request timeout (Node refuses otherwise)", async () => {
    server = await start(new FakeApi(), 1 << 20, { headersTimeoutMs: 30_000, requestTimeoutMs: 500 });
    expect((await fetch(`${server.url}/v2/health/live`)).status).toBe(200);
  });
});
