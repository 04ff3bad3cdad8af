/**
 * Decoupled models against the real server, real stubs and shared memory: responses sent after
 * execute() returned, zero/one/many per request, errors mid-stream, over gRPC ModelStreamInfer
 * (triton_final_response, triton_enable_empty_final_response) and over HTTP generate and
 * generate_stream (Server-Sent Events); /infer and ModelInfer refused with Triton's texts;
 * cancellation reaching request.isCancelled(); a stub dying mid-stream; unload waiting for open
 * streams; a non-decoupled model answering through its response sender; and BLS calls from a
 * handler (exec, streamExec, errors, timeout).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { FIXTURES, postJson, startServer, type RunningServer, grpcClientOf, grpcParams } from "./harness.js";
import { waitUntil } from "./stub-helpers.js";


let server: RunningServer;
let client: any;

beforeAll(async () => {
  server = await startServer(join(FIXTURES, "decoupled-repo"), {
    args: ["--allow-grpc", "true", "--grpc-port", "0", "--grpc-address", "127.0.0.1",
      "--model-control-mode", "explicit", "--load-model", "repeat", "--load-model", "single_sender", "--load-model", "bls_caller", "--load-model", "repeat_batched",
      // A sender left open fails its request after this long (the no_final test).
      "--backend-config=python,stub-timeout-seconds=2"],
  });
  client = await grpcClientOf(server);
}, 60_000);

afterAll(async () => {
  client?.close();
  expect(await server.stop()).toBe(0);
  expect(readdirSync("/dev/shm").filter((e) => e.startsWith(`tessera-${server.pid}-`))).toEqual([]);
}, 60_000);

type Params = Record<string, string | number | boolean>;


function repeatRequest(id: string, values: number[], params: Params = {}) {
  return {
    model_name: "repeat", id, parameters: grpcParams(params),
    inputs: [{ name: "IN", datatype: "INT32", shape: [values.length], contents: { int_contents: values } }],
  };
}

const int32s = (b: Uint8Array) => Array.from(new Int32Array(Uint8Array.from(b).buffer));

/** Writes the requests on one stream, half-closes, and resolves with every message and the status. */
async function stream(requests: object[]): Promise<{ messages: any[]; status: grpc.StatusObject }> {
  const call = client.ModelStreamInfer();
  const messages: any[] = [];
  call.on("data", (m: any) => messages.push(m));
  call.on("error", () => {});
  const status = new Promise<grpc.StatusObject>((r) => call.once("status", r));
  for (const r of requests) call.write(r);
  call.end();
  return { messages, status: await status };
}

const final = (m: any) => m.infer_response?.parameters?.triton_final_response?.bool_param;
const out = (m: any) => int32s(m.infer_response.raw_output_contents[0])[0];

/** POSTs to generate_stream and parses the Server-Sent Events. */
async function events(model: string, body: object): Promise<{ status: number; type: string | null; events: any[] }> {
  const res = await fetch(`${server.url}/v2/models/${model}/generate_stream`, { method: "POST", body: JSON.stringify(body) });
  const text = await res.text();
  const events = text.split("\n\n").filter((e) => e.length > 0).map((e) => {
    expect(e.startsWith("data: ")).toBe(true);
    return JSON.parse(e.slice(6));
  });
  return { status: res.status, type: res.headers.get("content-type"), events };
}

