/**
 * Load overrides in explicit mode, against the real server: `file:` parameters (base64 over HTTP,
 * bytes over gRPC) load a model from a private temp folder of just those files (also a name in no
 * repository), confined to it, removed on unload; a plain load after goes back to the repository;
 * --model-config-name picks configs/<name>.pbtxt with Triton's fallback; handlers load, unload and
 * check models (loadModel, unloadModel, isModelReady) by the same rules.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { FIXTURES, grpcClientOf, postJson, startServer, type RunningServer } from "./harness.js";

const REPO = join(FIXTURES, "lifecycle-repo");
const HANDLER = readFileSync(join(REPO, "warm", "1", "model.ts"));
const CONFIG = JSON.stringify({
  backend: "typescript", max_batch_size: 0,
  input: [{ name: "INPUT0", data_type: "TYPE_FP32", dims: [-1] }],
  output: [{ name: "OUTPUT0", data_type: "TYPE_FP32", dims: [-1] }, { name: "HISTORY", data_type: "TYPE_STRING", dims: [1] }],
});
const FAILED_POLL = (model: string) => `failed to load '${model}', failed to poll from model repository`;

describe("load overrides", () => {
  let server: RunningServer;
  let client: any;

  beforeAll(async () => {
    server = await startServer(REPO, {
      args: ["--model-control-mode=explicit", "--load-model=cold", "--load-model=controller", "--allow-grpc=true", "--grpc-port=0", "--grpc-address=127.0.0.1"],
    });
    client = await grpcClientOf(server);
  }, 60_000);

  afterAll(async () => {
    client?.close();
    expect(await server.stop()).toBe(0);
  });

  const load = (model: string, parameters: Record<string, string> = {}) =>
    postJson(`${server.url}/v2/repository/models/${model}/load`, { parameters });
  const unload = (model: string) => postJson(`${server.url}/v2/repository/models/${model}/unload`, {});
  const history = async (model: string, version?: string) => {
    const r = await postJson(`${server.url}/v2/models/${model}${version ? `/versions/${version}` : ""}/infer`, {
      inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1], data: [1] }], outputs: [{ name: "HISTORY" }],
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return JSON.parse(r.body.outputs[0].data[0]) as { repository: string };
  };
  const ready = async (model: string, version?: string) =>
    (await fetch(`${server.url}/v2/models/${model}${version ? `/versions/${version}` : ""}/ready`)).status === 200;

  it("HTTP: file: overrides load a model that is in no repository, from a temp folder removed on unload", async () => {
    const r = await load("fresh", { config: CONFIG, "file:3/model.ts": HANDLER.toString("base64") });
    expect(r).toEqual({ status: 200, body: null });
    expect(await ready("fresh", "3")).toBe(true);
    const { repository } = await history("fresh");
    expect(repository).not.toContain(REPO);
    expect(existsSync(join(repository, "3", "model.ts"))).toBe(true);
    expect((await unload("fresh")).status).toBe(200);
    expect(existsSync(repository)).toBe(false);
  });

  it("gRPC: file bytes override a repository model; a plain load after goes back to the repository", async () => {
    const status = await new Promise<number>((resolve) => client.RepositoryModelLoad({
      model_name: "cold",
      parameters: { config: { string_param: CONFIG }, "file:7/model.ts": { bytes_param: HANDLER } },
    }, (err: grpc.ServiceError | null) => resolve(err ? err.code : grpc.status.OK)));
    expect(status).toBe(grpc.status.OK);
    expect(await ready("cold", "7")).toBe(true);
    expect(await ready("cold", "1")).toBe(false); // the override folder has version 7 only
    const { repository } = await history("cold");
    expect(existsSync(repository)).toBe(true);
    expect((await load("cold")).status).toBe(200);
    expect(await ready("cold", "1")).toBe(true);
    expect((await history("cold")).repository).toBe(join(REPO, "cold"));
    // The temp folder goes once the override version has retired.
    await expect.poll(() => existsSync(repository), { timeout: 10_000 }).toBe(false);
  });

  it("refuses a path that leaves the folder, with Triton's texts, and keeps serving", async () => {
    for (const path of ["../escape.txt", "1/../../escape.txt", "/etc/passwd"]) {
      const r = await load("cold", { config: CONFIG, [`file:${path}`]: "YQ==" });
      if (path === "/etc/passwd") {
        // An absolute path is joined under the folder, as Triton's JoinPath does: it stays inside,
        // and the override folder then holds no version to load.
        expect(r.status).not.toBe(200);
        expect(r.body.error).not.toBe(FAILED_POLL("cold"));
        continue;
      }
      expect(r).toEqual({ status: 500, body: { error: FAILED_POLL("cold") } });
    }
    expect(server.log()).toMatch(/Invalid file parameter 'file:\.\.\/escape\.txt' with normalized path '.*' must stay within model directory\./);
    expect(await ready("cold")).toBe(true);
  });

  describe("from a handler (loadModel, unloadModel, isModelReady)", () => {
    const control = async (parameters: Record<string, unknown>) => {
      const r = await postJson(`${server.url}/v2/models/controller/infer`, {
        parameters, inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1], data: [0] }],
      });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return JSON.parse(r.body.outputs[0].data[0]);
    };

    it("loads, checks and unloads another model", async () => {
      expect(await control({ op: "ready", target: "warm" })).toEqual({ ok: true, ready: false });
      expect(await control({ op: "load", target: "warm" })).toEqual({ ok: true });
      expect(await ready("warm")).toBe(true);
      expect(await control({ op: "ready", target: "warm", version: "1" })).toEqual({ ok: true, ready: true });
      expect(await control({ op: "ready", target: "warm", version: "2" })).toEqual({ ok: true, ready: false });
      expect(await control({ op: "unload", target: "warm" })).toEqual({ ok: true });
      expect(await ready("warm")).toBe(false);
    });

    it("loads with config and file overrides, confined the same way", async () => {
      expect(await control({ op: "load", target: "from_handler", config: CONFIG, file_key: "file:1/model.ts", file_text: HANDLER.toString() })).toEqual({ ok: true });
      expect(await ready("from_handler")).toBe(true);
      expect(await control({ op: "load", target: "from_handler", config: CONFIG, file_key: "file:../out.ts", file_text: "x" }))
        .toEqual({ ok: false, code: "INTERNAL", message: FAILED_POLL("from_handler") });
      expect(await control({ op: "unload", target: "from_handler" })).toEqual({ ok: true });
    });

    it("answers errors as the repository API does; its own model is refused", async () => {
      expect(await control({ op: "load", target: "no_such_model" })).toEqual({ ok: false, code: "INTERNAL", message: FAILED_POLL("no_such_model") });
      expect(await control({ op: "load", target: "warm_fails" })).toMatchObject({ ok: false, code: "INVALID_ARG" });
      expect(await control({ op: "unload_dependents", target: "cold" })).toMatchObject({ ok: false, code: "UNSUPPORTED" });
      expect(await control({ op: "load", target: "controller" }))
        .toEqual({ ok: false, code: "INVALID_ARG", message: "a handler of model 'controller' cannot load its own model" });
      expect(await control({ op: "unload", target: "controller" }))
        .toEqual({ ok: false, code: "INVALID_ARG", message: "a handler of model 'controller' cannot unload its own model" });
    });
  });
});

describe("--model-config-name", () => {
  it("picks configs/<name>.pbtxt where a model has it, config.pbtxt where it does not", async () => {
    const server = await startServer(REPO, { args: ["--model-control-mode=explicit", "--load-model=cold", "--load-model=warm_fails", "--model-config-name=alt", "--exit-on-error=false"] });
    try {
      const cold = await (await fetch(`${server.url}/v2/models/cold/config`)).json();
      expect(cold.instance_group[0].count).toBe(2); // configs/alt.pbtxt
      expect(cold.parameters.first_call_ms.string_value).toBe("0");
      const fallback = await (await fetch(`${server.url}/v2/repository/index`, { method: "POST" })).json();
      // warm_fails has no configs/alt.pbtxt: its config.pbtxt loads (and its warmup fails, as there).
      expect(fallback).toContainEqual(expect.objectContaining({ name: "warm_fails", state: "UNAVAILABLE" }));
      expect(server.log()).toContain("failed to run warmup sample 'bad'");
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, 60_000);
});
