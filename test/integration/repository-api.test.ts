/**
 * The model repository extension and model lifecycle over HTTP, against the real server: the
 * index, load / unload / reload in explicit mode (config overrides, new versions, requests in
 * flight across a reload), model-control-mode none, broken models with and without
 * --exit-on-error and --strict-readiness (poll mode: lifecycle-poll.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cpSync, readFileSync, readdirSync, rmSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, copyRepository, postJson, startServer, type RunningServer } from "./harness.js";

const REPO = join(FIXTURES, "repository-repo");
const BROKEN_REPO = join(FIXTURES, "broken-repo");

const input = (values: number[], shape = [values.length]) => ({ name: "INPUT0", datatype: "FP32", shape, data: values });

async function infer(url: string, model: string, parameters: Record<string, unknown> = {}, shape?: number[]) {
  return postJson(`${url}/v2/models/${model}/infer`, { parameters, inputs: [input([1, 2], shape)] });
}

async function get(url: string, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const index = async (url: string, body: unknown = {}) => postJson(`${url}/v2/repository/index`, body);
const load = (url: string, model: string, body?: unknown) => postJson(`${url}/v2/repository/models/${model}/load`, body ?? {});
const unload = (url: string, model: string) => postJson(`${url}/v2/repository/models/${model}/unload`, {});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stub processes the server has running now (its children running stub/main.js). */
function stubs(pid: number): number {
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return "";
    }
  };
  const children = read(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/).filter(Boolean);
  return children.filter((c) => read(`/proc/${c}/cmdline`).includes("stub/main.js")).length;
}

/** Waits (bounded) for the stub count to settle at `n`; returns the last count seen. */
async function settledStubs(pid: number, n: number): Promise<number> {
  let count = stubs(pid);
  for (let i = 0; i < 50 && count !== n; i++) {
    await sleep(100);
    count = stubs(pid);
  }
  return count;
}

/** Shared-memory names of this server still in /dev/shm: none once a peer has opened them. */
const namedSegments = (pid: number) => readdirSync("/dev/shm").filter((e) => e.startsWith(`tessera-${pid}-`));

/** A full JSON config for the fixture model, as tritonclient's load_model(config=...) sends it. */
function configJson(name: string, overrides: Record<string, unknown>): string {
  return JSON.stringify({
    name, backend: "typescript", max_batch_size: 0,
    input: [{ name: "INPUT0", data_type: "TYPE_FP32", dims: [-1] }],
    output: [{ name: "OUTPUT0", data_type: "TYPE_FP32", dims: [-1] }],
    instance_group: [{ count: 1, kind: "KIND_CPU" }],
    ...overrides,
  });
}