describe("gRPC ModelStreamInfer, decoupled", () => {
  it("streams one response per element after execute() returned, each flagged not final", async () => {
    const { messages, status } = await stream([repeatRequest("r1", [5, 6, 7])]);
    expect(status.code).toBe(grpc.status.OK);
    expect(messages.map((m) => m.error_message)).toEqual(["", "", ""]);
    expect(messages.map(out)).toEqual([5, 6, 7]);
    expect(messages.map((m) => int32s(m.infer_response.raw_output_contents[1])[0])).toEqual([0, 1, 2]);
    expect(messages.map(final)).toEqual([false, false, false]);
    expect(messages.map((m) => m.infer_response.id)).toEqual(["r1", "r1", "r1"]);
    expect(messages[0].infer_response.outputs.map((o: any) => o.name)).toEqual(["OUT", "IDX"]);
  });

  it("sends an empty final response only when asked (triton_enable_empty_final_response)", async () => {
    const asked = await stream([repeatRequest("e1", [1, 2], { triton_enable_empty_final_response: true })]);
    expect(asked.messages.map(final)).toEqual([false, false, true]);
    const last = asked.messages[2].infer_response;
    expect(last).toMatchObject({ id: "e1", model_name: "repeat", outputs: [], raw_output_contents: [] });

    const flagged = await stream([repeatRequest("e2", [1, 2], { mode: "last_final" })]);
    expect(flagged.messages.map(final)).toEqual([false, true]);

    const none = await stream([repeatRequest("z1", [], { mode: "none" }), repeatRequest("z2", [], { mode: "none", triton_enable_empty_final_response: true })]);
    expect(none.status.code).toBe(grpc.status.OK);
    expect(none.messages.map((m) => [m.infer_response.id, final(m)])).toEqual([["z2", true]]);

    const wrongType = await stream([repeatRequest("w", [1], { triton_enable_empty_final_response: "yes" })]);
    expect(wrongType.messages.map((m) => m.error_message)).toEqual(
      ["invalid value type for 'triton_enable_empty_final_response' parameter, expected bool_param."]);
  });

  it("delivers an error mid-stream as error_message and goes on", async () => {
    const { messages } = await stream([repeatRequest("m", [5, 6, 7], { mode: "error_mid" })]);
    expect(messages.map((m) => m.error_message)).toEqual(["", "bad element at 1", ""]);
    expect(out(messages[0])).toBe(5);
    expect(out(messages[2])).toBe(7);
    expect(messages[1].infer_response).toMatchObject({ id: "m", model_name: "repeat" });
    expect(messages.map(final)).toEqual([false, false, false]);
  });

  it("ends every open request with the error when execute() throws or returns responses", async () => {
    // Triton's python backend: the thrown exception's type and message after its prefix, INTERNAL.
    const thrown = await stream([repeatRequest("t", [1], { mode: "throw" })]);
    expect(thrown.messages.map((m) => final(m))).toEqual([true]);
    expect(thrown.messages[0].error_message).toMatch(
      /^Failed to process the request\(s\) for model 'repeat_0_0', message: TritonError: execute failed on purpose\n\nAt:\n {2}repeat\/1\/model\.ts\(21\): /);
    const returned = await stream([repeatRequest("t2", [1], { mode: "return" })]);
    expect(returned.messages).toHaveLength(1);
    expect(returned.messages[0].error_message).toBe("Failed to process the request(s) for model 'repeat_0_0', message: " +
      "Python model 'repeat_0_0' is using the decoupled mode and the execute function must return None.");
  });

  it("interleaves the responses of concurrent requests, each from its own inputs", async () => {
    const requests = Array.from({ length: 8 }, (_, k) => repeatRequest(`c${k}`, [k * 10, k * 10 + 1, k * 10 + 2], { delay_ms: 15 }));
    const { messages } = await stream(requests);
    expect(messages).toHaveLength(24);
    for (let k = 0; k < 8; k++) {
      expect(messages.filter((m) => m.infer_response.id === `c${k}`).map(out)).toEqual([k * 10, k * 10 + 1, k * 10 + 2]);
    }
    // Not one request after the other: the instance took the next call while streams were open.
    const firstOfLast = messages.findIndex((m) => m.infer_response.id === "c7");
    const lastOfFirst = messages.map((m) => m.infer_response.id).lastIndexOf("c0");
    expect(firstOfLast).toBeLessThan(lastOfFirst);
  });

  it("streams each request of a dynamically batched call on its own", async () => {
    const requests = [0, 1, 2, 3].map((k) => ({
      model_name: "repeat_batched", id: `b${k}`,
      inputs: [{ name: "IN", datatype: "INT32", shape: [1, 3], contents: { int_contents: [k, k + 10, k + 20] } }],
    }));
    const { messages } = await stream(requests);
    expect(messages).toHaveLength(12);
    for (let k = 0; k < 4; k++) {
      const mine = messages.filter((m) => m.infer_response.id === `b${k}`);
      expect(mine.map(out)).toEqual([k, k + 10, k + 20]);
    }
    // The batcher joined them: at least one call carried more than one request.
    expect(Math.max(...messages.map((m) => int32s(m.infer_response.raw_output_contents[1])[0]))).toBeGreaterThan(1);
  });

  it("refuses ModelInfer on a decoupled model with Triton's text (UNIMPLEMENTED)", async () => {
    const err = await new Promise<grpc.ServiceError>((resolve) => client.ModelInfer(repeatRequest("u", [1]), (e: grpc.ServiceError) => resolve(e)));
    expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(err.details).toBe("ModelInfer RPC doesn't support models with decoupled transaction policy");
  });

  it("cancelling the call reaches request.isCancelled() in the stub", async () => {
    const call = client.ModelStreamInfer();
    call.on("error", () => {});
    let seen = 0;
    const three = new Promise<void>((resolve) => call.on("data", () => ++seen === 3 && resolve()));
    call.write(repeatRequest("grpc-cancel", [0], { mode: "until_cancelled" }));
    await three;
    call.cancel();
    const line = await server.waitForLog(/request 'grpc-cancel' cancelled after (\d+) responses/, 10_000);
    expect(Number(/after (\d+)/.exec(line)![1])).toBeGreaterThanOrEqual(3);
  });
});

