/**
 * Issue 21 against the real server and stubs (test/fixtures/senders-repo): response senders of a
 * model that is not decoupled (two sends, send and return, null entries), Logger's levels, BLS
 * streams (the bare final as an empty response, cancel(), cancel after completion), the
 * sender's isCancelled(), header forwarding over HTTP and gRPC (case rules, reserved names), and
 * the classification size limit, each with Triton's texts.
 */
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURES, grpcClientOf, postJson, startServer, type RunningServer } from "./harness.js";

const REPO = `${FIXTURES}/senders-repo`;
const MORE_THAN_ONE = "Unable to send response. Non-decoupled model cannot send more than one response.";

let server: RunningServer;
let grpcClient: any;

beforeAll(async () => {
  server = await startServer(REPO, {
    args: ["--allow-grpc", "true", "--grpc-port", "0", "--grpc-address", "127.0.0.1", "--log-verbose", "1",
      "--http-header-forward-pattern", "my_header.*|timeout|triton_.*", "--grpc-header-forward-pattern", "(?-i)MY_HEADER.*|my_grpc.*|priority"],
  });
  grpcClient = await grpcClientOf(server);
}, 60_000);

afterAll(async () => {
  grpcClient?.close();
  await server?.stop();
});

const infer = (model: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.url}/v2/models/${model}/infer`, {
    method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json", ...headers },
  }).then(async (r) => ({ status: r.status, body: await r.json() as any }));

const coupled = (value: number, mode: string) => infer("coupled_sender", {
  id: mode, parameters: { mode }, inputs: [{ name: "IN", datatype: "INT32", shape: [1, 1], data: [value] }],
});

describe("response senders of a model that is not decoupled", () => {
  it("two sends before execute() returns: the first is delivered, the call's failure logged", async () => {
    const r = await coupled(1, "two_pre");
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.outputs[0].data).toEqual([101]);
    await server.waitForLog(new RegExp(
      `Failed to process the request\\(s\\) for model 'coupled_sender_0_0', message: TritonError: ${MORE_THAN_ONE.replace(/\./g, "\\.")}`));
  });

  it("send and return: the sent one wins, the returned one is dropped with Triton's log line", async () => {
    const r = await coupled(5, "send_and_return");
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.outputs[0].data).toEqual([105]);
    await server.waitForLog(new RegExp(
      `Failed to process the request\\(s\\) for model 'coupled_sender_0_0', message: ${MORE_THAN_ONE.replace(/\./g, "\\.")}`));
  });

  it("null entries for requests answered through their senders, next to returned responses", async () => {
    const [a, b] = await Promise.all([coupled(1, "return"), coupled(2, "send")]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.outputs[0].data).toEqual([2]);
    expect(b.body.outputs[0].data).toEqual([102]);
    // The batcher put both in one call: "response 1" was null there.
    await server.waitForLog(/coupled_sender call of 2/);
  });

  it("in one call with a failing request, the others get the call's error", async () => {
    const [a, b] = await Promise.all([coupled(1, "send_and_return"), coupled(2, "return")]);
    expect(a.body.outputs?.[0].data).toEqual([101]);
    expect(b.status).toBe(500);
    expect(b.body.error).toBe(`Failed to process the request(s) for model 'coupled_sender_0_0', message: ${MORE_THAN_ONE}`);
  });

  it("Logger.log honours pb_utils' level constants and refuses others", async () => {
    const r = await coupled(1, "log");
    expect(r.status).toBe(200);
    for (const [sev, text] of [["I", "level info"], ["W", "level warning"], ["E", "level error"], ["V", "level verbose"], ["I", "level default"]]) {
      await server.waitForLog(new RegExp(`^${sev}.*${text}`, "m"));
    }
    await server.waitForLog(/refused: TypeError/);
    expect(server.log()).not.toMatch(/level bogus/);
  });
});

describe("BLS streams", () => {
  const bls = (n: number, mode: string, id = mode) => infer("bls_streamer", {
    id, parameters: { mode }, inputs: [{ name: "IN", datatype: "INT32", shape: [1], data: [n] }],
  });

  it("yield the target's bare final flag as a last empty response", async () => {
    const r = await bls(3, "count");
    expect(r.body.outputs[0].data).toEqual([4, 1]);
    const none = await bls(0, "count");
    expect(none.body.outputs[0].data).toEqual([1, 1]);
  });

  it("cancel() cancels at the target, which sees it; what follows is drained to the final", async () => {
    const r = await bls(3, "cancel", "bls-cancel");
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const [n, all, lastEmpty] = r.body.outputs[0].data;
    expect(n).toBe(3);
    expect(all).toBeGreaterThan(3);
    expect(all).toBeLessThan(100);
    expect(lastEmpty).toBe(1);
    await server.waitForLog(/ticker 'bls-cancel' stopped after \d+: request\.isCancelled\(\)=true/);
  });

  it("cancel() after completion does nothing", async () => {
    const r = await bls(2, "cancel_after");
    expect(r.body.outputs[0].data).toEqual([3, 1]);
  });
});

describe("decoupled senders see a client's cancellation", () => {
  it("sender.isCancelled() turns true when the gRPC stream is cancelled", async () => {
    const call = grpcClient.ModelStreamInfer();
    let got = 0;
    const firstTwo = new Promise<void>((resolve) => call.on("data", () => ++got === 2 && resolve()));
    call.on("error", () => {});
    call.write({ model_name: "ticker", id: "client-cancel", inputs: [{ name: "IN", datatype: "INT32", shape: [1], contents: { int_contents: [-1] } }] });
    await firstTwo;
    call.cancel();
    await server.waitForLog(/ticker 'client-cancel' stopped after \d+: request\.isCancelled\(\)=true/);
  });
});

describe("header forwarding", () => {
  const body = { inputs: [{ name: "IN", datatype: "INT32", shape: [1], data: [1] }], parameters: { p: "x" } };

  it("HTTP: matching headers become string parameters, case-insensitively", async () => {
    const r = await infer("echo_params", body, { "My_Header_1": "v1", "MY_HEADER_2": 'a "quoted" \\ value', "other": "no" });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.parameters).toEqual({ p: "x", My_Header_1: "v1", MY_HEADER_2: 'a "quoted" \\ value' });
  });

  it.each(["timeout", "triton_x"])("HTTP: a reserved header '%s' is refused with Triton's text", async (name) => {
    const r = await infer("echo_params", body, { [name]: "1" });
    expect(r).toEqual({ status: 400, body: { error: `Header '${name}' is reserved for Triton usage and cannot be forwarded.` } });
  });

  const grpcInfer = (metadata: Record<string, string>) => new Promise<{ err: grpc.ServiceError | null; res: any }>((resolve) => {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(metadata)) md.set(k, v);
    grpcClient.ModelInfer({ model_name: "echo_params", inputs: [{ name: "IN", datatype: "INT32", shape: [1], contents: { int_contents: [1] } }] },
      md, (err: grpc.ServiceError | null, res: any) => resolve({ err, res }));
  });

  it("gRPC: keys come lower-case, so a (?-i) upper-case pattern matches none of them", async () => {
    const { err, res } = await grpcInfer({ MY_HEADER_1: "a", my_grpc_2: "b" });
    expect(err).toBeNull();
    expect(Object.fromEntries(Object.entries(res.parameters).map(([k, v]: [string, any]) => [k, v.string_param]))).toEqual({ my_grpc_2: "b" });
  });

  it("gRPC: a reserved key is refused, INVALID_ARGUMENT, with Triton's text", async () => {
    const { err } = await grpcInfer({ priority: "1" });
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toBe("Header 'priority' is reserved for Triton usage and cannot be forwarded.");
  });
});

describe("classification", () => {
  const ask = (n: number) => postJson(`${server.url}/v2/models/big_output/infer`, {
    inputs: [{ name: "N", datatype: "INT32", shape: [1], data: [n] }],
    outputs: [{ name: "OUT", parameters: { classification: 2 } }],
  });

  it("classifies an output of 1 000 000 elements", async () => {
    const r = await ask(1_000_000);
    expect(r.status).toBe(200);
    expect(r.body.outputs[0].data).toEqual(["999999.000000:999999", "999998.000000:999998"]);
  });

  it("refuses one of more than 1 000 000 elements with Triton's error", async () => {
    expect(await ask(1_000_001)).toEqual({ status: 400, body: { error: "classification output tensor too large" } });
  });
});
