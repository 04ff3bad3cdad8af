/**
 * isReady() from the handler (python_backend's is_ready) against the real server: model readiness
 * (HTTP and gRPC) and /v2/health/ready under --strict-readiness follow it on every instance; a
 * throw, a non-boolean or a check past five seconds is "not ready"; inference keeps being served
 * meanwhile.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyRepository, grpcClientOf, startServer, type RunningServer } from "./harness.js";
import { OBS_REPO, inferN, unary } from "./observability-helpers.js";
import { stopCleanly, waitUntil } from "./stub-helpers.js";

let server: RunningServer;
let repo: string;
let client: any;
beforeAll(async () => {
  repo = copyRepository(OBS_REPO);
  server = await startServer(repo, { args: ["--allow-grpc", "true", "--grpc-port", "0", "--grpc-address", "127.0.0.1", "--log-verbose", "1"] });
  client = await grpcClientOf(server);
});
afterAll(async () => {
  client?.close();
  if (server) await stopCleanly(server);
  if (repo) rmSync(repo, { recursive: true, force: true });
});

const flag = (name: string, on: boolean) => {
  const path = join(repo, "ready_gate", name);
  if (on) writeFileSync(path, "");
  else rmSync(path, { force: true });
};
const modelReady = (model = "ready_gate") => fetch(`${server.url}/v2/models/${model}/ready`).then((r) => r.status);
const serverReady = () => fetch(`${server.url}/v2/health/ready`).then((r) => r.status);

describe("handler readiness", () => {
  it("asks isReady() of every instance on each check", async () => {
    expect(await modelReady()).toBe(200);
    const before = (server.log().match(/ready_gate isReady call/g) ?? []).length;
    expect(await modelReady()).toBe(200);
    // The handlers' log lines reach the server's log a moment after the answer.
    const calls = () => (server.log().match(/ready_gate isReady call/g) ?? []).length - before;
    await waitUntil(() => calls() >= 2, 5_000, "two isReady() log lines");
    expect(calls()).toBe(2); // two instances, one call each
    expect(await serverReady()).toBe(200);
  });

  it("a false answer makes the model and (strict readiness) the server not ready, over HTTP and gRPC", async () => {
    flag("NOT_READY", true);
    try {
      expect(await modelReady()).toBe(400);
      expect(await serverReady()).toBe(400);
      expect((await unary(client, "ModelReady", { name: "ready_gate", version: "" })).response.ready).toBe(false);
      expect((await unary(client, "ServerReady", {})).response.ready).toBe(false);
      // Other models are not affected, and the model still serves inference.
      expect(await modelReady("talker")).toBe(200);
      expect((await inferN(server, "ready_gate", 1)).status).toBe(200);
    } finally {
      flag("NOT_READY", false);
    }
    expect(await modelReady()).toBe(200);
    expect((await unary(client, "ModelReady", { name: "ready_gate", version: "1" })).response.ready).toBe(true);
    expect(await serverReady()).toBe(200);
  });

  it("a throw or a non-boolean is not ready, and the log says why", async () => {
    flag("THROW", true);
    try {
      expect(await modelReady()).toBe(400);
      await server.waitForLog(/ready_gate_0_\d' is not ready \(user-defined check failed\): dependency is down/);
    } finally {
      flag("THROW", false);
    }
    flag("NOT_BOOL", true);
    try {
      expect(await modelReady()).toBe(400);
      await server.waitForLog(/is_ready\(\) must return a boolean value/);
    } finally {
      flag("NOT_BOOL", false);
    }
    expect(await modelReady()).toBe(200);
  });

  it("a check past five seconds is not ready; concurrent checks share one call", async () => {
    flag("SLOW", true);
    const before = (server.log().match(/ready_gate isReady call/g) ?? []).length;
    const started = Date.now();
    try {
      const answers = await Promise.all([modelReady(), modelReady(), modelReady()]);
      expect(answers).toEqual([400, 400, 400]);
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(4900);
      expect(took).toBeLessThan(6900);
      const calls = (server.log().match(/ready_gate isReady call/g) ?? []).length - before;
      expect(calls).toBe(2); // one per instance, not one per client
    } finally {
      flag("SLOW", false);
    }
    // The slow calls finish in the stubs; later checks are answered again.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await modelReady()).toBe(200);
  });
});