describe("HTTP generate extension", () => {
  it("generate_stream: one Server-Sent Event per response, JSON keys as inputs and parameters", async () => {
    const r = await events("repeat", { IN: [3, 4, 5], parameters: { delay_ms: 1 } });
    expect(r.status).toBe(200);
    expect(r.type).toBe("text/event-stream; charset=utf-8");
    expect(r.events).toEqual([0, 1, 2].map((i) => ({ model_name: "repeat", model_version: "1", OUT: 3 + i, IDX: i })));
  });

  it("counts each decoupled request once, with its execution, however fast its final response came", async () => {
    const stats = async () => (await (await fetch(`${server.url}/v2/models/repeat/stats`)).json()).model_stats[0];
    const before = await stats();
    await events("repeat", { IN: [1, 2, 3] }); // every response, final included, sent inside execute()
    await events("repeat", { IN: [1], mode: "none" });
    await events("repeat", { IN: [1, 2], delay_ms: 20 }); // the final well after execute() returned
    await events("repeat", { IN: [5, 6, 7], mode: "error_mid" }); // an error mid-stream is not a failure
    await events("repeat", { IN: [1], mode: "throw" }); // the final carries the error: a failure
    // The last request's counts land as its stream ends, which may be just after the client saw its end.
    const requests = (x: any) => Number(x.inference_stats.success.count) + Number(x.inference_stats.fail.count);
    const after = await waitUntil(async () => {
      const now = await stats();
      return requests(now) - requests(before) >= 5 ? now : undefined;
    }, 5_000, "the five requests' statistics");
    const d = (f: (x: any) => number) => f(after) - f(before);
    expect(d((x) => Number(x.inference_stats.success.count))).toBe(4);
    expect(d((x) => Number(x.inference_stats.fail.count))).toBe(1);
    expect(d((x) => Number(x.execution_count))).toBe(5);
    expect(d((x) => Number(x.inference_stats.compute_infer.count))).toBe(4);
  });

  it("counts each response by its index in response_stats, the same over HTTP and gRPC", async () => {
    const stats = async () => (await (await fetch(`${server.url}/v2/models/repeat/stats`)).json()).model_stats[0].response_stats;
    const count = (rs: any, i: string, k: string) => Number(rs[i]?.[k]?.count ?? 0);
    const before = await stats();
    await events("repeat", { IN: [1, 2, 3], delay_ms: 5 }); // three responses, then the bare final flag
    await events("repeat", { IN: [5, 6, 7], mode: "error_mid" });
    const after = await stats();
    const d = (i: string, k: string) => count(after, i, k) - count(before, i, k);
    expect(d("0", "success")).toBe(2);
    expect(d("0", "compute_output")).toBe(2);
    expect(d("2", "success") + d("2", "fail")).toBe(2);
    // The bare final flag: an empty response, its computing time in compute_infer.
    expect(d("3", "empty_response")).toBe(2);
    expect(d("3", "compute_infer")).toBe(2);
    expect(Object.keys(after["3"])).toEqual(["compute_infer", "compute_output", "success", "fail", "empty_response", "cancel"]);
    expect(Number(after["0"].success.ns)).toBeGreaterThan(0);
    const g = await new Promise<any>((resolve, reject) =>
      client.ModelStatistics({ name: "repeat", version: "" }, (err: any, res: any) => (err ? reject(err) : resolve(res))));
    const viaGrpc = g.model_stats[0].response_stats;
    const current = await stats();
    expect(Object.keys(viaGrpc).sort()).toEqual(Object.keys(current).sort());
    expect(Number(viaGrpc["0"].success.count)).toBe(current["0"].success.count);
  });

  it("generate_stream: errors mid-stream are events; zero responses is an empty stream", async () => {
    const mid = await events("repeat", { IN: [5, 6, 7], mode: "error_mid" });
    expect(mid.status).toBe(200);
    expect(mid.events).toEqual([
      { model_name: "repeat", model_version: "1", OUT: 5, IDX: 0 },
      { error: "bad element at 1" },
      { model_name: "repeat", model_version: "1", OUT: 7, IDX: 2 },
    ]);
    const none = await events("repeat", { IN: [1], mode: "none" });
    expect(none).toMatchObject({ status: 200, events: [] });
    // An error first sets the status, as Triton's does.
    const thrown = await events("repeat", { IN: [1], mode: "throw" });
    expect(thrown.status).toBe(500); // Triton: a thrown exception is INTERNAL, whatever its code
    expect(thrown.events).toHaveLength(1);
    expect(thrown.events[0].error).toMatch(/^Failed to process the request\(s\) for model 'repeat_0_0', message: TritonError: execute failed on purpose\n/);
  });

  it("generate: exactly one response, else Triton's error", async () => {
    const one = await postJson(`${server.url}/v2/models/repeat/generate`, { IN: 9 });
    expect(one).toEqual({ status: 200, body: { model_name: "repeat", model_version: "1", OUT: 9, IDX: 0 } });
    const many = await postJson(`${server.url}/v2/models/repeat/generate`, { IN: [1, 2] });
    expect(many.status).toBe(500);
    expect(many.body.error).toBe("generate expects model to produce exactly 1 response, use generate stream for model that generates various number of responses");
    const bad = await postJson(`${server.url}/v2/models/repeat/generate`, { IN: 1, odd: [1, 2] });
    expect(bad).toEqual({ status: 400, body: { error: "parameter 'odd' has invalid type. It should be either 'int', 'bool', or 'string'." } });
    const unknown = await postJson(`${server.url}/v2/models/nope/generate`, { IN: 1 });
    expect(unknown.status).toBe(404);
  });

  it("/infer on a decoupled model: 501 with Triton's text, before the body is read", async () => {
    const r = await postJson(`${server.url}/v2/models/repeat/infer`, { not: "even an infer request" });
    expect(r).toEqual({ status: 501, body: { error: "HTTP end point doesn't support models with decoupled transaction policy" } });
  });

  it("a client that disconnects cancels the request", async () => {
    const controller = new AbortController();
    const res = await fetch(`${server.url}/v2/models/repeat/generate_stream`, {
      method: "POST", body: JSON.stringify({ IN: [0], mode: "until_cancelled", id: "ignored" }), signal: controller.signal,
    });
    const reader = res.body!.getReader();
    let text = "";
    while ((text.match(/data: /g) ?? []).length < 3) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    await server.waitForLog(/request '' cancelled after \d+ responses/, 10_000);
  });

  it("a stub that dies mid-stream ends the stream with an error event, and a replacement serves", async () => {
    const r = await events("repeat", { IN: [1], mode: "crash" });
    expect(r.events[0]).toEqual({ model_name: "repeat", model_version: "1", OUT: 1, IDX: 0 });
    expect(r.events).toHaveLength(2);
    expect(r.events[1].error).toMatch(/Failed to process the request\(s\) for model instance 'repeat_0_0'/);
    let after;
    for (let i = 0; i < 50; i++) {
      after = await events("repeat", { IN: [4, 2] });
      if (after.events.length === 2 && !after.events[0].error) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(after!.events.map((e: any) => e.OUT)).toEqual([4, 2]);
  });
});

describe("response senders", () => {
  it("refuses a send after the final flag with Triton's text", async () => {
    const r = await events("repeat", { IN: [1], mode: "after_final" });
    expect(r.events).toEqual([{ model_name: "repeat", model_version: "1", OUT: 1, IDX: 0 }]);
    await server.waitForLog(/after final: Unable to send response\. Response sender has been closed\./, 10_000);
  });

  it("a non-decoupled model may answer through its sender: one response, then final", async () => {
    const body = { inputs: [{ name: "IN", datatype: "INT32", shape: [3], data: [1, 2, 3] }] };
    const plain = await postJson(`${server.url}/v2/models/single_sender/infer`, body);
    expect(plain.status).toBe(200);
    expect(plain.body.outputs[0].data).toEqual([2, 4, 6]);
    const two = await postJson(`${server.url}/v2/models/single_sender/infer`, { ...body, parameters: { mode: "two" } });
    expect(two.body.outputs[0].data).toEqual([2, 4, 6]);
    await server.waitForLog(/single_sender refused: Unable to send response\. Non-decoupled model cannot send more than one response\./, 10_000);
    const early = await postJson(`${server.url}/v2/models/single_sender/infer`, { ...body, parameters: { mode: "final_first" } });
    expect(early.body.outputs[0].data).toEqual([2, 4, 6]);
    await server.waitForLog(/single_sender refused: Unable to send response\. Non-decoupled model cannot send complete final before sending a response\./, 10_000);
    // A sender never closed fails its request after stub-timeout-seconds; the instance serves on.
    const open = await postJson(`${server.url}/v2/models/single_sender/infer`, { ...body, parameters: { mode: "no_final" } });
    expect(open.status).toBe(500);
    expect(open.body.error).toBe("Failed to process the request(s) for model 'single_sender_0_0', message: " +
      "model 'single_sender': execute() returned, and a response sender was not closed with TRITONSERVER_RESPONSE_COMPLETE_FINAL within 2000 ms");
    expect((await postJson(`${server.url}/v2/models/single_sender/infer`, body)).body.outputs[0].data).toEqual([2, 4, 6]);
    // Its one response streams like any model's, flagged final.
    const s = await events("single_sender", { IN: [5] });
    expect(s.events).toEqual([{ model_name: "single_sender", model_version: "1", OUT: 10 }]);
  });
});

describe("BLS: a handler calling other models", () => {
  const call = (mode: string, values: number[], id = "") => postJson(`${server.url}/v2/models/bls_caller/infer`, {
    id, inputs: [{ name: "IN", datatype: "INT32", shape: [values.length], data: values }], parameters: { mode },
  });

  it("exec() runs another model through the server and returns its response", async () => {
    const r = await call("exec", [1, 2, 3]);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.outputs[0].data).toEqual([3, 5, 7]);
    // The target counted it like any request.
    const stats = await (await fetch(`${server.url}/v2/models/single_sender/stats`)).json();
    expect(stats.model_stats[0].inference_stats.success.count).toBeGreaterThan(0);
  });

  it("streamExec() yields a decoupled model's responses as they come", async () => {
    const r = await call("stream", [7, 8, 9, 10]);
    expect(r.body.outputs[0].data).toEqual([7, 8, 9, 10]);
  });

  it("failures come back as responses carrying the error, as in pb_utils", async () => {
    const missing = await call("missing", [1]);
    expect(missing).toEqual({ status: 404, body: { error: "Request for unknown model: 'no_such_model' is not found" } });
    const many = await call("exec_many", [1, 2]);
    expect(many.status).toBe(400);
    expect(many.body.error).toBe("model 'repeat' sent 2 responses to exec(), which takes exactly one: use streamExec() for a decoupled model");
  });

  it("timeoutMs ends the call with Triton's timeout error and cancels it at the target", async () => {
    const r = await call("timeout", [0], "bls-timeout");
    expect(r.status).toBe(200);
    expect(r.body.outputs[0].data[0]).toBeGreaterThan(0);
    expect(r.body.parameters).toEqual({ error: "Request timeout expired" });
    await server.waitForLog(/request 'bls-timeout' cancelled after \d+ responses/, 10_000);
  });
});

