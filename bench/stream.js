// Decoupled streaming: the text_generator example (one response per generated character, greedy,
// no pacing) over HTTP generate_stream (Server-Sent Events) and gRPC ModelStreamInfer, beside a
// bare node:http server that runs the same ONNX model in process and writes the same events.
// Figures: tokens per second per stream (one client, then 4 at once) and time to first token.
import { fork } from "node:child_process";
import http from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as loader from "@grpc/proto-loader";
import { nowUs, startTessera, summarize } from "./util.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 3) * 1000;
const TOKENS = 2000;
const PROMPT = "Shall I compare thee";

/** One generate_stream request: resolves with [tokens, µs to the first, µs in all]. */
function sse(port, path, body) {
  return new Promise((resolve, reject) => {
    const t0 = nowUs();
    let first = 0;
    let events = 0;
    const req = http.request({ port, host: "127.0.0.1", path, method: "POST" }, (res) => {
      res.setEncoding("utf8");
      let tail = "";
      res.on("data", (chunk) => {
        if (!first) first = nowUs() - t0;
        const parts = (tail + chunk).split("\n\n");
        tail = parts.pop();
        events += parts.length;
      });
      res.on("end", () => resolve([events, first, nowUs() - t0]));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** One ModelStreamInfer request on its own call, counted the same way. */
function grpcStream(client) {
  return new Promise((resolve, reject) => {
    const t0 = nowUs();
    let first = 0;
    let events = 0;
    const call = client.ModelStreamInfer();
    call.on("data", (m) => {
      if (m.error_message) return reject(new Error(m.error_message));
      if (!first) first = nowUs() - t0;
      events++;
    });
    call.on("error", reject);
    call.on("end", () => resolve([events, first, nowUs() - t0]));
    call.write({
      model_name: "text_generator", id: "bench",
      inputs: [
        { name: "text_input", datatype: "BYTES", shape: [1], contents: { bytes_contents: [Buffer.from(PROMPT)] } },
        { name: "max_tokens", datatype: "INT32", shape: [1], contents: { int_contents: [TOKENS] } },
      ],
      parameters: { temperature: { double_param: 0 }, token_interval_ms: { int64_param: 0 } },
    });
    call.end();
  });
}

/** Streams for the run's duration with `clients` at once: tokens/s per stream and first-token p50. */
async function measure(clients, one) {
  const rates = [];
  const firsts = [];
  const end = Date.now() + DURATION_MS;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (Date.now() < end) {
      const [events, first, total] = await one();
      if (events !== TOKENS) throw new Error(`expected ${TOKENS} tokens, got ${events}`);
      rates.push(events / (total / 1e6));
      firsts.push(first);
    }
  }));
  const per = rates.reduce((a, b) => a + b, 0) / rates.length;
  return { tokens_per_s_per_stream: Math.round(per), tokens_per_s: Math.round(per * clients), first_token_p50_us: summarize(firsts).p50, streams: rates.length };
}

export async function run() {
  const tessera = await startTessera([join(root, "examples", "model_repository")],
    ["--allow-grpc", "true", "--grpc-port", "0", "--grpc-address", "127.0.0.1"]);
  const grpcPort = await new Promise((resolve) => {
    const on = (c) => {
      const m = /Started GRPCInferenceService at [^:]+:(\d+)/.exec(String(c));
      if (m) resolve(Number(m[1]));
    };
    tessera.proc.stdout.on("data", on);
    tessera.proc.stderr.on("data", on);
  });
  const dirs = [join(root, "src", "grpc"), join(root, "src", "config")];
  const pkg = grpc.loadPackageDefinition(loader.loadSync("grpc_service.proto", { keepCase: true, longs: String, defaults: true, oneofs: true, includeDirs: dirs }));
  const client = new pkg.inference.GRPCInferenceService(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
  const bare = fork(join(here, "stream-bare-child.js"), [join(root, "examples", "model_repository", "text_generator", "1")]);
  const barePort = await new Promise((r) => bare.once("message", (m) => r(m.port)));

  const body = { text_input: PROMPT, max_tokens: TOKENS, parameters: { temperature: 0, token_interval_ms: 0 } };
  const rows = {};
  for (const clients of [1, 4]) {
    const served = await measure(clients, () => sse(tessera.port, "/v2/models/text_generator/generate_stream", body));
    const overGrpc = await measure(clients, () => grpcStream(client));
    const base = await measure(clients, () => sse(barePort, "/", body));
    rows[`c${clients}`] = { sse: served, grpc: overGrpc, bare: base, ratio_sse: +(served.tokens_per_s / base.tokens_per_s).toFixed(3), ratio_grpc: +(overGrpc.tokens_per_s / base.tokens_per_s).toFixed(3) };
    console.log(`c=${clients}: generate_stream ${served.tokens_per_s} tokens/s (first token p50 ${served.first_token_p50_us} µs) | ` +
      `gRPC stream ${overGrpc.tokens_per_s} tokens/s (first ${overGrpc.first_token_p50_us} µs) | ` +
      `bare node:http + in-process session ${base.tokens_per_s} tokens/s (first ${base.first_token_p50_us} µs) | ` +
      `SSE/bare ${rows[`c${clients}`].ratio_sse}, gRPC/bare ${rows[`c${clients}`].ratio_grpc}`);
  }
  client.close();
  bare.kill();
  await tessera.stop();
  return { tokens_per_stream: TOKENS, ...rows };
}
