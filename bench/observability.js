// Handlers' custom metrics and isReady() (issue 14), measured in one run against the real server:
//
// 1. What custom metrics cost inference: the same echo handler twice, `metered` doing 100 counter
//    increments, a gauge set and a histogram observation per request, `plain` none (the
//    baseline). BENCH_CONCURRENCY clients (8), three interleaved rounds of BENCH_SECONDS / 3 each; prints the median throughput
//    and p50 as metered/plain ratios (goal: about 1×, since an update sends no message), then checks the counter's total on
//    /metrics equals 100 × the requests served.
// 2. What a readiness check costs: GET /v2/models/<m>/ready on a model whose handler has isReady()
//    (one round trip to each of 2 stubs) against one without (answered in main), same run.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load, nowUs, startTessera, summarize } from "./util.js";

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const CONFIG = (name, count) => `name: "${name}"\nbackend: "typescript"\nmax_batch_size: 0\n` +
  `input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]\noutput [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]\n` +
  `instance_group [ { count: ${count} kind: KIND_CPU } ]\n`;

const HANDLER = (metered, ready) => `import { InferenceResponse, MetricFamily, Tensor, getInputTensorByName } from "tessera";
export default class M {
  initialize() {
    ${metered ? `this.c = new MetricFamily("bench_updates_total", "updates", MetricFamily.COUNTER).Metric({ labels: { m: "metered" } });
    this.g = new MetricFamily("bench_last", "last size", MetricFamily.GAUGE).Metric();
    this.h = new MetricFamily("bench_sizes", "sizes", MetricFamily.HISTOGRAM).Metric({ buckets: [1, 8, 64] });` : ""}
  }
  ${ready ? "isReady() { return true; }" : ""}
  execute(requests) {
    return requests.map((r) => {
      const x = getInputTensorByName(r, "INPUT0");
      ${metered ? "for (let i = 0; i < 100; i++) this.c.increment(1); this.g.set(x.shape()[0]); this.h.observe(x.shape()[0]);" : ""}
      return new InferenceResponse({ outputTensors: [new Tensor("OUTPUT0", x.asArray())] });
    });
  }
}
`;

function repo() {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-obs-"));
  for (const [name, metered, ready, count] of [["plain", false, false, 1], ["metered", true, false, 1], ["gated", false, true, 2], ["ungated", false, false, 2]]) {
    mkdirSync(join(dir, name, "1"), { recursive: true });
    writeFileSync(join(dir, name, "config.pbtxt"), CONFIG(name, count));
    writeFileSync(join(dir, name, "1", "model.ts"), HANDLER(metered, ready));
  }
  return dir;
}

function getOnce(agent, port, path) {
  return new Promise((resolve, reject) => {
    const t = nowUs();
    http.get({ host: "127.0.0.1", port, path, agent }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve(nowUs() - t) : reject(new Error(`${path}: ${res.statusCode}`))));
    }).on("error", reject);
  });
}

async function readiness(port, model, n) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 50; i++) await getOnce(agent, port, `/v2/models/${model}/ready`);
  const samples = [];
  for (let i = 0; i < n; i++) samples.push(await getOnce(agent, port, `/v2/models/${model}/ready`));
  agent.destroy();
  return summarize(samples);
}

export async function run() {
  const dir = repo();
  const server = await startTessera([dir], ["--allow-metrics", "true", "--metrics-port", "0"]);
  try {
    const body = Buffer.from(JSON.stringify({ inputs: [{ name: "INPUT0", datatype: "FP32", shape: [16], data: Array.from({ length: 16 }, (_, i) => i) }] }));
    const headers = { "content-type": "application/json" };
    await load(server.port, "/v2/models/plain/infer", body, headers, 8, { ms: 500 }); // warm both
    await load(server.port, "/v2/models/metered/infer", body, headers, 8, { ms: 500 });
    // Interleaved rounds (the order alternating), medians of each: a shared machine's noise hits both.
    const rounds = { plain: [], metered: [] };
    const ms = Number(process.env.BENCH_SECONDS ?? 3) * 1000 / 3;
    for (let i = 0; i < 3; i++) {
      for (const m of i % 2 === 0 ? ["plain", "metered"] : ["metered", "plain"]) rounds[m].push(await load(server.port, `/v2/models/${m}/infer`, body, headers, CONCURRENCY, { ms }));
    }
    const mid = (xs) => {
      const by = (k) => [...xs].sort((a, b) => a[k] - b[k])[1][k];
      return { rps: by("rps"), p50_us: by("p50_us"), errors: xs.reduce((a, x) => a + x.errors, 0) };
    };
    const plain = mid(rounds.plain);
    const metered = mid(rounds.metered);
    console.log(`inference, c=${CONCURRENCY}: plain ${plain.rps} req/s p50 ${plain.p50_us} µs (baseline); metered (102 metric updates per request) ` +
      `${metered.rps} req/s p50 ${metered.p50_us} µs; metered/plain: throughput ${(metered.rps / plain.rps).toFixed(2)}×, p50 ${(metered.p50_us / plain.p50_us).toFixed(2)}×; errors ${plain.errors + metered.errors}`);

    // Every increment reached /metrics (within a flush interval).
    const metricsPort = Number(/Started Metrics Service at [^:]+:(\d+)/.exec(server.log())[1]);
    await new Promise((r) => setTimeout(r, 300));
    const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text());
    const total = Number(/^bench_updates_total\{m="metered"\} (\S+)$/m.exec(text)?.[1]);
    const stats = await fetch(`http://127.0.0.1:${server.port}/v2/models/metered/stats`).then((r) => r.json());
    const served = stats.model_stats[0].inference_stats.success.count;
    console.log(`custom counter on /metrics: ${total} (expected 100 × ${served} served = ${100 * served})`);

    const ungated = await readiness(server.port, "ungated", 500);
    const gated = await readiness(server.port, "gated", 500);
    console.log(`model ready check: without isReady() p50 ${ungated.p50} µs (baseline), with isReady() on 2 instances p50 ${gated.p50} µs ` +
      `(${(gated.p50 / ungated.p50).toFixed(2)}×)`);
    return {
      plain_rps: plain.rps, metered_rps: metered.rps, metered_over_plain_rps: +(metered.rps / plain.rps).toFixed(2),
      plain_p50_us: plain.p50_us, metered_p50_us: metered.p50_us, counter_total: total, counter_expected: 100 * served,
      ready_plain_p50_us: ungated.p50, ready_isready_p50_us: gated.p50, ready_ratio: +(gated.p50 / ungated.p50).toFixed(2),
    };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