describe("explicit model control", () => {
  let server: RunningServer;
  let repo: string;

  beforeAll(async () => {
    repo = copyRepository(REPO);
    cpSync(join(BROKEN_REPO, "broken"), join(repo, "broken"), { recursive: true });
    server = await startServer(repo, { args: ["--model-control-mode=explicit", "--load-model", "simple"] });
  });

  afterAll(async () => {
    expect(namedSegments(server.pid)).toEqual([]);
    expect(await server.stop()).toBe(0);
    expect(namedSegments(server.pid)).toEqual([]);
    rmSync(repo, { recursive: true, force: true });
  });

  it("loads only the --load-model model at start", async () => {
    expect(stubs(server.pid)).toBe(1);
    expect((await get(server.url, "/v2/models/simple/ready")).status).toBe(200);
    expect((await get(server.url, "/v2/models/other/ready")).status).toBe(400);
    expect(server.log()).toMatch(/\|\s*simple\s*\|\s*1\s*\|\s*READY\s*\|/);
    expect(server.log()).not.toMatch(/\|\s*other\s*\|/);
  });

  it("lists every model of the repository in the index, with state and reason where it has one", async () => {
    const all = await index(server.url);
    expect(all.status).toBe(200);
    expect(all.body).toEqual([
      { name: "broken" },
      { name: "other" },
      { name: "simple", version: "1", state: "READY", reason: "" },
    ]);
    const ready = await index(server.url, { ready: true });
    expect(ready.body).toEqual([{ name: "simple", version: "1", state: "READY", reason: "" }]);
    const empty = await fetch(`${server.url}/v2/repository/index`, { method: "POST" });
    expect(empty.status).toBe(200);
    expect(await empty.json()).toEqual(all.body);
  });

  it("loads a model: READY, in the index, serving", async () => {
    const r = await load(server.url, "other");
    expect(r.status).toBe(200);
    expect(await settledStubs(server.pid, 2)).toBe(2);
    expect((await get(server.url, "/v2/models/other/ready")).status).toBe(200);
    expect((await index(server.url)).body).toContainEqual({ name: "other", version: "1", state: "READY", reason: "" });
    const out = await infer(server.url, "other");
    expect(out.status).toBe(200);
    expect(out.body.outputs[0].data).toEqual([1, 2]);
  });

  it("unloads a model: UNAVAILABLE 'unloaded', and requests fail with Triton's text", async () => {
    expect((await unload(server.url, "other")).status).toBe(200);
    // Its stub finalized and exited.
    expect(await settledStubs(server.pid, 1)).toBe(1);
    expect((await index(server.url)).body).toContainEqual({ name: "other", version: "1", state: "UNAVAILABLE", reason: "unloaded" });
    expect((await index(server.url, { ready: true })).body.map((e: any) => e.name)).toEqual(["simple"]);
    expect((await get(server.url, "/v2/models/other/ready")).status).toBe(400);
    const r = await infer(server.url, "other");
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: "Request for unknown model: 'other' has no available versions" });
    const v1 = await postJson(`${server.url}/v2/models/other/versions/1/infer`, { inputs: [input([1])] });
    expect(v1.status).toBe(503);
    expect(v1.body).toEqual({ error: "Request for unknown model: 'other' version 1 is not at ready state" });
    // Unloading again, or a model never loaded, is not an error (as in Triton).
    expect((await unload(server.url, "other")).status).toBe(200);
    expect((await unload(server.url, "no_such_model")).status).toBe(200);
  });

  it("refuses to load a model that is in no repository, with Triton's text, and does not index it", async () => {
    const r = await load(server.url, "no_such_model");
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ error: "failed to load 'no_such_model', failed to poll from model repository" });
    expect((await index(server.url)).body.map((e: any) => e.name)).not.toContain("no_such_model");
  });

  it("fails to load a model with a broken config.pbtxt, naming file:line, and indexes the reason", async () => {
    const r = await load(server.url, "broken");
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/broken\/config\.pbtxt:6/);
    const entry = (await index(server.url)).body.find((e: any) => e.name === "broken");
    expect(entry.state).toBe("UNAVAILABLE");
    expect(entry.reason).toMatch(/broken\/config\.pbtxt:6: expected '\]'/);
    // The failure touched nothing else.
    expect((await infer(server.url, "simple")).status).toBe(200);
  });

  it("loads with a config override: /config and metadata reflect it, and so does the handler", async () => {
    const r = await load(server.url, "other", {
      parameters: { config: configJson("other", { max_batch_size: 4, instance_group: [{ count: 2, kind: "KIND_CPU" }] }) },
    });
    expect(r.status).toBe(200);
    const config = await get(server.url, "/v2/models/other/config");
    expect(config.body.max_batch_size).toBe(4);
    expect(config.body.instance_group).toMatchObject([{ name: "other_0", kind: "KIND_CPU", count: 2 }]);
    expect(await settledStubs(server.pid, 3)).toBe(3);
    expect((await get(server.url, "/v2/models/other")).body.inputs).toEqual([{ name: "INPUT0", datatype: "FP32", shape: [-1, -1] }]);

    // The batch dimension is now required, and two slow requests run side by side on the two instances.
    const unbatched = await infer(server.url, "other");
    expect(unbatched.status).toBe(400);
    const started = Date.now();
    const [a, b] = await Promise.all([
      infer(server.url, "other", { delay_ms: 800 }, [1, 2]),
      infer(server.url, "other", { delay_ms: 800 }, [1, 2]),
    ]);
    // One after the other they would take 1600 ms.
    expect(Date.now() - started).toBeLessThan(1500);
    for (const x of [a, b]) {
      expect(x.status).toBe(200);
      expect(x.body.outputs[0].shape).toEqual([1, 2]);
      expect(x.body.parameters.max_batch_size).toBe(4);
    }
    expect(new Set([a.body.parameters.instance, b.body.parameters.instance])).toEqual(new Set(["other_0_0", "other_0_1"]));
  });

  it("refuses a config override that is not JSON, and keeps the loaded config", async () => {
    const r = await load(server.url, "other", { parameters: { config: "{not json" } });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/config/i);
    expect((await get(server.url, "/v2/models/other/config")).body.max_batch_size).toBe(4);
    expect((await get(server.url, "/v2/models/other/ready")).status).toBe(200);
  });

  it("reloads onto a new version folder while a slow request is in flight", async () => {
    const slow = infer(server.url, "simple", { delay_ms: 1500 });
    await sleep(500);
    cpSync(join(repo, "simple", "1"), join(repo, "simple", "2"), { recursive: true });
    const reload = await load(server.url, "simple");
    expect(reload.status).toBe(200);

    const inFlight = await slow;
    expect(inFlight.status).toBe(200);
    expect(inFlight.body.model_version).toBe("1");
    expect(inFlight.body.parameters.version).toBe("1");
    expect(inFlight.body.outputs[0].data).toEqual([1, 2]);

    const after = await infer(server.url, "simple");
    expect(after.status).toBe(200);
    expect(after.body.model_version).toBe("2");
    expect(after.body.parameters.version).toBe("2");
    expect((await get(server.url, "/v2/models/simple")).body.versions).toEqual(["2"]);
    // Triton keeps listing the retired version.
    expect((await index(server.url)).body.filter((e: any) => e.name === "simple")).toEqual([
      { name: "simple", version: "1", state: "UNAVAILABLE", reason: "unloaded" },
      { name: "simple", version: "2", state: "READY", reason: "" },
    ]);
    expect((await postJson(`${server.url}/v2/models/simple/versions/1/infer`, { inputs: [input([1])] })).status).toBe(503);
    // Version 1's stub is gone, version 2's serves: other (2 instances) + simple (1).
    expect(await settledStubs(server.pid, 3)).toBe(3);
  });

  it("reloads with a changed config while requests are in flight: they finish, later ones see the new config", async () => {
    const slow = [infer(server.url, "simple", { delay_ms: 1000 }), infer(server.url, "simple", { delay_ms: 1000 })];
    await sleep(500);
    const reload = await load(server.url, "simple", { parameters: { config: configJson("simple", { max_batch_size: 2 }) } });
    expect(reload.status).toBe(200);
    for (const r of await Promise.all(slow)) {
      expect(r.status).toBe(200);
      expect(r.body.parameters.max_batch_size).toBe(0);
    }
    const after = await infer(server.url, "simple", {}, [2, 1]);
    expect(after.status).toBe(200);
    expect(after.body.parameters.max_batch_size).toBe(2);
    expect((await get(server.url, "/v2/models/simple/config")).body.max_batch_size).toBe(2);
  });

  it("serves requests throughout a reload: none fails", async () => {
    let stop = false;
    const failures: unknown[] = [];
    let served = 0;
    const traffic = (async () => {
      while (!stop) {
        const r = await infer(server.url, "other", {}, [1, 2]);
        if (r.status === 200) served++;
        else failures.push(r.body);
      }
    })();
    await sleep(100);
    expect((await load(server.url, "other", {
      parameters: { config: configJson("other", { max_batch_size: 4 }) },
    })).status).toBe(200);
    await sleep(100);
    stop = true;
    await traffic;
    expect(failures).toEqual([]);
    expect(served).toBeGreaterThan(5);
    // The reload went back to one instance of other: the old two are gone.
    expect(await settledStubs(server.pid, 2)).toBe(2);
  });

  it("keeps the last config override on a load without one, as Triton; an unload or a changed file forgets it", async () => {
    const batching = () => get(server.url, "/v2/models/other/config").then((c) => c.body.max_batch_size);
    const override = { parameters: { config: configJson("other", { max_batch_size: 4 }) } };
    expect((await load(server.url, "other", override)).status).toBe(200);
    expect((await load(server.url, "other")).status).toBe(200);
    expect(await batching()).toBe(4);
    expect((await infer(server.url, "other", {}, [1, 2])).status).toBe(200);
    // Triton's qa/L0_lifecycle test_config_override: after an unload, config.pbtxt again.
    expect((await unload(server.url, "other")).status).toBe(200);
    expect((await load(server.url, "other")).status).toBe(200);
    expect(await batching()).toBe(0);
    // The model's files modified after the override: Triton reloads them from the repository.
    expect((await load(server.url, "other", override)).status).toBe(200);
    const later = new Date(Date.now() + 2000);
    utimesSync(join(repo, "other", "config.pbtxt"), later, later);
    expect((await load(server.url, "other")).status).toBe(200);
    expect(await batching()).toBe(0);
    expect(await settledStubs(server.pid, 2)).toBe(2);
  });
});

