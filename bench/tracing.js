// Tracing's cost: add_sub over HTTP (JSON, c=16) with tracing off (the default) beside the same
// server tracing in OpenTelemetry mode at Triton's default rate (1 in 1000) and at rate 1 (every
// request: 7 spans each), exported over OTLP/HTTP to a receiver in this process. Runs alternate,
// best of two per arm (this VM's noise comes in bursts); ratios are to the tracing-off server.
import { createServer } from "node:http";
import { once } from "node:events";
import { join } from "node:path";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { load, startTessera } from "./util.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const body = Buffer.from(JSON.stringify({ inputs: [
  { name: "INPUT0", shape: [4], datatype: "FP32", data: [1, 2, 3, 4] },
  { name: "INPUT1", shape: [4], datatype: "FP32", data: [1, 1, 1, 1] },
] }));

export async function run() {
  let spans = 0;
  const receiver = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      for (const rs of JSON.parse(Buffer.concat(chunks)).resourceSpans ?? []) for (const ss of rs.scopeSpans) spans += ss.spans.length;
      res.end("{}");
    });
  });
  receiver.listen(0, "127.0.0.1");
  await once(receiver, "listening");
  const url = `http://127.0.0.1:${receiver.address().port}/v1/traces`;
  const repo = [join(root, "examples", "model_repository")];
  const otel = (rate) => ["--trace-config", "mode=opentelemetry", "--trace-config", `opentelemetry,url=${url}`,
    "--trace-config", "level=TIMESTAMPS", "--trace-config", `rate=${rate}`, "--trace-config", "opentelemetry,bsp_schedule_delay=200"];
  const arms = [
    { name: "off", server: await startTessera(repo) },
    { name: "otel rate=1000", server: await startTessera(repo, otel(1000)) },
    { name: "otel rate=1", server: await startTessera(repo, otel(1)) },
  ];
  const best = (a, b) => (a && a.rps > b.rps ? a : b);
  for (let k = 0; k < 2; k++) {
    for (const arm of arms) arm.result = best(arm.result, await load(arm.server.port, "/v2/models/add_sub/infer", body, { "content-type": "application/json" }, 16));
  }
  for (const arm of arms) await arm.server.stop();
  receiver.close();
  const off = arms[0].result;
  for (const arm of arms) {
    console.log(`${arm.name.padEnd(15)} ${arm.result.rps} req/s (p50 ${arm.result.p50_us} µs, p99 ${arm.result.p99_us} µs) | ÷ off ${(arm.result.rps / off.rps).toFixed(3)}`);
  }
  console.log(`spans received: ${spans}`);
  return {
    concurrency: 16,
    results: Object.fromEntries(arms.map((a) => [a.name, a.result])),
    ratio_rate1000_to_off: +(arms[1].result.rps / off.rps).toFixed(3),
    ratio_rate1_to_off: +(arms[2].result.rps / off.rps).toFixed(3),
    spans_received: spans,
  };
}
