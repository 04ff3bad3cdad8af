// Generates a small ONNX MLP (no download, no Python): Y = relu(X·W1 + B1)·W2 + B2, with a
// symbolic batch dim, deterministic weights. Used by the batching benchmark and its tests.
import { writeFileSync } from "node:fs";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

function weights(name, dims, seed) {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    data[i] = (s / 2147483648 - 0.5) / Math.sqrt(dims[0]);
  }
  return onnx.TensorProto.create({ name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer) });
}

function io(name, width) {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: "batch" }, { dimValue: width }] } } },
  });
}

/** Writes the model to `path`; returns its sizes. */
export function writeMlp(path, { input = 512, hidden = 2048, output = 512 } = {}) {
  const node = (opType, inputs, outputs) => onnx.NodeProto.create({ opType, input: inputs, output: outputs });
  const graph = onnx.GraphProto.create({
    name: "mlp",
    node: [
      node("MatMul", ["INPUT0", "W1"], ["h0"]),
      node("Add", ["h0", "B1"], ["h1"]),
      node("Relu", ["h1"], ["h2"]),
      node("MatMul", ["h2", "W2"], ["h3"]),
      node("Add", ["h3", "B2"], ["OUTPUT0"]),
    ],
    initializer: [weights("W1", [input, hidden], 1), weights("B1", [hidden], 2), weights("W2", [hidden, output], 3), weights("B2", [output], 4)],
    input: [io("INPUT0", input)],
    output: [io("OUTPUT0", output)],
  });
  const model = onnx.ModelProto.create({ irVersion: 8, producerName: "tessera", opsetImport: [{ domain: "", version: 17 }], graph });
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  return { input, hidden, output };
}
