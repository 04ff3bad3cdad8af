/**
 * Handler errors through the real server and stub: what execute() throws or returns wrong reaches
 * the client with its message and the right status, and the instance stays up; load failures
 * (initialize throws, syntax error) name the file and line; ModelArgs and config reach initialize;
 * Logger lines reach the server log tagged; SIGINT lets an in-flight request finish and finalize run.
 */
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inferBinary, postJson, type RunningServer } from "./harness.js";
import {
  STUB_REPO, bytesOf, decodeBytes, isAlive, segmentsOf, startStubServer, stopCleanly, stubPids, waitUntil,
} from "./stub-helpers.js";

/** Waits for the server to exit by itself (harness.stop() would signal it again). */
async function exitOf(server: RunningServer): Promise<number | null> {
  if (server.proc.exitCode === null && server.proc.signalCode === null) await once(server.proc, "exit");
  return server.proc.exitCode;
}

const MODELS = ["errors", "init_fail", "init_fail_triton", "syntax_error", "lifecycle"];

describe("stub handler errors", () => {
  let server: RunningServer;
  let stubsAtStart: number[];

  beforeAll(async () => {
    server = await startStubServer(MODELS, { args: ["--exit-on-error=false"] });
    stubsAtStart = stubPids(server.pid);
  });
  afterAll(async () => {
    await server?.stop("SIGKILL");
  });

  async function callErrors(mode?: string): Promise<{ status: number; json: any; out?: number[] }> {
    const r = await inferBinary(server.url, "errors", [
      { name: "INPUT0", datatype: "FP32", shape: [3], data: bytesOf(Float32Array.of(1, 2.5, -4)) },
    ], mode ? { parameters: { mode } } : {});
    return { status: r.status, json: r.json, out: r.status === 200 ? [...new Float32Array(r.outputs.get("OUTPUT0")!.slice().buffer)] : undefined };
  }

  async function expectStillServing(): Promise<void> {
    const ok = await callErrors();
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    expect(ok.out).toEqual([2, 5, -8]);
  }

  it("only the models that loaded have stubs: errors and lifecycle", () => {
    expect(stubsAtStart).toHaveLength(2);
  });

  // Triton's python backend (pb_stub.cc ProcessRequests): INTERNAL, its prefix naming the
  // instance, then the exception's type, message and the handler's frames ("At:").
  // Files are named relative to the model repository: a client never sees the server's paths.
  const PREFIX = "Failed to process the request(s) for model 'errors_0_0', message: ";
  const at = (line: number) => `\n\nAt:\n  errors/1/model.ts(${line}): Errors.execute\n`;

  it("TritonError(INVALID_ARG) thrown by execute → 500 (INTERNAL, as Triton) with the prefix, type and frame", async () => {
    const r = await callErrors("invalid_arg");
    expect(r.status).toBe(500);
    expect(r.json.error).toBe(`${PREFIX}TritonError: the input is unacceptable: INVALID_ARG from the handler${at(13)}`);
    await expectStillServing();
  });

  it("a plain Error thrown by execute → 500 with the prefix, Error: and its message", async () => {
    const r = await callErrors("plain_error");
    expect(r.status).toBe(500);
    expect(r.json.error).toBe(`${PREFIX}Error: plain Error thrown by execute${at(15)}`);
    await expectStillServing();
  });

  it("a thrown non-Error value → 500 with the prefix and its text", async () => {
    const r = await callErrors("throw_string");
    expect(r.status).toBe(500);
    expect(r.json.error).toBe(`${PREFIX}a bare string was thrown`);
  });

  it("a response parameter that is not bool/int/str fails the call with pb_utils' text; nothing half-built", async () => {
    for (const [mode, type, line] of [["bad_param_float", "float", 37], ["bad_param_null", "NoneType", 39], ["bad_param_object", "dict", 41]] as const) {
      const r = await callErrors(mode);
      expect(r.status).toBe(500);
      expect(r.json.error).toBe(`${PREFIX}TritonError: Expect parameters values to have type bool/int/str, found type <class '${type}'>` +
        `\n\nAt:\n  errors/1/model.ts(${line}): <anonymous>\n  errors/1/model.ts(${line}): Errors.execute\n`);
    }
    const good = await callErrors("good_param");
    expect(good.status, JSON.stringify(good.json)).toBe(200);
    expect(good.json.parameters).toEqual({ label: "ok", count: 3, flag: true });
    await expectStillServing();
  });

  it("a response carrying an error fails that request with the error's code and message", async () => {
    const notFound = await callErrors("response_error");
    expect(notFound.status).toBe(404);
    expect(notFound.json.error).toBe("per-request failure: not found here");
    const internal = await callErrors("response_error_default");
    expect(internal.status).toBe(500);
    expect(internal.json.error).toBe("per-request failure with the default code");
    await expectStillServing();
  });

  const wrong: [string, RegExp][] = [
    ["wrong_count", /^Failed to process the request\(s\) for model 'errors_0_0', message: model 'errors': execute\(\) returned 2 responses for 1 requests/],
    ["empty", /model 'errors': execute\(\) returned 0 responses for 1 requests/],
    ["not_array", /model 'errors': execute\(\) must return an array of InferenceResponse, got object/],
    ["undefined", /model 'errors': execute\(\) returned nothing, expected a list of 1 InferenceResponse/],
    ["null", /model 'errors': execute\(\) returned nothing/],
    ["not_response", /model 'errors': execute\(\) response 0 is not an InferenceResponse/],
    ["bad_tensor", /Tensor 'OUTPUT0': shape \[4\] needs 4 elements, data has 3/],
  ];
  for (const [mode, message] of wrong) {
    it(`execute() returning ${mode} → 500 with a clear error; the instance stays up`, async () => {
      const r = await callErrors(mode);
      expect(r.status, JSON.stringify(r.json)).toBe(500);
      expect(r.json.error).toMatch(message);
      await expectStillServing();
    });
  }

  it("after all that, the same stub processes serve: none died or was replaced", () => {
    expect(stubPids(server.pid).sort()).toEqual([...stubsAtStart].sort());
    expect(server.log()).not.toMatch(/replacement|not healthy/);
  });

  it("initialize throwing an Error fails the load with the message and model.ts:<line>", async () => {
    const ready = await fetch(`${server.url}/v2/models/init_fail/ready`);
    expect(ready.status).toBe(400);
    const where = `${join(STUB_REPO, "init_fail", "1", "model.ts")}:6:`;
    const index = await postJson(`${server.url}/v2/repository/index`, {});
    const entry = index.body.find((e: { name: string }) => e.name === "init_fail");
    expect(entry).toMatchObject({ name: "init_fail", state: "UNAVAILABLE" });
    expect(entry.reason).toContain("cannot initialize init_fail: missing weights on purpose");
    // Clients see the file relative to the repository; the log has the full path.
    expect(entry.reason).toContain("(at init_fail/1/model.ts:6:");
    expect(entry.reason).not.toContain(STUB_REPO);
    expect(server.log()).toMatch(/E\d{4} [\d:.]+ \d+ model_manager\] failed to load 'init_fail': initialize failed: cannot initialize init_fail: missing weights on purpose/);
    expect(server.log()).toContain(where);
    // Its stub is gone, and inference is refused with the model named.
    const infer = await postJson(`${server.url}/v2/models/init_fail/infer`, { inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1], data: [1] }] });
    expect(infer.status).toBeGreaterThanOrEqual(400);
    expect(infer.body.error).toMatch(/init_fail/);
  });

  it("initialize throwing a TritonError names model.ts:<line> too", async () => {
    const index = await postJson(`${server.url}/v2/repository/index`, {});
    const entry = index.body.find((e: { name: string }) => e.name === "init_fail_triton");
    expect(entry.state).toBe("UNAVAILABLE");
    expect(entry.reason).toContain("init_fail_triton refuses this config on purpose");
    expect(entry.reason).toContain("(at init_fail_triton/1/model.ts:6:");
    expect(server.log()).toContain(`${join(STUB_REPO, "init_fail_triton", "1", "model.ts")}:6:`);
  });

  it("a syntax error in model.ts fails the load naming the file and line", async () => {
    const ready = await fetch(`${server.url}/v2/models/syntax_error/ready`);
    expect(ready.status).toBe(400);
    const index = await postJson(`${server.url}/v2/repository/index`, {});
    const entry = index.body.find((e: { name: string }) => e.name === "syntax_error");
    expect(entry.state).toBe("UNAVAILABLE");
    expect(entry.reason).toContain("failed to compile syntax_error/1/model.ts: syntax_error/1/model.ts:6:");
    expect(entry.reason).not.toContain(STUB_REPO);
    expect(entry.reason).toMatch(/Expected "\)" but found "\}"/);
    expect(server.log()).toContain(`model_manager] failed to load 'syntax_error': failed to compile ${join(STUB_REPO, "syntax_error", "1", "model.ts")}`);
  });

  async function callLifecycle(id: string, parameters: Record<string, unknown>): Promise<{ status: number; json: any; out?: number[]; args?: any }> {
    const r = await inferBinary(server.url, "lifecycle", [
      { name: "INPUT0", datatype: "FP32", shape: [2], data: bytesOf(Float32Array.of(1, -1)) },
    ], { id, parameters });
    if (r.status !== 200) return { status: r.status, json: r.json };
    return {
      status: 200,
      json: r.json,
      out: [...new Float32Array(r.outputs.get("OUTPUT0")!.slice().buffer)],
      args: JSON.parse(decodeBytes(r.outputs.get("ARGS")!)[0].toString()),
    };
  }

  it("ModelArgs, the complete config and request parameters reach the handler", async () => {
    const r = await callLifecycle("args-1", { text: "héllo", count: 3, flag: true });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.out).toEqual([2, 0]);
    const a = r.args;
    expect(a).toMatchObject({
      model_name: "lifecycle",
      model_version: "1",
      model_instance_name: "lifecycle_0_0",
      model_instance_kind: "CPU",
      model_instance_device_id: "0",
      model_repository: join(STUB_REPO, "lifecycle"),
      greeting: "hello from config.pbtxt",
      requestId: "args-1",
    });
    expect(a.parameters).toMatchObject({ text: "héllo", count: 3, flag: true });
    const config = JSON.parse(a.model_config);
    expect(config.name).toBe("lifecycle");
    expect(config.input[0]).toMatchObject({ name: "INPUT0", data_type: "TYPE_FP32" });
    expect(config.input[0].dims.map(Number)).toEqual([-1]);
    expect(config.parameters.greeting.string_value).toBe("hello from config.pbtxt");
    expect(config.output.map((o: { name: string }) => o.name)).toEqual(["OUTPUT0", "ARGS"]);
    expect(config.instance_group[0]).toMatchObject({ count: 1, kind: "KIND_CPU" });
  });

  it("Logger lines reach the server log tagged with model, version and instance, at their level", async () => {
    const r = await callLifecycle("log-1", { log_levels: true });
    expect(r.status).toBe(200);
    const tag = String.raw`\d{4} [\d:.]+ ${server.pid} lifecycle:1:lifecycle_0_0\]`;
    // Log lines travel on the control channel, the answer through shared memory: no order between them.
    await server.waitForLog(new RegExp(`^E${tag} lifecycle error line for 'log-1'$`, "m"), 5000);
    const log = server.log();
    expect(log).toMatch(new RegExp(`^I${tag} lifecycle initialize: lifecycle_0_0 says hello from config.pbtxt$`, "m"));
    expect(log).toMatch(new RegExp(`^I${tag} lifecycle executing request 'log-1'$`, "m"));
    expect(log).toMatch(new RegExp(`^W${tag} lifecycle warning line for 'log-1'$`, "m"));
    expect(log).toMatch(new RegExp(`^E${tag} lifecycle error line for 'log-1'$`, "m"));
    // Verbose lines only with --log-verbose.
    expect(log).not.toContain("lifecycle verbose line");
  });

  it("SIGINT with a request in flight: the request completes, finalize runs, exit 0, nothing left", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-finalize-"));
    const marker = join(dir, "finalized");
    const stubs = stubPids(server.pid);
    const inFlight = callLifecycle("slow-1", { sleep_ms: 1500, marker });
    await server.waitForLog(/lifecycle executing request 'slow-1'/, 5000);
    server.proc.kill("SIGINT");
    await server.waitForLog(/SIGINT received/, 2000);
    const r = await inFlight;
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.out).toEqual([2, 0]);
    expect(r.args.requestId).toBe("slow-1");
    const code = await exitOf(server);
    expect(code, server.log()).toBe(0);
    expect(existsSync(marker), server.log()).toBe(true);
    expect(readFileSync(marker, "utf8")).toMatch(/^finalized lifecycle_0_0 after \d+$/);
    rmSync(dir, { recursive: true, force: true });
    expect(server.log()).toMatch(/lifecycle:1:lifecycle_0_0\] lifecycle finalize after \d+ request\(s\)/);
    expect(server.log()).toMatch(/Waiting for 1 in-flight request\(s\) to complete/);
    await waitUntil(() => stubs.every((p) => !isAlive(p)), 5000, "the stubs to exit");
    expect(segmentsOf(server.pid)).toEqual([]);
  });
});

describe("a server whose start-up models all loaded", () => {
  it("stops cleanly on SIGTERM when idle", async () => {
    const server = await startStubServer(["errors"]);
    try {
      await stopCleanly(server, "SIGTERM");
    } finally {
      await server.stop("SIGKILL");
    }
  });
});
