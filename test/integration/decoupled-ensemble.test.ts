/**
 * An ensemble whose first step is decoupled (Triton's repeat_square: `repeat` sends one response
 * per element, each squared by `square`) on the real server: its config turns decoupled; one
 * ensemble response per element over gRPC ModelStreamInfer and HTTP generate_stream; an error of
 * the decoupled step mid-stream, and of the step downstream, ends the stream with Triton's "in
 * ensemble" prefix after what came before; /infer and ModelInfer refused with the decoupled texts;
 * statistics once per ensemble request and per step request; an ensemble fed by two decoupled
 * steps refused at load with Triton's text.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { FIXTURES, grpcClientOf, postJson, startServer, type RunningServer, grpcParams } from "./harness.js";

let server: RunningServer;
let client: any;

beforeAll(async () => {
  server = await startServer([join(FIXTURES, "decoupled-repo"), join(FIXTURES, "decoupled-ensemble-repo")], {
    args: ["--allow-grpc", "true", "--grpc-port", "0", "--grpc-address", "127.0.0.1",
      "--model-control-mode", "explicit", "--load-model", "repeat_square"],
  });
  client = await grpcClientOf(server);
}, 60_000);

afterAll(async () => {
  client?.close();
  expect(await server.stop()).toBe(0);
  expect(readdirSync("/dev/shm").filter((e) => e.startsWith(`tessera-${server.pid}-`))).toEqual([]);
}, 60_000);

type Params = Record<string, string | number | boolean>;
const request = (id: string, values: number[], params: Params = {}) => ({
  model_name: "repeat_square", id, parameters: grpcParams(params),
  inputs: [{ name: "IN", datatype: "INT32", shape: [values.length], contents: { int_contents: values } }],
});
const int32s = (b: Uint8Array) => Array.from(new Int32Array(Uint8Array.from(b).buffer));
const final = (m: any) => m.infer_response?.parameters?.triton_final_response?.bool_param;
/** One message's [OUT, IDX], by output name. */
function pair(m: any): [number, number] {
  const r = m.infer_response;
  const at = (name: string) => r.outputs.findIndex((o: any) => o.name === name);
  return [int32s(r.raw_output_contents[at("OUT")])[0], int32s(r.raw_output_contents[at("IDX")])[0]];
}

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

