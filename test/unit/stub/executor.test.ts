/**
 * runExecute for a coupled call, whatever execute() gives back: an array at once, a promise, a
 * thenable that is not a native promise, or a throw or rejection of either kind. The answer and
 * the handler's time (execNs) must not depend on which.
 */
import { describe, expect, it } from "vitest";
import type { Block, Endpoint } from "../../../src/ipc/endpoint.js";
import type { ExecuteBody } from "../../../src/ipc/protocol.js";
import { Cancellations } from "../../../stub/cancellation.js";
import { runExecute, type ExecuteContext } from "../../../stub/executor.js";
import { InferenceResponse, TRITONSERVER_RESPONSE_COMPLETE_FINAL, Tensor, type InferenceRequest } from "../../../stub/sdk/index.js";

const input = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);

/** Just what the executor asks of an endpoint: views of inputs, blocks for outputs. */
function fakeEndpoint(): Endpoint {
  let offset = 0;
  return {
    view: () => input,
    alloc: (bytes: number): Block => ({ arena: 0, offset: (offset += 64), bytes: new Uint8Array(bytes) }),
    freeBlocks: () => {},
  } as unknown as Endpoint;
}

function context(execute: (requests: InferenceRequest[]) => unknown): ExecuteContext {
  return {
    model: { execute } as ExecuteContext["model"], endpoint: fakeEndpoint(), modelName: "m", instanceName: "m_0",
    decoupled: false, cancellations: new Cancellations(), senderTimeoutMs: 1000,
  };
}

const body = (): ExecuteBody => ({
  id: 9,
  requests: [{ key: 1, id: "r", correlationId: "", flags: 0, slot: -1, parameters: {}, requestedOutputs: [],
    inputs: [{ name: "INPUT0", datatype: "FP32", shape: [4], loc: [0, 0, 16] }] }],
});

const echo = (requests: InferenceRequest[]) =>
  requests.map((r) => new InferenceResponse({ outputTensors: [new Tensor("OUTPUT0", r.inputs()[0].data as Float32Array, [4], "FP32")] }));

/** A thenable that is not a Promise, settling on a later tick. */
function thenable<T>(settle: (resolve: (v: T) => void, reject: (e: unknown) => void) => void): PromiseLike<T> {
  // biome-ignore lint/suspicious/noThenProperty: a thenable is what this test is about
  return { then: (onOk, onErr) => new Promise<T>((res, rej) => setTimeout(() => settle(res, rej), 1)).then(onOk, onErr) } as PromiseLike<T>;
}

describe("runExecute (coupled)", () => {
  const answers: [string, (rs: InferenceRequest[]) => unknown][] = [
    ["an array returned at once", (rs) => echo(rs)],
    ["a promise", async (rs) => echo(rs)],
    ["a thenable that is not a Promise", (rs) => thenable((ok) => ok(echo(rs)))],
    // biome-ignore lint/suspicious/noThenProperty: a thenable is what this case is about
    ["a function with a then (a thenable too)", (rs) => Object.assign(() => {}, { then: (ok: (v: unknown) => void) => ok(echo(rs)) })],
    ["nothing, and sends from a microtask it queued", (rs) => {
      queueMicrotask(() => rs[0].getResponseSender().send(echo(rs)[0], TRITONSERVER_RESPONSE_COMPLETE_FINAL));
      return undefined;
    }],
  ];
  for (const [what, execute] of answers) {
    it(`answers each request when execute() gives ${what}`, async () => {
      const { reply, blocks, inputsDone } = await runExecute(body(), context(execute));
      expect(reply.error).toBeUndefined();
      expect(reply.id).toBe(9);
      expect(reply.responses).toHaveLength(1);
      expect(reply.responses![0].outputs.map((t) => [t.name, t.datatype, t.shape, t.loc[2]])).toEqual([["OUTPUT0", "FP32", [4], 16]]);
      expect(Array.from(new Float32Array(blocks[0].bytes.buffer))).toEqual([1, 2, 3, 4]);
      expect(typeof reply.execNs).toBe("number");
      expect(reply.execNs).toBeGreaterThanOrEqual(0);
      expect(inputsDone).toBeNull();
    });
  }

  const failures: [string, (rs: InferenceRequest[]) => unknown][] = [
    ["throws", () => {
      throw new Error("sync boom");
    }],
    ["returns a rejected promise", async () => {
      throw new Error("async boom");
    }],
    ["returns a thenable that rejects", () => thenable((_, fail) => fail(new Error("thenable boom")))],
    ["returns an object whose then getter throws", () => ({
      // biome-ignore lint/suspicious/noThenProperty: a thenable is what this case is about
      get then(): never {
        throw new Error("sync boom");
      },
    })],
  ];
  for (const [what, execute] of failures) {
    it(`fails the call, timed, when execute() ${what}`, async () => {
      const { reply, blocks } = await runExecute(body(), context(execute));
      expect(reply.responses).toBeUndefined();
      expect(reply.error?.code).toBe("INTERNAL");
      expect(reply.error?.message).toMatch(/^Failed to process the request\(s\) for model 'm_0', message: Error: (sync|async|thenable) boom/);
      expect(typeof reply.execNs).toBe("number");
      expect(blocks).toEqual([]);
    });
  }

  it("execNs counts the time a promise took to settle", async () => {
    const { reply } = await runExecute(body(), context(async (rs) => {
      await new Promise((r) => setTimeout(r, 20));
      return echo(rs);
    }));
    expect(reply.execNs).toBeGreaterThanOrEqual(15e6);
  });
});
