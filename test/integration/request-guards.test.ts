/**
 * What the real server refuses before a request reaches a model, over HTTP and gRPC: outputs asked
 * for twice, reserved parameters of the wrong type, undecodable protobuf, messages past
 * --grpc-max-input-size, bodies that stop coming (--http-request-timeout-secs), and restricted
 * APIs (--http-restricted-api, --grpc-restricted-protocol). Each with Triton's status and text.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "node:net";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { FIXTURES, inferBinary, postJson, startServer, type RunningServer, grpcAddressOf, grpcClientOf } from "./harness.js";

const GRPC_LIMIT = 1024 * 1024;

let server: RunningServer;
let client: any;
let raw: grpc.Client;

beforeAll(async () => {
  server = await startServer(join(FIXTURES, "http-repo"), {
    args: ["--allow-grpc", "true", "--grpc-port", "0", "--grpc-address", "127.0.0.1",
      "--model-control-mode", "explicit", "--load-model", "echo",
      "--grpc-max-input-size", String(GRPC_LIMIT), "--http-request-timeout-secs", "1", "--http-header-timeout-secs", "1",
      "--http-restricted-api", "model-repository,statistics:X-Admin=s3cret",
      "--grpc-restricted-protocol", "model-repository:admin=s3cret"],
  });
  client = await grpcClientOf(server, { "grpc.max_send_message_length": -1 });
  raw = new grpc.Client(await grpcAddressOf(server), grpc.credentials.createInsecure());
}, 60_000);

afterAll(async () => {
  client?.close();
  raw?.close();
  expect(await server.stop()).toBe(0);
}, 30_000);

const fp32 = (a: number[]) => Buffer.from(new Float32Array(a).buffer);
const input = { name: "IN_FP32", datatype: "FP32", shape: [1, 2], data: [1, 2] };
const infer = (body: object) => postJson(`${server.url}/v2/models/echo/infer`, body);

function grpcCall(method: string, request: object, metadata = new grpc.Metadata()): Promise<{ err: grpc.ServiceError | null; res: any }> {
  return new Promise((resolve) => client[method](request, metadata, (err: grpc.ServiceError | null, res: any) => resolve({ err, res })));
}
const grpcInfer = (extra: object) => grpcCall("ModelInfer", {
  model_name: "echo", inputs: [{ name: "IN_FP32", datatype: "FP32", shape: [1, 2] }], raw_input_contents: [fp32([1, 2])], ...extra,
});

describe("requested outputs", () => {
  const text = "[request id: <id_unknown>] output 'OUT_FP32' already exists in request";

  it("refuses an output asked for twice over HTTP, JSON and binary, with Triton's text", async () => {
    const json = await infer({ inputs: [input], outputs: [{ name: "OUT_FP32" }, { name: "OUT_FP32" }] });
    expect(json).toEqual({ status: 400, body: { error: text } });
    const binary = await inferBinary(server.url, "echo", [{ name: "IN_FP32", datatype: "FP32", shape: [1, 2], data: fp32([1, 2]) }],
      { outputs: [{ name: "OUT_FP32", parameters: { binary_data: true } }, { name: "OUT_FP32", parameters: { binary_data: true } }] });
    expect([binary.status, binary.json]).toEqual([400, { error: text }]);
    expect((await infer({ inputs: [input], outputs: [{ name: "OUT_FP32" }] })).status).toBe(200);
  });

  it("refuses it over gRPC", async () => {
    const { err } = await grpcInfer({ outputs: [{ name: "OUT_FP32" }, { name: "OUT_FP32" }] });
    expect([err?.code, err?.details]).toEqual([grpc.status.INVALID_ARGUMENT, text]);
  });
});

describe("reserved parameters", () => {
  const UINT = "attempt to access JSON non-unsigned-integer as unsigned-integer";

  it("refuses wrong types over HTTP with Triton's texts, 400", async () => {
    const cases: [object, string][] = [
      [{ priority: "x" }, `Unable to parse 'priority': ${UINT}`],
      [{ priority: -1 }, `Unable to parse 'priority': ${UINT}`],
      [{ priority: 1.5 }, `Unable to parse 'priority': ${UINT}`],
      [{ timeout: "x" }, `Unable to parse 'timeout': ${UINT}`],
      [{ timeout: -1 }, `Unable to parse 'timeout': ${UINT}`],
      [{ sequence_id: false }, "Unable to parse 'sequence_id': attempt to access JSON non-string as string"],
      [{ sequence_start: "yes" }, "Unable to parse 'sequence_start': attempt to access JSON non-boolean as boolean"],
      [{ binary_data_output: "yes" }, "Unable to parse 'binary_data_output': attempt to access JSON non-boolean as boolean"],
    ];
    for (const [parameters, error] of cases) {
      expect(await infer({ parameters, inputs: [input] }), JSON.stringify(parameters)).toEqual({ status: 400, body: { error } });
    }
    const ok = await infer({ parameters: { priority: 0, timeout: 1_000_000, sequence_id: 5 }, inputs: [input], outputs: [{ name: "PARAMS" }] });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body.outputs[0].data[0])).toEqual({ priority: 0, timeout: 1_000_000, sequence_id: 5 });
  });

  it("refuses wrong types over gRPC with Triton's texts, INVALID_ARGUMENT", async () => {
    const cases: [object, string][] = [
      [{ priority: { string_param: "1" } }, "invalid value type for 'priority' parameter, expected int64_param or uint64_param."],
      [{ priority: { int64_param: -1 } }, "invalid value for 'priority', expected value >= 0."],
      [{ timeout: { int64_param: -1 } }, "invalid value for 'timeout', expected value >= 0."],
      [{ sequence_id: { bool_param: true } }, "invalid value type for 'sequence_id' parameter, expected int64_param or string_param."],
    ];
    for (const [parameters, details] of cases) {
      const { err } = await grpcInfer({ parameters });
      expect([err?.code, err?.details], JSON.stringify(parameters)).toEqual([grpc.status.INVALID_ARGUMENT, details]);
    }
    expect((await grpcInfer({ parameters: { priority: { int64_param: 1 }, timeout: { int64_param: 5_000_000 } } })).err).toBeNull();
  });
});

describe("gRPC messages", () => {
  const noop = (b: Buffer) => b;

  it("answers a request protobuf cannot decode with INVALID_ARGUMENT", async () => {
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      raw.makeUnaryRequest("/inference.GRPCInferenceService/ModelInfer", noop, noop, Buffer.from([0x0a, 0xff, 0x01]), (e) => resolve(e)));
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toMatch(/^Error deserializing request: /);
  });

  it("refuses a message past --grpc-max-input-size with RESOURCE_EXHAUSTED, and keeps serving", async () => {
    const big = Buffer.alloc(2 * GRPC_LIMIT);
    const { err } = await grpcCall("ModelInfer", {
      model_name: "echo", inputs: [{ name: "IN_FP32", datatype: "FP32", shape: [1, big.byteLength / 4] }], raw_input_contents: [big],
    });
    expect(err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err?.details).toMatch(/Received message larger than max/);
    expect((await grpcInfer({})).err).toBeNull();
  });
});

describe("HTTP timeouts", () => {
  it("answers 408 and closes a request whose body stops coming, within the request timeout", async () => {
    const { port, hostname } = new URL(server.url);
    const t0 = Date.now();
    const reply = await new Promise<string>((resolve, reject) => {
      let text = "";
      const socket = connect(Number(port), hostname, () => socket.write(
        "POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"inputs\":"));
      socket.on("data", (c: Buffer) => (text += c.toString()));
      socket.on("error", () => {});
      socket.on("close", () => resolve(text));
      setTimeout(() => {
        socket.destroy();
        reject(new Error("the server kept a stalled request open"));
      }, 10_000).unref();
    });
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await infer({ inputs: [input] })).status).toBe(200);
  }, 15_000);
});

describe("restricted APIs", () => {
  it("answers a restricted HTTP API 403 with Triton's text unless the header is right", async () => {
    const text = { error: "This API is restricted, expecting header 'X-Admin'" };
    const index = (headers: Record<string, string> = {}) => fetch(`${server.url}/v2/repository/index`, { method: "POST", headers });
    const refused = await index();
    expect([refused.status, await refused.json()]).toEqual([403, text]);
    expect((await index({ "x-admin": "nope" })).status).toBe(403);
    expect((await index({ "X-Admin": "s3cret" })).status).toBe(200);
    expect((await fetch(`${server.url}/v2/models/echo/stats`)).status).toBe(403);
    // What is not restricted is served as usual.
    expect((await fetch(`${server.url}/v2/health/ready`)).status).toBe(200);
    expect((await infer({ inputs: [input] })).status).toBe(200);
  });

  it("answers a restricted gRPC protocol UNAVAILABLE with Triton's text unless the metadata is right", async () => {
    const refused = await grpcCall("RepositoryIndex", {});
    expect([refused.err?.code, refused.err?.details])
      .toEqual([grpc.status.UNAVAILABLE, "This protocol is restricted, expecting header 'triton-grpc-protocol-admin'"]);
    const metadata = new grpc.Metadata();
    metadata.set("triton-grpc-protocol-admin", "s3cret");
    const allowed = await grpcCall("RepositoryIndex", {}, metadata);
    expect(allowed.err).toBeNull();
    expect(allowed.res.models.map((m: any) => m.name)).toContain("echo");
    // The HTTP restriction is HTTP's: statistics are open over gRPC here.
    expect((await grpcCall("ModelStatistics", { name: "echo" })).err).toBeNull();
  });
});