async function events(body: object): Promise<{ status: number; events: any[] }> {
  const res = await fetch(`${server.url}/v2/models/repeat_square/generate_stream`, { method: "POST", body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, events: text.split("\n\n").filter((e) => e.length > 0).map((e) => JSON.parse(e.slice("data: ".length))) };
}

describe("a decoupled step in an ensemble", () => {
  it("loads the ensemble and its steps, and makes the ensemble decoupled", async () => {
    const config = await (await fetch(`${server.url}/v2/models/repeat_square/config`)).json();
    expect(config.model_transaction_policy).toEqual({ decoupled: true });
    const index = await postJson(`${server.url}/v2/repository/index`, { ready: true });
    expect(index.body.map((e: { name: string }) => e.name).sort()).toEqual(["repeat", "repeat_square", "square"]);
  });

  it("gRPC ModelStreamInfer: one response per element, through the next step, then the final flag", async () => {
    const { messages, status } = await stream([request("s1", [2, 3, 4], { triton_enable_empty_final_response: true })]);
    expect(status.code).toBe(grpc.status.OK);
    expect(messages.every((m) => m.error_message === "")).toBe(true);
    const answers = messages.filter((m) => m.infer_response.outputs.length > 0);
    expect(answers.map(pair).sort((a, b) => a[1] - b[1])).toEqual([[4, 0], [9, 1], [16, 2]]);
    expect(answers.every((m) => m.infer_response.id === "s1" && m.infer_response.model_name === "repeat_square")).toBe(true);
    // The final flag comes once, last: on the last answer, or as the empty final response.
    expect(messages.map(final).filter((f) => f)).toHaveLength(1);
    expect(final(messages[messages.length - 1])).toBe(true);
  });

  it("keeps concurrent streamed requests apart", async () => {
    const requests = Array.from({ length: 6 }, (_, k) => request(`c${k}`, [k, k + 1], { delay_ms: 5 }));
    const { messages } = await stream(requests);
    for (let k = 0; k < 6; k++) {
      const mine = messages.filter((m) => m.infer_response.id === `c${k}`);
      expect(mine.map(pair).sort((a, b) => a[1] - b[1])).toEqual([[k * k, 0], [(k + 1) * (k + 1), 1]]);
    }
  });

  it("HTTP generate_stream: one event per element", async () => {
    const r = await events({ IN: [5, 6] });
    expect(r.status).toBe(200);
    expect(r.events.sort((a, b) => a.IDX - b.IDX)).toEqual([
      { model_name: "repeat_square", model_version: "1", OUT: 25, IDX: 0 },
      { model_name: "repeat_square", model_version: "1", OUT: 36, IDX: 1 },
    ]);
  });

  it("an error of the decoupled step mid-stream ends the stream, prefixed, after the answers before it", async () => {
    const grpcRun = await stream([request("e1", [2, 3, 4], { mode: "error_mid", delay_ms: 150 })]);
    expect(grpcRun.messages.map((m) => m.error_message)).toEqual(["", "in ensemble 'repeat_square', bad element at 1"]);
    expect(pair(grpcRun.messages[0])).toEqual([4, 0]);
    const http = await events({ IN: [2, 3, 4], mode: "error_mid", delay_ms: 150 });
    expect(http).toEqual({ status: 200, events: [
      { model_name: "repeat_square", model_version: "1", OUT: 4, IDX: 0 },
      { error: "in ensemble 'repeat_square', bad element at 1" },
    ] });
  });

  it("an error of the step downstream ends the stream the same way", async () => {
    const { messages } = await stream([request("e2", [2, 3, 4], { fail_on: 3, delay_ms: 150 })]);
    expect(messages.map((m) => m.error_message)).toEqual(["", "in ensemble 'repeat_square', cannot square 3"]);
    expect(pair(messages[0])).toEqual([4, 0]);
  });

  it("refuses /infer and ModelInfer with the decoupled texts", async () => {
    const r = await postJson(`${server.url}/v2/models/repeat_square/infer`, { inputs: [{ name: "IN", datatype: "INT32", shape: [1], data: [1] }] });
    expect(r).toEqual({ status: 501, body: { error: "HTTP end point doesn't support models with decoupled transaction policy" } });
    const err = await new Promise<grpc.ServiceError>((resolve) => client.ModelInfer(request("u", [1]), (e: grpc.ServiceError) => resolve(e)));
    expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(err.details).toBe("ModelInfer RPC doesn't support models with decoupled transaction policy");
  });

  it("counts each ensemble request once, and each step request at its model", async () => {
    const stat = async (m: string) => (await (await fetch(`${server.url}/v2/models/${m}/stats`)).json()).model_stats[0].inference_stats;
    const count = async () => Promise.all(["repeat_square", "repeat", "square"].map(async (m) => {
      const s = await stat(m);
      return [Number(s.success.count), Number(s.fail.count)];
    }));
    const before = await count();
    await events({ IN: [1, 2, 3] });
    await events({ IN: [1, 2, 3], fail_on: 2, delay_ms: 100 });
    const after = await count();
    // [success, failure] deltas: the ensemble 1 + 1; repeat 2 + 0 (its own stream had no error);
    // square 3 + (1 and the failure): after the failure the third element starts no step.
    expect(after.map(([s, f], i) => [s - before[i][0], f - before[i][1]])).toEqual([[1, 1], [2, 0], [4, 1]]);
  });

  it("refuses at load an ensemble whose outputs come from two different decoupled steps (Triton's text)", async () => {
    const config = JSON.stringify({
      name: "repeat_square", platform: "ensemble",
      input: [{ name: "IN", data_type: "TYPE_INT32", dims: [-1] }],
      output: [{ name: "OUT", data_type: "TYPE_INT32", dims: [1] }, { name: "IDX", data_type: "TYPE_UINT32", dims: [1] }],
      ensemble_scheduling: { step: [
        { model_name: "repeat", model_version: -1, input_map: { IN: "IN" }, output_map: { OUT: "OUT" } },
        { model_name: "repeat", model_version: -1, input_map: { IN: "IN" }, output_map: { IDX: "IDX" } },
      ] },
    });
    const r = await postJson(`${server.url}/v2/repository/models/repeat_square/load`, { parameters: { config } });
    expect(r.status).toBe(400);
    expect(r.body.error).toContain("in ensemble repeat_square, step of model 'repeat_square' receives inputs originated from different decoupled models");
  });
});
