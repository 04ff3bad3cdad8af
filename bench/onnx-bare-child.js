// The onnx benchmark's middle baseline: one node:http process that answers the same binary
// infer requests by running session.run itself (no stub, no shared memory, no validation).
// It shows what HTTP alone costs on this machine, so the served/in-process ratio can be split
// into "HTTP and the client" and "tessera's own overhead". argv: model file, JSON session options.
import http from "node:http";
import * as ort from "onnxruntime-node";

const [file, optionsJson] = process.argv.slice(2);
const session = await ort.InferenceSession.create(file, JSON.parse(optionsJson || "{}"));
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    const body = Buffer.concat(chunks);
    const headerLength = Number(req.headers["inference-header-content-length"]);
    const header = JSON.parse(body.subarray(0, headerLength).toString());
    const input = header.inputs[0];
    const bytes = body.subarray(headerLength);
    // A copy into an aligned buffer, as tessera's one copy into shared memory.
    const x = new Float32Array(bytes.length / 4);
    new Uint8Array(x.buffer).set(bytes);
    const out = await session.run({ [input.name]: new ort.Tensor("float32", x, input.shape) });
    const name = header.outputs[0].name;
    const y = out[name];
    const data = Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength);
    const head = Buffer.from(JSON.stringify({ model_name: "bare", outputs: [{ name, datatype: "FP32", shape: y.dims, parameters: { binary_data_size: data.length } }] }));
    res.writeHead(200, { "content-type": "application/octet-stream", "inference-header-content-length": head.length, "content-length": head.length + data.length });
    res.end(Buffer.concat([head, data]));
  });
});
server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
process.on("disconnect", () => process.exit(0));
