// The model lifecycle's two figures (issue 14), measured in one run:
//
// 1. Warmup's effect on the first request: the batching benchmark's ONNX MLP (a session whose
//    first run pays onnxruntime's allocations), loaded twice side by side, mlp_warm with a
//    model_warmup sample and mlp_cold without. Each round reloads both (fresh instances) and
//    times each one's first request, then a later one (the steady state, the baseline). Prints
//    the medians and warm/cold as a ratio (goal: the warm first request near the steady state).
// 2. A poll-mode reload under load: add_sub_batch served with --model-control-mode=poll while 16
//    clients keep requests in flight; its config.pbtxt is edited (a parameter: a full reload, then
//    the instance count: an in-place change). Prints the time from the edit until the new config
//    serves (it includes the wait for the next poll, --repository-poll-secs) and the failed
//    requests over the whole run (goal 0), beside the same load's throughput without any reload.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeMlp } from "./models/make-mlp.js";
import { nowUs, startTessera, summarize } from "./util.js";

const here = dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const POLL_SECS = Number(process.env.BENCH_POLL_SECS ?? 0.5);
const CONCURRENCY = 16;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function post(port, path, body) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: "POST", body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function timed(port, model, inputs) {
  const t = nowUs();
  await post(port, `/v2/models/${model}/infer`, { inputs });
  return (nowUs() - t) / 1000;
}

async function firstRequest() {
  const repo = mkdtempSync(join(tmpdir(), "tessera-bench-lifecycle-"));
  const warmup = 'model_warmup [ { name: "random" batch_size: 1 count: 2 inputs { key: "INPUT0" value: { data_type: TYPE_FP32 dims: [ 512 ] random_data: true } } } ]';
  for (const name of ["mlp_cold", "mlp_warm"]) {
    cpSync(join(here, "models", "mlp"), join(repo, name), { recursive: true });
    writeMlp(join(repo, name, "1", "model.onnx"));
    const config = readFileSync(join(repo, name, "config.pbtxt"), "utf8").replace('name: "mlp"', `name: "${name}"`);
    writeFileSync(join(repo, name, "config.pbtxt"), name === "mlp_warm" ? `${config}\n${warmup}\n` : config);
  }
  const server = await startTessera([repo], ["--model-control-mode", "explicit"]);
  const inputs = [{ name: "INPUT0", datatype: "FP32", shape: [1, 512], data: Array.from({ length: 512 }, (_, i) => i / 512) }];
  const first = { mlp_cold: [], mlp_warm: [] };
  const steady = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ["mlp_cold", "mlp_warm"] : ["mlp_warm", "mlp_cold"];
      for (const model of order) await post(server.port, `/v2/repository/models/${model}/load`, {});
      for (const model of order) first[model].push(await timed(server.port, model, inputs));
      for (let i = 0; i < 5; i++) await timed(server.port, "mlp_cold", inputs);
      steady.push(await timed(server.port, "mlp_cold", inputs));
    }
  } finally {
    await server.stop();
    rmSync(repo, { recursive: true, force: true });
  }
  const cold = +median(first.mlp_cold).toFixed(2);
  const warm = +median(first.mlp_warm).toFixed(2);
  const base = +median(steady).toFixed(2);
  console.log(`first request, median of ${ROUNDS} fresh loads: without warmup ${cold} ms, with warmup ${warm} ms ` +
    `(warm/cold ${(warm / cold).toFixed(2)}×); steady state (baseline) ${base} ms; warm first / steady ${(warm / base).toFixed(2)}×`);
  return { first_cold_ms: cold, first_warm_ms: warm, steady_ms: base, warm_over_cold: +(warm / cold).toFixed(2) };
}