describe("model-control-mode none, a broken model, --exit-on-error=false", () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer(BROKEN_REPO, { args: ["--exit-on-error=false"] });
  });

  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it("starts, and the other models serve", async () => {
    const r = await infer(server.url, "good");
    expect(r.status).toBe(200);
    expect(r.body.outputs[0].data).toEqual([1, 2]);
  });

  it("shows the broken model UNAVAILABLE with the reason (file:line) in the index and the start-up table", async () => {
    const { status, body } = await index(server.url);
    expect(status).toBe(200);
    expect(body).toHaveLength(2);
    expect(body[0]).toMatchObject({ name: "broken", state: "UNAVAILABLE" });
    expect(body[0].reason).toMatch(/broken\/config\.pbtxt:6: expected '\]'/);
    expect(body[1]).toEqual({ name: "good", version: "1", state: "READY", reason: "" });
    expect(server.log()).toMatch(/\|\s*broken\s*\|\s*-\s*\|\s*UNAVAILABLE: .*config\.pbtxt:6/);
  });

  it("answers requests for the broken model with Triton's text", async () => {
    const r = await infer(server.url, "broken");
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: "Request for unknown model: 'broken' has no available versions" });
    expect((await get(server.url, "/v2/models/broken/ready")).status).toBe(400);
  });

  it("is live but not ready under the default --strict-readiness=true", async () => {
    expect((await fetch(`${server.url}/v2/health/live`)).status).toBe(200);
    expect((await fetch(`${server.url}/v2/health/ready`)).status).toBe(400);
  });

  it("refuses load and unload with Triton's text and status", async () => {
    for (const r of [await load(server.url, "good"), await unload(server.url, "good"), await load(server.url, "broken")]) {
      expect(r.status).toBe(503);
      expect(r.body).toEqual({ error: "explicit model load / unload is not allowed if polling is enabled" });
    }
    expect((await infer(server.url, "good")).status).toBe(200);
  });
});

describe("start-up options", () => {
  it("--strict-readiness=false: ready although a model failed", async () => {
    const server = await startServer(BROKEN_REPO, { args: ["--exit-on-error=false", "--strict-readiness=false"] });
    try {
      expect((await fetch(`${server.url}/v2/health/ready`)).status).toBe(200);
      expect((await fetch(`${server.url}/v2/models/broken/ready`)).status).toBe(400);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it("default --exit-on-error: a broken model makes the server exit non-zero, saying why", async () => {
    const server = await startServer(BROKEN_REPO, { expectExit: true });
    expect(server.proc.exitCode).not.toBe(0);
    expect(server.proc.exitCode).not.toBeNull();
    expect(server.log()).toMatch(/config\.pbtxt:6: expected '\]'/);
    expect(server.log()).toContain("error: creating server: Internal - failed to load all models"); // Triton's shape
    expect(server.log()).not.toContain("Started HTTPService");
  });
});
