/**
 * examples/text_recognition loads and serves: the PP-OCRv4 recognition model as an
 * onnxruntime_onnx model (no handler; config auto-completed from the graph), and the
 * text_recognition handler that decodes a rendered text line to its string.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { ROOT, copyRepository, inferBinary, startServer, type RunningServer } from "./harness.js";
import { renderText } from "../fixtures/ocr/render-text.js";

let repo: string;
let server: RunningServer;

beforeAll(async () => {
  repo = copyRepository(join(ROOT, "examples", "text_recognition"));
  execFileSync(process.execPath, [join(ROOT, "examples", "text_recognition", "prepare.js"), repo]);
  server = await startServer(repo);
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
  rmSync(repo, { recursive: true, force: true });
});

const bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** BYTES in the binary extension: each element is a 4-byte little-endian length, then the bytes. */
function decodeBytes(buf: Uint8Array): string[] {
  const out: string[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let at = 0; at < buf.byteLength;) {
    const n = view.getUint32(at, true);
    out.push(Buffer.from(buf.subarray(at + 4, at + 4 + n)).toString("utf8"));
    at += 4 + n;
  }
  return out;
}

describe("examples/text_recognition", () => {
  it("ppocr_rec (onnxruntime_onnx, no handler) is auto-completed from its graph", async () => {
    const cfg = await (await fetch(`${server.url}/v2/models/ppocr_rec/config`)).json();
    expect(cfg.max_batch_size).toBe(8);
    expect(cfg.dynamic_batching).toBeDefined();
    expect(cfg.input.map((t: any) => [t.name, t.data_type, t.dims.map(Number)])).toEqual([["x", "TYPE_FP32", [3, 48, -1]]]);
    expect(cfg.output.map((t: any) => [t.name, t.data_type, t.dims.map(Number)])).toEqual([["softmax_11.tmp_0", "TYPE_FP32", [-1, 6625]]]);
  });

  it("ppocr_rec returns logits of the right shape", async () => {
    const { data, shape } = renderText("12345");
    const r = await inferBinary(server.url, "ppocr_rec", [{ name: "x", datatype: "FP32", shape, data: bytes(data) }]);
    expect(r.status).toBe(200);
    const out = r.json.outputs[0];
    expect(out.name).toBe("softmax_11.tmp_0");
    expect(out.shape[0]).toBe(1);
    expect(out.shape[1]).toBeGreaterThan(5);
    expect(out.shape[2]).toBe(6625);
    expect(r.outputs.get(out.name)!.byteLength).toBe(4 * out.shape[1] * 6625);
  });

  it("text_recognition reads a rendered line of digits", async () => {
    const { data, shape } = renderText("12345");
    const r = await inferBinary(server.url, "text_recognition", [{ name: "x", datatype: "FP32", shape, data: bytes(data) }]);
    expect(r.status).toBe(200);
    expect(r.json.outputs.find((o: any) => o.name === "text")).toMatchObject({ datatype: "BYTES", shape: [1, 1] });
    expect(decodeBytes(r.outputs.get("text")!)).toEqual(["12345"]);
    expect(new Float32Array(r.outputs.get("score")!.slice().buffer)[0]).toBeGreaterThan(0.9);
  });

  it("answers a JSON request with the text as a JSON string", async () => {
    const { data, shape } = renderText("4321");
    const res = await fetch(`${server.url}/v2/models/text_recognition/infer`, {
      method: "POST", body: JSON.stringify({ inputs: [{ name: "x", datatype: "FP32", shape, data: Array.from(data) }], outputs: [{ name: "text" }] }),
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.outputs).toEqual([{ name: "text", datatype: "BYTES", shape: [1, 1], data: ["4321"] }]);
  });

  it("decodes concurrent requests (batched together when their widths match), each its own text", async () => {
    const lines = ["12345", "54321", "12345", "54321"];
    const served = await Promise.all(lines.map((t) => {
      const { data, shape } = renderText(t);
      return inferBinary(server.url, "text_recognition", [{ name: "x", datatype: "FP32", shape, data: bytes(data) }]);
    }));
    expect(served.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(served.map((r) => decodeBytes(r.outputs.get("text")!)[0])).toEqual(lines);
  });
});
