/**
 * Triton fidelity of handler failures over gRPC (issue 12, deviations 8 and 12): execute() throwing
 * answers Triton's python backend text on unary ModelInfer and in streams; a stream opened with
 * `triton_grpc_error: true` ends at its first error response with that error's gRPC status and
 * message (Triton's stream_infer_handler.cc), while without it the error is in-stream and the
 * stream goes on.
 */
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpcClientOf, type RunningServer } from "./harness.js";
import { startStubServer } from "./stub-helpers.js";

const PREFIX = "Failed to process the request(s) for model 'errors_0_0', message: ";

let server: RunningServer;
let client: any;

beforeAll(async () => {
  server = await startStubServer(["errors"], { args: ["--allow-grpc", "true", "--grpc-port", "0", "--grpc-address", "127.0.0.1"] });
  client = await grpcClientOf(server);
});
afterAll(async () => {
  client?.close();
  await server?.stop("SIGKILL");
});

function request(id: string, mode?: string) {
  return {
    model_name: "errors", id, parameters: mode ? { mode: { string_param: mode } } : {},
    inputs: [{ name: "INPUT0", datatype: "FP32", shape: [2], contents: { fp32_contents: [1, 2] } }],
  };
}

/**
 * Opens a stream (with `metadata`), writes each request once the previous one has answered, and
 * half-closes; resolves with the messages and the call's status.
 */
async function stream(requests: object[], metadata?: grpc.Metadata): Promise<{ messages: any[]; status: grpc.StatusObject }> {
  const call = metadata ? client.ModelStreamInfer(metadata) : client.ModelStreamInfer();
  const messages: any[] = [];
  let next: (() => void) | undefined;
  call.on("data", (m: any) => {
    messages.push(m);
    next?.();
  });
  call.on("error", () => {});
  const status = new Promise<grpc.StatusObject>((r) => call.once("status", r));
  let ended = false;
  void status.then(() => {
    ended = true;
    next?.();
  });
  for (const r of requests) {
    if (ended) break;
    const answered = new Promise<void>((r) => (next = r));
    call.write(r);
    await Promise.race([answered, new Promise((r) => setTimeout(r, 3000))]);
  }
  call.end();
  return { messages, status: await status };
}

function errorMode(): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set("triton_grpc_error", "true");
  return md;
}

describe("execute() throwing, over gRPC", () => {
  it("unary ModelInfer: INTERNAL with Triton's prefix, the exception type and message", async () => {
    const err: grpc.ServiceError = await new Promise((resolve, reject) =>
      client.ModelInfer(request("u", "invalid_arg"), (e: grpc.ServiceError | null) => (e ? resolve(e) : reject(new Error("no error")))));
    expect(err.code).toBe(grpc.status.INTERNAL);
    expect(err.details.startsWith(`${PREFIX}TritonError: the input is unacceptable: INVALID_ARG from the handler\n\nAt:\n  errors/1/model.ts(`)).toBe(true);
  });
});

describe("ModelStreamInfer and triton_grpc_error", () => {
  it("without the header: the error is in-stream and the stream goes on", async () => {
    const { messages, status } = await stream([request("a"), request("b", "plain_error"), request("c")]);
    expect(status.code).toBe(grpc.status.OK);
    expect(messages.map((m) => m.error_message === "" ? "ok" : "error")).toEqual(["ok", "error", "ok"]);
    expect(messages[1].error_message.startsWith(`${PREFIX}Error: plain Error thrown by execute\n\nAt:\n`)).toBe(true);
    expect(messages[2].infer_response.id).toBe("c");
  });

  it("with triton_grpc_error: true, the first error response ends the stream with its status and message", async () => {
    const { messages, status } = await stream([request("a"), request("b", "plain_error"), request("c")], errorMode());
    expect(messages).toHaveLength(1);
    expect(messages[0].error_message).toBe("");
    expect(messages[0].infer_response.id).toBe("a");
    expect(status.code).toBe(grpc.status.INTERNAL);
    expect(status.details.startsWith(`${PREFIX}Error: plain Error thrown by execute\n\nAt:\n`)).toBe(true);
  });

  it("the error's own code becomes the status (a response carrying NOT_FOUND)", async () => {
    const { messages, status } = await stream([request("x", "response_error")], errorMode());
    expect(messages).toEqual([]);
    expect(status.code).toBe(grpc.status.NOT_FOUND);
    expect(status.details).toBe("per-request failure: not found here");
  });

  it("only the value \"true\" turns it on; a request refused before scheduling stays in-stream", async () => {
    const off = new grpc.Metadata();
    off.set("triton_grpc_error", "false");
    const notOn = await stream([request("b", "plain_error"), request("c")], off);
    expect(notOn.status.code).toBe(grpc.status.OK);
    expect(notOn.messages).toHaveLength(2);
    const refused = await stream([{ ...request("m"), model_name: "no_such_model" }, request("n")], errorMode());
    expect(refused.status.code).toBe(grpc.status.OK);
    expect(refused.messages.map((m) => m.error_message === "")).toEqual([false, true]);
  });

  it("the server goes on serving other streams after one ended with an error", async () => {
    const { messages, status } = await stream([request("z")], errorMode());
    expect(status.code).toBe(grpc.status.OK);
    expect(messages).toHaveLength(1);
  });
});
