// The baseline of the stream benchmark: a bare node:http server that runs the text generator's
// ONNX model in process, greedy, one session.run per token, and writes each token as a
// Server-Sent Event as tessera's generate_stream does: the same work without the server around it.
import http from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import ort from "onnxruntime-node";

const dir = process.argv[2];
const meta = JSON.parse(readFileSync(join(dir, "vocab.json"), "utf8"));
const session = await ort.InferenceSession.create(join(dir, "model.onnx"), { intraOpNumThreads: 1 });
const pad = meta.vocab.indexOf(meta.pad);

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    const { text_input: prompt, max_tokens: maxTokens } = JSON.parse(Buffer.concat(chunks).toString());
    res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache" });
    const context = [...Array(meta.context).fill(pad), ...[...prompt].map((c) => Math.max(0, meta.vocab.indexOf(c)))].slice(-meta.context);
    for (let n = 0; n < maxTokens; n++) {
      const out = await session.run({ [meta.input]: new ort.Tensor("int64", BigInt64Array.from(context, BigInt), [1, meta.context]) });
      const logits = out[meta.output].data;
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
      context.push(best);
      context.shift();
      res.write(`data: ${JSON.stringify({ model_name: "text_generator", model_version: "1", text_output: meta.vocab[best] })}\n\n`);
    }
    res.end();
  });
});
server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
