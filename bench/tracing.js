// Tracing's cost: add_sub over HTTP (JSON, c=16) with tracing off (the default) beside the same
// server tracing in OpenTelemetry mode at Triton's default rate (1 in 1000) and at rate 1 (every
// request: 7 spans each), exported over OTLP/HTTP to a receiver in this process. Runs alternate,
// best of two per arm (this VM's noise comes in bursts); ratios are to the tracing-off server.
// TRACE_BASELINE_ROOT=<a built checkout without tracing> adds that build as one more arm, so that
// "off" can be compared with no tracing code at all.
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

/**
 * The pipeline alone, in this process: the same fake model version through RequestPipeline without
 * the tracing stage (the default server: tracing not configured) and with it (configured, level
 * OFF), alternating; ns per request, without the HTTP path's much larger noise.
 */
async function pipelineOverhead() {
  const { RequestPipeline } = await import("../dist/src/core/pipeline.js");
  const { ModelStatistics } = await import("../dist/src/core/statistics.js");
  const { validateModelConfig } = await import("../dist/src/config/schema.js");
  const { TraceService } = await import("../dist/src/trace/service.js");
  const { parseTraceFlags } = await import("../dist/src/trace/trace-config.js");
  const config = validateModelConfig({
    name: "m", backend: "python", input: [{ name: "X", data_type: "TYPE_UINT8", dims: [2] }], output: [{ name: "Y", data_type: "TYPE_UINT8", dims: [2] }],
  }, { modelName: "m" });
  const out = [{ name: "Y", datatype: "UINT8", shape: [2], data: Uint8Array.of(3, 4) }];
  const target = {
    version: 1, modelDir: "/nowhere", config, stats: new ModelStatistics(),
    scheduler: { enqueue: async () => ({ outputs: out, parameters: {}, release() {} }) },
  };
  // Configured (OpenTelemetry mode) but level OFF: the stage is in the pipeline and returns at once.
  const trace = new TraceService(parseTraceFlags({ traceConfig: ["mode=opentelemetry", "opentelemetry,url=http://127.0.0.1:9/v1/traces"] }), { modelReady: () => true });
  const without = new RequestPipeline({ resolve: () => target });
  const withStage = new RequestPipeline({ resolve: () => target, interceptors: [trace.stage] });
  const input = { name: "X", datatype: "UINT8", shape: [2], data: Uint8Array.of(1, 2) };
  const N = 100_000;
  const time = async (p) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) (await p.infer({ model: "m", id: "", inputs: [input], parameters: {} })).release();
    return Number(process.hrtime.bigint() - t0) / N;
  };
  const best = { without: Infinity, with: Infinity };
  for (let k = 0; k < 5; k++) {
    best.without = Math.min(best.without, await time(without));
    best.with = Math.min(best.with, await time(withStage));
  }
  return { ns_without_stage: +best.without.toFixed(0), ns_with_stage_off: +best.with.toFixed(0) };
}

export async function run() {
  const stage = await pipelineOverhead();
  console.log(`pipeline per request: ${stage.ns_with_stage_off} ns with the tracing stage (configured, level OFF) | ${stage.ns_without_stage} ns without it (the default server) | ÷ ${(stage.ns_with_stage_off / stage.ns_without_stage).toFixed(3)}`);
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
    { name: "otel level=OFF", server: await startTessera(repo, [...otel(1000).slice(0, 4), "--trace-config", "level=OFF"]) },
    { name: "otel rate=1000", server: await startTessera(repo, otel(1000)) },
    { name: "otel rate=1", server: await startTessera(repo, otel(1)) },
  ];
  const baseline = process.env.TRACE_BASELINE_ROOT;
  if (baseline) arms.push({ name: "baseline build", server: await startTessera(repo, [], baseline) });
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
    pipeline: { ...stage, ratio: +(stage.ns_with_stage_off / stage.ns_without_stage).toFixed(3) },
    concurrency: 16,
    results: Object.fromEntries(arms.map((a) => [a.name, a.result])),
    ratio_level_off_to_off: +(arms[1].result.rps / off.rps).toFixed(3),
    ratio_rate1000_to_off: +(arms[2].result.rps / off.rps).toFixed(3),
    ratio_rate1_to_off: +(arms[3].result.rps / off.rps).toFixed(3),
    spans_received: spans,
    ...(baseline ? { ratio_off_to_baseline_build: +(off.rps / arms[4].result.rps).toFixed(3) } : {}),
  };
}
