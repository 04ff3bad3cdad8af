#!/usr/bin/env node
// Trains the text_generator example's language model from corpus.txt and exports it to ONNX:
// a character trigram model with interpolated Witten-Bell smoothing, baked into a table of
// next-character log-probabilities. No download, no Python, deterministic (same bytes on every
// run), about a second. Runs during `npm install` (npm run build:examples).
//
// Writes <repository>/text_generator/1/model.onnx and vocab.json (gitignored).
// Usage: node examples/text_generation/build.js [repository]   (default: examples/model_repository)
//
// The graph: context INT64 [batch, 2] (the ids of the last two characters)
//   → id = context[:,0]·V + context[:,1]   (Mul by [V, 1], ReduceSum over axis 1)
//   → logits FP32 [batch, V] = Gather(table [V·V, V], id)
// Index arithmetic and Gather are exact, so the model's logits equal the JS table bit for bit;
// build() checks that with onnxruntime-node before it returns.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;
const here = dirname(fileURLToPath(import.meta.url));

export const CORPUS = join(here, "corpus.txt");
export const DEFAULT_REPOSITORY = resolve(here, "..", "model_repository");
/** Characters of context the model conditions on (a trigram model). */
export const CONTEXT = 2;
/** Pads the context before the first character (of the corpus, and of a prompt). */
export const PAD = " ";
export const INPUT = "context";
export const OUTPUT = "logits";

/** The corpus text the model learns from: corpus.txt without its header paragraph (the credits). */
export function readCorpus(path = CORPUS) {
  const text = readFileSync(path, "utf8").replace(/\r\n/g, "\n");
  const body = text.slice(text.indexOf("\n\n") + 2);
  if (body.length < 1000) throw new Error(`${path}: the corpus is too short (${body.length} characters)`);
  return body;
}

/**
 * Trains the model: returns the vocabulary (the corpus' characters, sorted by code point) and
 * `logits`, a Float32Array [V·V·V] where logits[(a·V + b)·V + c] = ln P(c | a b).
 *
 * Interpolated Witten-Bell: P(c|ab) = λ_ab·ML(c|ab) + (1-λ_ab)·P(c|b), with λ = N/(N+T) (N tokens
 * and T distinct characters seen after that context), down to a uniform distribution, so every
 * character keeps a non-zero probability in every context and sampling never sees -Infinity.
 */
export function train(text) {
  const vocab = [...new Set([...text, PAD])].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const V = vocab.length;
  const index = new Map(vocab.map((ch, i) => [ch, i]));
  const pad = index.get(PAD);
  const ids = [pad, pad, ...[...text].map((ch) => index.get(ch))];

  const uni = new Float64Array(V);
  const bi = new Float64Array(V * V);
  const tri = new Float64Array(V * V * V);
  for (let i = CONTEXT; i < ids.length; i++) {
    const [a, b, c] = [ids[i - 2], ids[i - 1], ids[i]];
    uni[c]++;
    bi[b * V + c]++;
    tri[(a * V + b) * V + c]++;
  }

  // Smooths `counts` (one row of V) towards `lower`; returns the new distribution.
  const smooth = (counts, offset, lower) => {
    let n = 0;
    let t = 0;
    for (let c = 0; c < V; c++) {
      n += counts[offset + c];
      if (counts[offset + c] > 0) t++;
    }
    if (n === 0) return lower;
    const lambda = n / (n + t);
    const p = new Float64Array(V);
    for (let c = 0; c < V; c++) p[c] = lambda * (counts[offset + c] / n) + (1 - lambda) * lower[c];
    return p;
  };

  const pUni = smooth(uni, 0, new Float64Array(V).fill(1 / V));
  const logits = new Float32Array(V * V * V);
  for (let b = 0; b < V; b++) {
    const pBi = smooth(bi, b * V, pUni);
    for (let a = 0; a < V; a++) {
      const pTri = smooth(tri, (a * V + b) * V, pBi);
      const row = (a * V + b) * V;
      for (let c = 0; c < V; c++) logits[row + c] = Math.log(pTri[c]);
    }
  }
  return { vocab, pad, logits };
}

