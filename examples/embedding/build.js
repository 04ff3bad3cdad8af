#!/usr/bin/env node
// Generates the embedding example's encoder, <repository>/text_encoder/1/model.onnx (gitignored),
// during `npm install` (npm run build:examples). No download, deterministic (same bytes on every
// run), about a second.
//
// No npm package ships a pretrained sentence encoder, and none that a registry ships covers Korean
// with the Qwen3 vocabulary the tokenizer uses, so this one is GENERATED, not trained. What its
// embeddings are worth: a text's vector is the masked mean of fixed random vectors of its tokens
// (hashed into ROWS rows), passed through one random residual MLP, then L2-normalised. Texts that
// share tokens get similar vectors (cosine ≈ token overlap); meaning beyond the words is not there.
// Its job is to have a real encoder's interface and cost profile: the same inputs, pooling and
// output, and a large projection (DIM → HIDDEN → DIM, 50 MB of weights) that dominates its cost.
// At batch 1 every call streams all of those weights from memory for one text; in a batch the
// same read serves every row, which is why large encoders gain from dynamic batching.
//
// The graph: input_ids, attention_mask INT64 [batch, seq]
//   e = Gather(table [ROWS, DIM], input_ids mod ROWS)           [batch, seq, DIM]
//   p = Σ_seq e·mask / max(Σ_seq mask, 1e-9)                    (mean pooling over the mask)
//   m = p + Tanh(p·W1 + b1)·W2                                   (a residual MLP block)
//   output__0 = m / max(‖m‖₂, 1e-12)                             FP32 [batch, DIM], unit rows
// Usage: node examples/embedding/build.js [repository]   (default: examples/model_repository)
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;
const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_REPOSITORY = resolve(here, "..", "model_repository");
export const ROWS = 16384;
export const DIM = 384;
export const HIDDEN = 16384;
const SEED = 0x7e55e1a;

/** mulberry32 → standard normals (Box–Muller): the same numbers on every machine. */
function gaussians(n, seed, scale) {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - uniform())) * scale;
    const a = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

/** The ONNX model (bytes) described at the top of this file. */
export function encodeModel() {
  const { INT64, FLOAT } = onnx.TensorProto.DataType;
  const raw = (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const f32 = (name, dims, values) => onnx.TensorProto.create({ name, dims, dataType: FLOAT, rawData: raw(values) });
  const i64 = (name, dims, values) => onnx.TensorProto.create({ name, dims, dataType: INT64, rawData: raw(BigInt64Array.from(values.map(BigInt))) });
  const attr = (name, i) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
  const node = (opType, input, output, attribute = []) => onnx.NodeProto.create({ opType, input, output, attribute });
  const io = (name, elemType, dims) => onnx.ValueInfoProto.create({
    name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) } } },
  });
  const graph = onnx.GraphProto.create({
    name: "hashed_token_encoder",
    node: [
      node("Mod", ["input_ids", "rows"], ["row"]),
      node("Gather", ["table", "row"], ["e"]),
      node("Cast", ["attention_mask"], ["mask"], [attr("to", FLOAT)]),
      node("Unsqueeze", ["mask", "axis2"], ["mask3"]),
      node("Mul", ["e", "mask3"], ["em"]),
      node("ReduceSum", ["em", "axis1"], ["sum"], [attr("keepdims", 0)]),
      node("ReduceSum", ["mask", "axis1"], ["count0"], [attr("keepdims", 1)]),
      node("Max", ["count0", "tiny"], ["count"]),
      node("Div", ["sum", "count"], ["pooled"]),
      node("MatMul", ["pooled", "w1"], ["p1"]),
      node("Add", ["p1", "b1"], ["p2"]),
      node("Tanh", ["p2"], ["p3"]),
      node("MatMul", ["p3", "w2"], ["p4"]),
      node("Add", ["pooled", "p4"], ["mean"]),
      node("Mul", ["mean", "mean"], ["sq"]),
      node("ReduceSum", ["sq", "axis1"], ["sq1"], [attr("keepdims", 1)]),
      node("Sqrt", ["sq1"], ["norm0"]),
      node("Max", ["norm0", "eps"], ["norm"]),
      node("Div", ["mean", "norm"], ["output__0"]),
    ],
    initializer: [
      i64("rows", [], [ROWS]),
      i64("axis1", [1], [1]),
      i64("axis2", [1], [2]),
      f32("tiny", [], new Float32Array([1e-9])),
      f32("eps", [], new Float32Array([1e-12])),
      f32("table", [ROWS, DIM], gaussians(ROWS * DIM, SEED, 1)),
      f32("w1", [DIM, HIDDEN], gaussians(DIM * HIDDEN, SEED + 1, 1 / Math.sqrt(DIM))),
      f32("b1", [HIDDEN], gaussians(HIDDEN, SEED + 2, 0.1)),
      f32("w2", [HIDDEN, DIM], gaussians(HIDDEN * DIM, SEED + 3, 1 / Math.sqrt(HIDDEN))),
    ],
    input: [io("input_ids", INT64, ["batch", "seq"]), io("attention_mask", INT64, ["batch", "seq"])],
    output: [io("output__0", FLOAT, ["batch", DIM])],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8, producerName: "tessera examples/embedding", opsetImport: [{ domain: "", version: 17 }], graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Runs two texts' worth of ids through the model; throws unless rows are unit and padding is ignored. */
export async function verify(modelPath) {
  const ort = (await import("onnxruntime-node")).default;
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
  try {
    const ids = new BigInt64Array([5n, 9n, 0n, 0n, 5n, 9n, 7n, 7n]);
    const mask = new BigInt64Array([1n, 1n, 0n, 0n, 1n, 1n, 0n, 0n]);
    const out = (await session.run({ input_ids: new ort.Tensor("int64", ids, [2, 4]), attention_mask: new ort.Tensor("int64", mask, [2, 4]) })).output__0;
    const v = out.data;
    for (let r = 0; r < 2; r++) {
      let n = 0;
      for (let c = 0; c < DIM; c++) n += v[r * DIM + c] ** 2;
      if (Math.abs(Math.sqrt(n) - 1) > 1e-5) throw new Error(`${modelPath}: row ${r} has norm ${Math.sqrt(n)}`);
    }
    for (let c = 0; c < DIM; c++) {
      if (Math.abs(v[c] - v[DIM + c]) > 1e-6) throw new Error(`${modelPath}: masked positions changed the embedding`);
    }
  } finally {
    await session.release();
  }
}

/** Writes <repository>/text_encoder/1/model.onnx and verifies it. */
export async function build(repository = DEFAULT_REPOSITORY, { check = true } = {}) {
  const started = performance.now();
  const modelPath = join(repository, "text_encoder", "1", "model.onnx");
  mkdirSync(dirname(modelPath), { recursive: true });
  const bytes = encodeModel();
  writeFileSync(modelPath, bytes);
  if (check) await verify(modelPath);
  return { modelPath, modelBytes: bytes.length, ms: performance.now() - started };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const r = await build(resolve(process.argv[2] ?? DEFAULT_REPOSITORY));
  console.log(`text_encoder: ${(r.modelBytes / 1e6).toFixed(1)} MB → ${r.modelPath} (${Math.round(r.ms)} ms, verified)`);
}