describe("unload", () => {
  it("waits for open streams to finish before the stub goes", async () => {
    const open = events("repeat", { IN: [1, 2, 3, 4, 5, 6], delay_ms: 60 });
    await new Promise((r) => setTimeout(r, 100));
    const unload = await postJson(`${server.url}/v2/repository/models/repeat/unload`, {});
    expect(unload.status).toBe(200);
    const r = await open;
    expect(r.events.map((e: any) => e.OUT)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe("shutdown with a stream that does not end", () => {
  it("waits --exit-timeout-secs, then ends the stream with an error and exits", async () => {
    const own = await startServer(join(FIXTURES, "decoupled-repo"), {
      args: ["--model-control-mode", "explicit", "--load-model", "repeat", "--exit-timeout-secs", "1"],
    });
    const res = await fetch(`${own.url}/v2/models/repeat/generate_stream`, {
      method: "POST", body: JSON.stringify({ IN: [0], mode: "until_cancelled" }),
    });
    const reader = res.body!.getReader();
    await reader.read(); // streaming
    const t0 = Date.now();
    const exited = own.stop("SIGTERM");
    let text = "";
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(await exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(text).toMatch(/data: \{"error":"Failed to process the request\(s\) for model instance .repeat_0_0./);
    expect(readdirSync("/dev/shm").filter((e) => e.startsWith(`tessera-${own.pid}-`))).toEqual([]);
  }, 30_000);
});
