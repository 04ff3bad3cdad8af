/**
 * Every inference ends exactly once: release() is called once per CoreResponse on every path, the
 * views are not released before they are written out, and a client that leaves aborts the signal.
 */
import type * as http from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CoreRequest, CoreResponse } from "../../../src/core/types.js";
import { ServerError } from "../../../src/errors/index.js";
import { FakeApi, postJson, rawRequest, start, until, type Running } from "./helpers.js";

let api: FakeApi;
let server: Running;

beforeEach(async () => {
  api = new FakeApi();
  server = await start(api, 64 << 20);
});
afterEach(async () => {
  await server.close();
});

const INPUT = { name: "x", datatype: "INT32", shape: [1], data: [1] };
const path = "/v2/models/echo/infer";

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Holds infer() until the test lets it go; records the request it got. */
function holdInfer() {
  const gate = deferred<void>();
  const seen = deferred<CoreRequest>();
  api.inferHook = async (req) => {
    seen.resolve(req);
    await gate.promise;
    return api.respond(req, req.inputs);
  };
  return { gate, seen: seen.promise };
}

/** An output of `size` bytes filled with a pattern, in memory the response owns. */
function bigOutput(req: CoreRequest, size: number): CoreResponse {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) data[i] = (i / 4096) % 251 + 1;
  return api.respond(req, [{ name: "big", datatype: "UINT8", shape: [size], data }]);
}

function sendInfer(body: unknown): http.ClientRequest {
  const text = JSON.stringify(body);
  const req = rawRequest(server.port, path, { "Content-Length": Buffer.byteLength(text) });
  req.on("error", () => {});
  req.end(text);
  return req;
}

describe("release()", () => {
  it("is called once for a JSON response", async () => {
    const res = await postJson(server.url + path, { inputs: [INPUT] });
    expect(res.status).toBe(200);
    await res.text();
    expect(api.releaseCounts).toEqual([1]);
  });

  it("is called once for a binary response, only after the bytes left", async () => {
    const size = 16 << 20;
    api.inferHook = async (req) => bigOutput(req, size);
    // Going back to its owner, the memory would be reused: scribble over it to catch an early release.
    api.onRelease = (response) => response.outputs[0]!.data.fill(0);
    const req = sendInfer({ inputs: [INPUT], parameters: { binary_data_output: true } });
    const body = await new Promise<Buffer>((resolve) => {
      req.on("response", (res) => {
        // A slow reader: the server cannot have written everything by the time infer resolved.
        res.pause();
        setTimeout(() => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve(Buffer.concat(chunks)));
          res.resume();
        }, 100);
      });
    });
    const tail = body.subarray(body.length - size);
    for (let i = 0; i < size; i += 4096) {
      if (tail[i] !== (i / 4096) % 251 + 1) throw new Error(`byte ${i} was overwritten before it was sent`);
    }
    await until(() => api.releaseCounts[0] === 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(api.releaseCounts).toEqual([1]);
  });

  it("is called once when encoding the response fails", async () => {
    api.inferHook = async (req) =>
      api.respond(req, [{ name: "h", datatype: "FP16", shape: [1], data: new Uint8Array(2) }]);
    const res = await postJson(server.url + path, { inputs: [INPUT] });
    expect(res.status).toBe(400);
    expect(api.releaseCounts).toEqual([1]);
  });

  it("is called once when the client left before the response was ready", async () => {
    const { gate, seen } = holdInfer();
    const req = sendInfer({ inputs: [INPUT] });
    const request = await seen;
    req.destroy();
    await until(() => request.signal!.aborted);
    gate.resolve();
    await until(() => api.releaseCounts.length === 1 && api.releaseCounts[0] === 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(api.releaseCounts).toEqual([1]);
  });

  it("is called once when the client leaves in the middle of a binary response", async () => {
    api.inferHook = async (req) => bigOutput(req, 32 << 20);
    const req = sendInfer({ inputs: [INPUT], parameters: { binary_data_output: true } });
    await new Promise<void>((resolve) => {
      req.on("response", (res) => {
        res.once("data", () => {
          req.destroy();
          resolve();
        });
      });
    });
    await until(() => api.releaseCounts[0] === 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(api.releaseCounts).toEqual([1]);
  });
});

describe("cancellation", () => {
  it("aborts the signal with CANCELLED when the client disconnects", async () => {
    const { gate, seen } = holdInfer();
    const req = sendInfer({ inputs: [INPUT] });
    const request = await seen;
    expect(request.signal!.aborted).toBe(false);
    req.destroy();
    await until(() => request.signal!.aborted);
    expect(request.signal!.reason).toMatchObject({ code: "CANCELLED" });
    gate.resolve();
  });

  it("does not abort a request that was answered", async () => {
    const res = await postJson(server.url + path, { inputs: [INPUT] });
    await res.text();
    await new Promise((r) => setTimeout(r, 20));
    expect(api.requests[0]!.signal!.aborted).toBe(false);
  });

  it("survives infer() rejecting after the client left, and keeps serving", async () => {
    const gate = deferred<CoreResponse>();
    api.inferHook = () => gate.promise;
    const req = sendInfer({ inputs: [INPUT] });
    await until(() => api.requests.length === 1);
    req.destroy();
    await until(() => api.requests[0]!.signal!.aborted);
    gate.reject(new ServerError("CANCELLED", "request cancelled"));
    await new Promise((r) => setTimeout(r, 20));
    api.inferHook = undefined;
    const res = await postJson(server.url + path, { inputs: [INPUT] });
    expect(res.status).toBe(200);
  });

  it("never calls infer() when the client leaves while sending the body", async () => {
    const req = rawRequest(server.port, path, { "Content-Length": 1000 });
    req.on("error", () => {});
    req.write("{\"inputs\":");
    await new Promise((r) => setTimeout(r, 30));
    req.destroy();
    await new Promise((r) => setTimeout(r, 30));
    expect(api.requests).toEqual([]);
    expect((await fetch(server.url + "/v2/health/live")).status).toBe(200);
  });
});
