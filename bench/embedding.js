// The embedding ensemble (tokenizer → text_encoder) of the bundled repository at concurrency 1, 8,
// 32 and 64, with the encoder's dynamic batching on and off, in the same run: texts/s, p50/p99
// and the encoder's mean batch size. One Korean headline per request, as JSON (the tutorial's
// request). Writes the table and a chart (throughput and p50 against concurrency) to
// bench/results/embedding.{md,png}. BENCH_SECONDS sets each point's length (default 2).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { lineCharts, writeChartPng } from "./lib/chart.js";
import { load, startTessera } from "./util.js";

const here = dirname(fileURLToPath(import.meta.url));
const EXAMPLES = join(here, "..", "examples", "model_repository");
const RESULTS = join(here, "results");
const MS = Number(process.env.BENCH_SECONDS ?? 2) * 1000;
const CONCURRENCY = [1, 8, 32, 64];
const TEXT = "슈퍼 엔저 장기화에…한국 수출∙경상수지에 비상등";

/** A repository with the three models; `batching` false drops the encoder's dynamic_batching. */
function repository(batching) {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-embedding-"));
  for (const m of ["tokenizer", "text_encoder", "embedding"]) cpSync(join(EXAMPLES, m), join(dir, m), { recursive: true });
  if (!batching) {
    const path = join(dir, "text_encoder", "config.pbtxt");
    writeFileSync(path, readFileSync(path, "utf8").replace(/^dynamic_batching .*$/m, ""));
  }
  return dir;
}

async function encoderCounts(port) {
  const s = (await (await fetch(`http://127.0.0.1:${port}/v2/models/text_encoder/stats`)).json()).model_stats[0];
  return { inferences: Number(s.inference_count), executions: Number(s.execution_count) };
}

async function measure(batching) {
  const repo = repository(batching);
  // --strict-model-config: no default batcher for the encoder when its config has none.
  const server = await startTessera([repo], ["--strict-model-config", "true"]);
  const body = Buffer.from(JSON.stringify({ inputs: [{ name: "input_text", shape: [1, 1], datatype: "BYTES", data: [[TEXT]] }] }));
  const headers = { "content-type": "application/json" };
  const rows = [];
  try {
    await load(server.port, "/v2/models/embedding/infer", body, headers, 8, { ms: 500 }); // warm-up
    for (const c of CONCURRENCY) {
      const before = await encoderCounts(server.port);
      const r = await load(server.port, "/v2/models/embedding/infer", body, headers, c, { ms: MS });
      const after = await encoderCounts(server.port);
      const calls = after.executions - before.executions;
      rows.push({ batching: batching ? "on" : "off", concurrency: c, texts_per_s: r.rps, p50_ms: +(r.p50_us / 1000).toFixed(2),
        p99_ms: +(r.p99_us / 1000).toFixed(2), mean_batch: calls > 0 ? +((after.inferences - before.inferences) / calls).toFixed(1) : null, errors: r.errors });
    }
  } finally {
    await server.stop();
    rmSync(repo, { recursive: true, force: true });
  }
  return rows;
}

export async function run() {
  const rows = [...(await measure(true)), ...(await measure(false))];
  const table = ["| encoder batching | concurrency | texts/s | p50 ms | p99 ms | mean batch | errors |", "|---|---:|---:|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.batching} | ${r.concurrency} | ${r.texts_per_s} | ${r.p50_ms} | ${r.p99_ms} | ${r.mean_batch ?? "-"} | ${r.errors} |`)].join("\n");
  console.log(table);
  const at = (b, c) => rows.find((r) => r.batching === b && r.concurrency === c);
  const ratio = (c) => +(at("on", c).texts_per_s / Math.max(1, at("off", c).texts_per_s)).toFixed(2);
  const ratios = Object.fromEntries(CONCURRENCY.map((c) => [`c${c}`, ratio(c)]));
  console.log(`batching on / off, texts/s: ${CONCURRENCY.map((c) => `c=${c} ${ratios[`c${c}`]}x`).join(", ")} (goal at c=32: >= 2x)`);

  const spec = lineCharts("embedding ensemble: encoder dynamic batching on vs off", rows, { field: "concurrency", title: "concurrency", values: CONCURRENCY },
    { field: "batching", title: "encoder batching" }, [{ field: "texts_per_s", title: "throughput (texts/s)" }, { field: "p50_ms", title: "p50 latency (ms)" }]);
  const png = join(RESULTS, "embedding.png");
  await writeChartPng(spec, png);
  writeFileSync(join(RESULTS, "embedding.md"), `# npm run bench -- embedding\n\n${new Date().toISOString().slice(0, 10)}, ${MS / 1000} s per point, one text per request (JSON).\n\n${table}\n\nbatching on / off (texts/s): ${JSON.stringify(ratios)}\n\n![chart](embedding.png)\n`);
  console.log(`wrote ${png} and embedding.md`);
  return { rows, ratio_on_off: ratios, goal_c32: ratios.c32 >= 2 };
}