/** The ONNX model (bytes) serving `logits` as described at the top of this file. */
export function encodeModel({ vocab, logits }) {
  const V = vocab.length;
  const { INT64, FLOAT } = onnx.TensorProto.DataType;
  const int64 = (name, dims, values) =>
    onnx.TensorProto.create({ name, dims, dataType: INT64, rawData: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer) });
  const io = (name, elemType, width) => onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType, shape: { dim: [{ dimParam: "batch" }, { dimValue: width }] } } },
  });
  const node = (opType, input, output, attribute = []) => onnx.NodeProto.create({ opType, input, output, attribute });
  const graph = onnx.GraphProto.create({
    name: "char_trigram",
    node: [
      node("Mul", [INPUT, "strides"], ["scaled"]),
      node("ReduceSum", ["scaled", "axis1"], ["row"], [onnx.AttributeProto.create({ name: "keepdims", type: onnx.AttributeProto.AttributeType.INT, i: 0 })]),
      node("Gather", ["table", "row"], [OUTPUT]),
    ],
    initializer: [
      int64("strides", [CONTEXT], [V, 1]),
      int64("axis1", [1], [1]),
      onnx.TensorProto.create({ name: "table", dims: [V * V, V], dataType: FLOAT, rawData: new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength) }),
    ],
    input: [io(INPUT, INT64, CONTEXT)],
    output: [io(OUTPUT, FLOAT, V)],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8, producerName: "tessera examples/text_generation", opsetImport: [{ domain: "", version: 17 }], graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/** What the handler needs besides the model: vocab.json. */
export function vocabularyJson({ vocab }) {
  return JSON.stringify({ vocab, pad: PAD, context: CONTEXT, input: INPUT, output: OUTPUT }) + "\n";
}

/**
 * Runs every context (all V·V of them, one batch) through `modelPath` with onnxruntime-node and
 * throws unless the logits equal `logits` exactly.
 */
export async function verify(modelPath, { vocab, logits }) {
  const ort = (await import("onnxruntime-node")).default;
  const V = vocab.length;
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
  try {
    const context = new BigInt64Array(V * V * CONTEXT);
    for (let i = 0; i < V * V; i++) {
      context[2 * i] = BigInt(Math.floor(i / V));
      context[2 * i + 1] = BigInt(i % V);
    }
    const out = await session.run({ [INPUT]: new ort.Tensor("int64", context, [V * V, CONTEXT]) });
    const got = out[OUTPUT].data;
    if (got.length !== logits.length) throw new Error(`${modelPath}: ${got.length} logits, expected ${logits.length}`);
    for (let i = 0; i < logits.length; i++) {
      if (!Object.is(got[i], logits[i])) throw new Error(`${modelPath}: logit ${i} is ${got[i]}, the table says ${logits[i]}`);
    }
  } finally {
    await session.release();
  }
}

/** Trains, writes model.onnx and vocab.json under <repository>/text_generator/1/, verifies. */
export async function build(repository = DEFAULT_REPOSITORY, { corpus = CORPUS, check = true } = {}) {
  const started = performance.now();
  const trained = train(readCorpus(corpus));
  const dir = join(repository, "text_generator", "1");
  mkdirSync(dir, { recursive: true });
  const modelPath = join(dir, "model.onnx");
  const vocabPath = join(dir, "vocab.json");
  const bytes = encodeModel(trained);
  writeFileSync(modelPath, bytes);
  writeFileSync(vocabPath, vocabularyJson(trained));
  if (check) await verify(modelPath, trained);
  return { modelPath, vocabPath, vocabSize: trained.vocab.length, modelBytes: bytes.length, ms: performance.now() - started };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const r = await build(resolve(process.argv[2] ?? DEFAULT_REPOSITORY));
  console.log(`text_generator: ${r.vocabSize} characters, ${(r.modelBytes / 1e6).toFixed(2)} MB → ${r.modelPath} (${Math.round(r.ms)} ms, verified)`);
}
