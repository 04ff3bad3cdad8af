/**
 * Issue 12 against the real server: raw binary deduction, chunked bodies (with and without a
 * stray Content-Length), gzip/deflate bodies both ways, nesting depth and exact shapes.
 */
import { Buffer } from "node:buffer";
import * as net from "node:net";
import { join } from "node:path";
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURES, startServer, type RunningServer } from "./harness.js";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer(join(FIXTURES, "bodies-repo"), { args: ["--http-max-input-size", String(1 << 20)] });
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer);
const infer = (model: string, body: Buffer | string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}/v2/models/${model}/infer`, { method: "POST", body: typeof body === "string" ? body : new Uint8Array(body), headers });

/** One request written by hand (its head asks for Connection: close), the raw response back. */
function rawRequest(head: string, body: Buffer): Promise<Buffer> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(Buffer.concat([Buffer.from(head), body])));
    const chunks: Buffer[] = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("close", () => resolve(Buffer.concat(chunks)));
    socket.on("error", reject);
  });
}
const chunked = (body: Buffer) => Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from("\r\n0\r\n\r\n")]);

describe("raw binary requests", () => {
  it("refuses a model with two variable dimensions with Triton's text", async () => {
    const res = await infer("two_variable", f32([1, 2, 3, 4]), { "Inference-Header-Content-Length": "0" });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toBe(
      "The shape of the raw input 'INPUT0' can not be deduced because there are more than one variable-sized dimension");
  });

  it("deduces one variable dimension, with a batch of 1 for a batching model", async () => {
    for (const [model, shape] of [["identity_fp32", [4]], ["batched_fp32", [1, 4]]] as const) {
      const res = await infer(model, f32([1, 2, 3, 4]), { "Inference-Header-Content-Length": "0" });
      expect(res.status).toBe(200);
      const header = Number(res.headers.get("inference-header-content-length"));
      const body = Buffer.from(await res.arrayBuffer());
      expect(JSON.parse(body.subarray(0, header).toString()).outputs[0].shape).toEqual(shape);
      expect(body.subarray(header)).toEqual(f32([1, 2, 3, 4]));
    }
  });
});

describe("chunked bodies", () => {
  const head = (extra: string, close = "Connection: close\r\n") => "POST /v2/models/identity_fp32/infer HTTP/1.1\r\nHost: x\r\n" +
    `${close}Inference-Header-Content-Length: 0\r\nTransfer-Encoding: chunked\r\n${extra}\r\n`;

  it("serves a chunked raw binary infer", async () => {
    const text = (await rawRequest(head(""), chunked(f32([5, 6])))).toString("latin1");
    expect(text).toMatch(/^HTTP\/1.1 200 /);
    expect(text.endsWith(f32([5, 6]).toString("latin1"))).toBe(true);
  });

  it("serves one with a stray Content-Length too (qa's test_content_encoding_chunked_manually), then closes", async () => {
    const body = chunked(f32([5, 6]));
    const text = (await rawRequest(head(`Content-Length: ${body.length}\r\n`, ""), body)).toString("latin1");
    expect(text).toMatch(/^HTTP\/1.1 200 /);
    expect(text).toMatch(/\r\nConnection: close\r\n/i);
    expect(text.endsWith(f32([5, 6]).toString("latin1"))).toBe(true);
    expect((await fetch(`${server.url}/v2/health/live`)).status).toBe(200);
  });

  it("still answers Node's 400 to other malformed framing", async () => {
    const text = (await rawRequest("POST /v2/models/identity_fp32/infer HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n", Buffer.alloc(0))).toString();
    expect(text).toMatch(/^HTTP\/1.1 400 Bad Request\r\n/);
  });
});

describe("Content-Encoding and Accept-Encoding", () => {
  const json = JSON.stringify({ inputs: [{ name: "INPUT0", datatype: "FP32", shape: [3], data: [1, 2, 3] }] });

  it("takes gzip and deflate bodies and answers in the encoding asked for", async () => {
    for (const [encoding, pack, unpack] of [["gzip", zlib.gzipSync, zlib.gunzipSync], ["deflate", zlib.deflateSync, zlib.inflateSync]] as const) {
      const res = await fetch(`${server.url}/v2/models/identity_fp32/infer`, {
        method: "POST", body: new Uint8Array(pack(Buffer.from(json))), headers: { "Content-Encoding": encoding, "Accept-Encoding": encoding },
      });
      expect(res.status).toBe(200);
      // fetch undoes the encoding itself; the header says it was there.
      expect(res.headers.get("content-encoding")).toBe(encoding);
      expect((await res.json()).outputs[0].data).toEqual([1, 2, 3]);
      expect(unpack(pack(Buffer.from("x"))).toString()).toBe("x");
    }
  });

  it("compresses binary responses whole and keeps the uncompressed header length", async () => {
    const body = JSON.stringify({ inputs: [{ name: "INPUT0", datatype: "FP32", shape: [2], data: [7, 8] }], parameters: { binary_data_output: true } });
    const text = await rawRequest(`POST /v2/models/identity_fp32/infer HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAccept-Encoding: gzip\r\nContent-Length: ${body.length}\r\n\r\n`, Buffer.from(body));
    const split = text.indexOf("\r\n\r\n");
    const headers = text.subarray(0, split).toString();
    expect(headers).toMatch(/Content-Encoding: gzip/);
    const length = Number(/Inference-Header-Content-Length: (\d+)/.exec(headers)![1]);
    const plain = zlib.gunzipSync(text.subarray(split + 4));
    expect(JSON.parse(plain.subarray(0, length).toString()).outputs[0].parameters.binary_data_size).toBe(8);
    expect(plain.subarray(length)).toEqual(f32([7, 8]));
  });

  it("answers an unknown encoding 501 'Unsupported compression type' with Accept-Encoding", async () => {
    const res = await infer("identity_fp32", json, { "Content-Encoding": "br" });
    expect(res.status).toBe(501);
    expect(res.headers.get("accept-encoding")).toBe("gzip, deflate");
    expect((await res.json()).error).toBe("Unsupported compression type");
  });

  it("refuses a zip bomb past --http-max-input-size with 413, and stays up", async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(8 << 20));
    expect(bomb.length).toBeLessThan(1 << 20);
    const res = await infer("identity_fp32", bomb, { "Content-Encoding": "gzip" });
    expect(res.status).toBe(413);
    expect((await res.json()).error).toMatch(/decompresses to more than the maximum allowed size of 1048576 bytes/);
    expect((await fetch(`${server.url}/v2/health/live`)).status).toBe(200);
  });
});

describe("depth and shapes", () => {
  const body = (shape: string, data: string) => `{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":${shape},"data":${data}}]}`;

  it("refuses data nested past 100 and any body past 100 levels", async () => {
    const deep = await infer("identity_fp32", body("[1]", "[".repeat(120) + "1" + "]".repeat(120)));
    expect(deep.status).toBe(400);
    expect((await deep.json()).error).toBe("JSON nesting depth exceeds maximum allowed limit (100)");
    const index = await fetch(`${server.url}/v2/repository/index`, { method: "POST", body: `{"ready":${"[".repeat(250_000)}true${"]".repeat(250_000)}}` });
    expect(index.status).toBe(400);
    expect((await index.json()).error).toBe("JSON nesting depth exceeds maximum allowed limit (100)");
  });

  it("answers Triton's texts for overflow and negative dims", async () => {
    const over = await infer("identity_fp32", body("[16,1152921504606846978]", "[1.0]"));
    expect(over.status).toBe(400);
    expect((await over.json()).error).toContain("shape [16,1152921504606846978] causes total element count to exceed maximum size of 9223372036854775807");
    const negative = await infer("identity_fp32", body("[2,-5]", "[1.0]"));
    expect(negative.status).toBe(500);
    expect((await negative.json()).error).toBe("Unable to parse 'shape': attempt to access JSON non-unsigned-integer as unsigned-integer");
  });
});
