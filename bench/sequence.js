// The sequence batcher's cost: 64 concurrent sequences of 100 steps each (one request after the
// other within a sequence, START on the first, END on the last) against a small stateful model
// (a running sum in implicit state, bench/models/seq_step), with the direct and the oldest
// strategy, on one and two instances; beside it, in the same run, the same model and load
// without sequence batching (stateless requests, the same handler and work), with and without
// the dynamic batcher. Prints steps/s and p50/p99 per step, and each sequence configuration's
// throughput as a ratio of the better stateless baseline on the same instances (goal ≥ 0.85:
// the bookkeeping costs at most 15%). Every step's answer is checked (the running sum).
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { nowUs, startTessera, summarize } from "./util.js";

const here = dirname(fileURLToPath(import.meta.url));
const SEQUENCES = Number(process.env.BENCH_SEQUENCES ?? 64);
const STEPS = Number(process.env.BENCH_STEPS ?? 100);
const MAX_BATCH = 64;

function config(variant, instances) {
  const base = {
    name: "seq_step", backend: "typescript", max_batch_size: MAX_BATCH,
    input: [{ name: "X", data_type: "TYPE_FP32", dims: [1] }], output: [{ name: "Y", data_type: "TYPE_FP32", dims: [1] }],
    instance_group: [{ count: instances, kind: "KIND_CPU" }],
  };
  const state = [{ input_name: "STATE_IN", output_name: "STATE_OUT", data_type: "TYPE_FP32", dims: [1],
    initial_state: [{ name: "zero", data_type: "TYPE_FP32", dims: [1], zero_data: true }] }];
  switch (variant) {
    case "stateless": return { ...base };
    case "stateless_dynamic": return { ...base, dynamic_batching: {} };
    case "direct": return { ...base, sequence_batching: { state } };
    case "oldest": return { ...base, sequence_batching: { state, oldest: { max_candidate_sequences: SEQUENCES, max_queue_delay_microseconds: 0 } } };
    default: throw new Error(variant);
  }
}

async function post(port, path, body) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: "POST", body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
}

/** One binary-extension request: X = [[x]], Y back as binary. */
function request(x, parameters) {
  const header = Buffer.from(JSON.stringify({
    inputs: [{ name: "X", shape: [1, 1], datatype: "FP32", parameters: { binary_data_size: 4 } }],
    parameters: { binary_data_output: true, ...parameters },
  }));
  return { body: Buffer.concat([header, Buffer.from(new Float32Array([x]).buffer)]), headerLength: header.length };
}

/** Runs SEQUENCES workers of STEPS requests each; `sequenced` adds sequence_id / start / end. */
async function drive(port, sequenced, round) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: SEQUENCES });
  const samples = [];
  let errors = 0, wrong = 0;
  const one = (x, parameters) => new Promise((resolve) => {
    const { body, headerLength } = request(x, parameters);
    const t = nowUs();
    const req = http.request({ port, host: "127.0.0.1", path: "/v2/models/seq_step/infer", method: "POST", agent,
      headers: { "content-length": body.length, "inference-header-content-length": headerLength, "content-type": "application/octet-stream" } }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const all = Buffer.concat(chunks);
        if (res.statusCode !== 200) {
          errors++;
          return resolve(NaN);
        }
        samples.push(nowUs() - t);
        const n = Number(res.headers["inference-header-content-length"]);
        resolve(new Float32Array(Uint8Array.from(all.subarray(n, n + 4)).buffer)[0]);
      });
    });
    req.on("error", () => { errors++; resolve(NaN); });
    req.end(body);
  });
  const worker = async (k) => {
    let sum = 0;
    const id = round * 100_000 + k + 1;
    for (let i = 0; i < STEPS; i++) {
      const x = (k + i) % 7;
      sum += x;
      const y = await one(x, sequenced ? { sequence_id: id, sequence_start: i === 0, sequence_end: i === STEPS - 1 } : {});
      if (y !== (sequenced ? sum : x)) wrong++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: SEQUENCES }, (_, k) => worker(k)));
  const secs = (performance.now() - t0) / 1000;
  agent.destroy();
  const s = summarize(samples);
  return { steps_per_s: Math.round((SEQUENCES * STEPS) / secs), p50_us: s.p50, p99_us: s.p99, errors, wrong };
}

export async function run() {
  const repo = mkdtempSync(join(tmpdir(), "tessera-bench-seq-"));
  cpSync(join(here, "models", "seq_step"), join(repo, "seq_step"), { recursive: true });
  const server = await startTessera([repo], ["--model-control-mode", "explicit", "--strict-model-config", "true"]);
  const results = {};
  let round = 0;
  try {
    for (const instances of [1, 2]) {
      const row = {};
      for (const variant of ["stateless", "stateless_dynamic", "direct", "oldest"]) {
        await post(server.port, "/v2/repository/models/seq_step/load", { parameters: { config: JSON.stringify(config(variant, instances)) } });
        const sequenced = !variant.startsWith("stateless");
        await drive(server.port, sequenced, round++); // warm up
        row[variant] = await drive(server.port, sequenced, round++);
      }
      const baseline = Math.max(row.stateless.steps_per_s, row.stateless_dynamic.steps_per_s);
      row.ratio_direct = +(row.direct.steps_per_s / baseline).toFixed(2);
      row.ratio_oldest = +(row.oldest.steps_per_s / baseline).toFixed(2);
      results[`instances_${instances}`] = row;
      for (const [variant, r] of Object.entries(row)) {
        if (typeof r !== "object") continue;
        console.log(`${instances} instance(s), ${variant}: ${r.steps_per_s} steps/s (p50 ${r.p50_us} µs, p99 ${r.p99_us} µs), errors ${r.errors}, wrong answers ${r.wrong}`);
      }
      console.log(`${instances} instance(s): direct ${row.ratio_direct}×, oldest ${row.ratio_oldest}× of the stateless baseline (goal ≥ 0.85)`);
    }
  } finally {
    await server.stop();
    rmSync(repo, { recursive: true, force: true });
  }
  return { sequences: SEQUENCES, steps: STEPS, ...results };
}