/** Keeps CONCURRENCY add_sub_batch requests in flight until stop(); counts answers and failures. */
function drive(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const body = Buffer.from(JSON.stringify({ inputs: ["INPUT0", "INPUT1"].map((name) => ({ name, datatype: "FP32", shape: [1, 4], data: [1, 2, 3, 4] })) }));
  const stats = { ok: 0, errors: 0, samples: [], lastError: "" };
  let running = true;
  const one = () => new Promise((resolve) => {
    const t = nowUs();
    const req = http.request({ port, host: "127.0.0.1", path: "/v2/models/add_sub_batch/infer", method: "POST", agent, headers: { "content-length": body.length } }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        if (res.statusCode === 200) {
          stats.ok++;
          stats.samples.push(nowUs() - t);
        } else {
          stats.errors++;
          stats.lastError = Buffer.concat(chunks).toString();
        }
        resolve();
      });
    });
    req.on("error", (err) => { stats.errors++; stats.lastError = err.message; resolve(); });
    req.end(body);
  });
  const t0 = Date.now();
  const done = Promise.all(Array.from({ length: CONCURRENCY }, async () => { while (running) await one(); }));
  return {
    stats,
    async stop() {
      running = false;
      await done;
      agent.destroy();
      return (Date.now() - t0) / 1000;
    },
  };
}

async function until(check, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function pollReload() {
  const repo = mkdtempSync(join(tmpdir(), "tessera-bench-poll-"));
  cpSync(join(here, "models", "add_sub_batch"), join(repo, "add_sub_batch"), { recursive: true });
  const file = join(repo, "add_sub_batch", "config.pbtxt");
  const base = readFileSync(file, "utf8");
  writeFileSync(file, `${base}\nparameters { key: "rev" value: { string_value: "0" } }\n`);
  const server = await startTessera([repo], ["--model-control-mode", "poll", "--repository-poll-secs", String(POLL_SECS)]);
  const config = async () => (await fetch(`http://127.0.0.1:${server.port}/v2/models/add_sub_batch/config`)).json();
  try {
    // The baseline: the same load, nothing changing (after a second that warms the paths up).
    const warm = drive(server.port);
    await new Promise((r) => setTimeout(r, 1000));
    await warm.stop();
    const quiet = drive(server.port);
    await new Promise((r) => setTimeout(r, 2000));
    const quietSecs = await quiet.stop();
    const quietRps = Math.round(quiet.stats.ok / quietSecs);

    const busy = drive(server.port);
    await new Promise((r) => setTimeout(r, 500));
    let t = Date.now();
    writeFileSync(file, `${base}\nparameters { key: "rev" value: { string_value: "1" } }\n`);
    await until(async () => (await config()).parameters?.rev?.string_value === "1");
    const reloadMs = Date.now() - t;
    await new Promise((r) => setTimeout(r, 500));
    t = Date.now();
    writeFileSync(file, `${base.replace("count: 1", "count: 2")}\nparameters { key: "rev" value: { string_value: "1" } }\n`);
    await until(async () => (await config()).instance_group?.[0]?.count === 2);
    const resizeMs = Date.now() - t;
    await new Promise((r) => setTimeout(r, 500));
    const busySecs = await busy.stop();
    const busyRps = Math.round(busy.stats.ok / busySecs);
    const p = summarize(busy.stats.samples);
    console.log(`poll-mode reload of add_sub_batch under c=${CONCURRENCY}: edit → new config serving in ${reloadMs} ms (full reload), ` +
      `${resizeMs} ms (instance count, in place), poll interval ${POLL_SECS * 1000} ms; ` +
      `${busy.stats.errors} failed of ${busy.stats.ok + busy.stats.errors} requests (goal 0)${busy.stats.errors ? ` — last: ${busy.stats.lastError}` : ""}; ` +
      `${busyRps} req/s (p99 ${(p.p99 / 1000).toFixed(2)} ms) vs ${quietRps} req/s without a reload (${(busyRps / quietRps).toFixed(2)}×)`);
    return {
      reload_ms: reloadMs, resize_ms: resizeMs, poll_interval_ms: POLL_SECS * 1000, errors: busy.stats.errors + quiet.stats.errors,
      requests: busy.stats.ok + busy.stats.errors, rps_during: busyRps, rps_quiet: quietRps,
    };
  } finally {
    await server.stop();
    rmSync(repo, { recursive: true, force: true });
  }
}

export async function run() {
  const warmup = await firstRequest();
  const poll = await pollReload();
  return { warmup, poll };
}
