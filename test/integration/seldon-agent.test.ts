/**
 * Seldon Core 2's agent against our gRPC server, as its code does it (scheduler/pkg/agent in
 * SeldonIO/seldon-core v2): it downloads a model version into <repo>/<model>_<version>/<version>/,
 * copies config.pbtxt beside it with `name` rewritten to "<model>_<version>", then
 * RepositoryModelLoad {model_name} (no repository, no parameters); it polls ServerLive and
 * RepositoryIndex, and unloads with RepositoryModelUnload before removing the folder. The server
 * runs as Seldon's triton ServerConfig starts it: --model-control-mode=explicit, the python
 * backend's shm-default-byte-size.
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, type RunningServer, grpcClientOf, startServer } from "./harness.js";

const EXAMPLES = join(ROOT, "examples", "model_repository");
let repo: string;
let server: RunningServer;
let client: any;

function call(method: string, request: object): Promise<{ err: grpc.ServiceError | null; res: any }> {
  return new Promise((resolve) => client[method](request, (err: grpc.ServiceError | null, res: any) => resolve({ err, res })));
}
async function ok(method: string, request: object): Promise<any> {
  const { err, res } = await call(method, request);
  if (err) throw new Error(`${method} failed: ${err.code} ${err.details}`);
  return res;
}

/** What the agent's download + Triton repository handler leave in the repository. */
function agentDownload(model: string, version: number): string {
  const name = `${model}_${version}`;
  const src = join(EXAMPLES, model);
  cpSync(join(src, "1"), join(repo, name, String(version)), { recursive: true });
  // Seldon re-marshals the config with Go's prototext after setting `name`: name:"<model>_<version>".
  const config = readFileSync(join(src, "config.pbtxt"), "utf8").replace(/^name:\s*"[^"]*"/m, `name:"${name}"`);
  writeFileSync(join(repo, name, "config.pbtxt"), config);
  return name;
}

const f32 = (xs: number[]) => Buffer.from(new Float32Array(xs).buffer);
function addSub(model: string) {
  return {
    model_name: model, id: "seldon",
    inputs: [{ name: "INPUT0", datatype: "FP32", shape: [4] }, { name: "INPUT1", datatype: "FP32", shape: [4] }],
    raw_input_contents: [f32([1, 2, 3, 4]), f32([10, 20, 30, 40])],
  };
}
const floats = (b: Buffer) => Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));

beforeAll(async () => {
  repo = mkdtempSync(join(tmpdir(), "tessera-seldon-"));
  server = await startServer(repo, {
    args: ["--allow-grpc", "true", "--grpc-port", "0", "--grpc-address", "127.0.0.1", "--model-control-mode=explicit",
      "--backend-config=python,shm-default-byte-size=16777216"],
  });
  client = await grpcClientOf(server);
});

afterAll(async () => {
  client?.close();
  await server?.stop();
  rmSync(repo, { recursive: true, force: true });
  expect(readdirSync("/dev/shm").filter((e) => e.startsWith(`tessera-${server.pid}-`))).toEqual([]);
});

describe("Seldon Core 2's agent sequence over gRPC", () => {
  it("ServerLive, then an empty RepositoryIndex", async () => {
    expect(await ok("ServerLive", {})).toEqual({ live: true });
    expect((await ok("RepositoryIndex", {})).models).toEqual([]);
  });

  it("loads a renamed copy, serves it under the new name, lists it READY", async () => {
    const name = agentDownload("add_sub", 1);
    expect(await ok("RepositoryModelLoad", { model_name: name })).toEqual({});
    const index = (await ok("RepositoryIndex", {})).models;
    expect(index).toEqual([expect.objectContaining({ name, version: "1", state: "READY" })]);
    const res = await ok("ModelInfer", addSub(name));
    expect(res.model_name).toBe(name);
    expect(floats(res.raw_output_contents[0])).toEqual([11, 22, 33, 44]);
    expect(floats(res.raw_output_contents[1])).toEqual([-9, -18, -27, -36]);
    // The original name is nowhere: the config's rewritten name is the model's.
    expect((await call("ModelInfer", addSub("add_sub"))).err?.code).not.toBe(grpc.status.OK);
  });

  it("loads the next version beside it, unloads the first; with its folder gone it stays UNAVAILABLE", async () => {
    const second = agentDownload("add_sub", 2);
    await ok("RepositoryModelLoad", { model_name: second });
    expect((await ok("ModelInfer", addSub(second))).model_name).toBe(second);
    expect(await ok("RepositoryModelUnload", { model_name: "add_sub_1" })).toEqual({});
    const index = (await ok("RepositoryIndex", {})).models;
    expect(index).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: "add_sub_1", state: "UNAVAILABLE" }),
      expect.objectContaining({ name: second, version: "2", state: "READY" }),
    ]));
    expect((await call("ModelInfer", addSub("add_sub_1"))).err?.code).not.toBe(grpc.status.OK);
    // The agent removes the folder after the unload. Like Triton, the server keeps the model's
    // last state (UNAVAILABLE), which the agent reads as not loaded; a load now fails.
    rmSync(join(repo, "add_sub_1"), { recursive: true });
    const after = (await ok("RepositoryIndex", {})).models;
    expect(after.filter((m: { state: string }) => m.state === "READY").map((m: { name: string }) => m.name)).toEqual([second]);
    expect((await call("RepositoryModelLoad", { model_name: "add_sub_1" })).err?.code).not.toBe(grpc.status.OK);
  });

  it("reloads a model whose config the agent overwrote, and answers a missing one with an error code", async () => {
    // A re-download overwrites config.pbtxt; load again picks up the new file.
    agentDownload("add_sub", 2);
    await ok("RepositoryModelLoad", { model_name: "add_sub_2" });
    expect((await ok("ModelInfer", addSub("add_sub_2"))).model_name).toBe("add_sub_2");
    const missing = await call("RepositoryModelLoad", { model_name: "never_downloaded_1" });
    expect(missing.err).not.toBeNull();
    expect(missing.err!.code).not.toBe(grpc.status.OK);
    expect(missing.err!.details).toMatch(/never_downloaded_1/);
    expect(await ok("ServerLive", {})).toEqual({ live: true });
    await ok("RepositoryModelUnload", { model_name: "add_sub_2" });
    expect((await ok("RepositoryIndex", { ready: true })).models).toEqual([]);
  });
});
