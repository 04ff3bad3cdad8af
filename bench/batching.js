// Dynamic batching on vs off, in one run: the generated ONNX MLP and a batchable add_sub at
// concurrency 32 (throughput, p50/p99, mean batch size), and the latency batching adds at
// concurrency 1. Each model is loaded twice in explicit mode with a config override: with
// dynamic_batching, then without (--strict-model-config keeps Triton's default batcher off).
// Then add_sub with two instances and batching: the handler reports which instance ran each call
// (response parameters), and the run prints the calls per instance (goal: every instance runs).
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeMlp } from "./models/make-mlp.js";
import { load, startTessera } from "./util.js";

const here = dirname(fileURLToPath(import.meta.url));
const DELAY_US = 1000;
const INSTANCES = 2;
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 3) * 1000;

const f32 = (values) => Buffer.from(new Float32Array(values).buffer);

function binaryRequest(inputs, parameters = {}) {
  const header = Buffer.from(JSON.stringify({
    inputs: inputs.map(([name, data, width]) => ({ name, shape: [1, width], datatype: "FP32", parameters: { binary_data_size: data.length } })),
    parameters: { binary_data_output: true, ...parameters },
  }));
  return { body: Buffer.concat([header, ...inputs.map(([, data]) => data)]), headers: {
    "inference-header-content-length": header.length, "content-type": "application/octet-stream" } };
}

const MODELS = {
  mlp: {
    tensors: [["INPUT0", 512]], outputs: [["OUTPUT0", 512]],
    request: binaryRequest([["INPUT0", f32(Array.from({ length: 512 }, (_, i) => Math.sin(i))), 512]]),
  },
  add_sub_batch: {
    tensors: [["INPUT0", 4], ["INPUT1", 4]], outputs: [["OUTPUT0", 4], ["OUTPUT1", 4]],
    request: binaryRequest([["INPUT0", f32([1, 2, 3, 4]), 4], ["INPUT1", f32([1, 1, 1, 1]), 4]]),
  },
};

// add_sub_batch's handler answers these with the instance that ran the call and its calls so far.
const REPORTING = binaryRequest([["INPUT0", f32([1, 2, 3, 4]), 4], ["INPUT1", f32([1, 1, 1, 1]), 4]], { report_instance: true });

function config(name, model, batching, instances = 1) {
  const tensor = ([n, w]) => ({ name: n, data_type: "TYPE_FP32", dims: [w] });
  return JSON.stringify({
    name, backend: "typescript", max_batch_size: 32,
    input: model.tensors.map(tensor), output: model.outputs.map(tensor),
    instance_group: [{ count: instances, kind: "KIND_CPU" }],
    ...(batching ? { dynamic_batching: { preferred_batch_size: [16, 32], max_queue_delay_microseconds: DELAY_US } } : {}),
  });
}

async function post(port, path, body) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: "POST", body: body ? JSON.stringify(body) : undefined });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
}

async function meanBatch(port, name, before) {
  const res = await fetch(`http://127.0.0.1:${port}/v2/models/${name}/stats`);
  if (res.status !== 200) return { mean: null, snapshot: null };
  const s = (await res.json()).model_stats[0];
  const now = { inferences: Number(s.inference_count), executions: Number(s.execution_count) };
  if (!before) return { mean: null, snapshot: now };
  const calls = now.executions - before.executions;
  return { mean: calls > 0 ? +((now.inferences - before.inferences) / calls).toFixed(2) : null, snapshot: now };
}

/**
 * util.load, reading each response's JSON header: per instance, the requests it answered and the
 * most calls it reported (its running count of execute() calls).
 */
async function loadByInstance(port, path, body, headers, concurrency, ms) {
  const instances = {};
  const inspect = (res, all) => {
    const n = Number(res.headers["inference-header-content-length"] ?? all.length);
    const p = JSON.parse(all.subarray(0, n).toString()).parameters ?? {};
    const seen = (instances[p.instance ?? "(unreported)"] ??= { requests: 0, executions: 0 });
    seen.requests++;
    seen.executions = Math.max(seen.executions, Number(p.executions ?? 0));
  };
  return { ...(await load(port, path, body, headers, concurrency, { ms, inspect })), instances };
}

/** add_sub_batch with INSTANCES instances and batching at c=32: the calls each instance ran. */
async function perInstance(port) {
  const name = "add_sub_batch";
  await post(port, `/v2/repository/models/${name}/load`, { parameters: { config: config(name, MODELS[name], true, INSTANCES) } });
  const path = `/v2/models/${name}/infer`;
  const warm = await loadByInstance(port, path, REPORTING.body, REPORTING.headers, 4, 300);
  const before = (await meanBatch(port, name)).snapshot;
  const run = await loadByInstance(port, path, REPORTING.body, REPORTING.headers, 32, DURATION_MS);
  const after = (await meanBatch(port, name)).snapshot;
  const executions = {}, requests = {};
  for (const [inst, seen] of Object.entries(run.instances).sort()) {
    executions[inst] = seen.executions - (warm.instances[inst]?.executions ?? 0);
    requests[inst] = seen.requests;
  }
  const ran = Object.values(executions).filter((n) => n > 0).length;
  const statsExecutions = before && after ? after.executions - before.executions : null;
  return { instances: INSTANCES, c32_rps: run.rps, c32_p50_us: run.p50_us, errors: run.errors, executions, requests,
    stats_executions: statsExecutions, instances_ran: ran, all_ran: ran === INSTANCES };
}

export async function run() {
  const repo = mkdtempSync(join(tmpdir(), "tessera-bench-"));
  cpSync(join(here, "models"), repo, { recursive: true });
  writeMlp(join(repo, "mlp", "1", "model.onnx"));
  const server = await startTessera([repo], ["--model-control-mode", "explicit", "--strict-model-config", "true"]);
  const results = {};
  try {
    for (const [name, model] of Object.entries(MODELS)) {
      const row = {};
      for (const batching of [true, false]) {
        await post(server.port, `/v2/repository/models/${name}/load`, { parameters: { config: config(name, model, batching) } });
        const path = `/v2/models/${name}/infer`;
        await load(server.port, path, model.request.body, model.request.headers, 4); // warm up
        const before = (await meanBatch(server.port, name)).snapshot;
        const c32 = await load(server.port, path, model.request.body, model.request.headers, 32);
        const { mean } = await meanBatch(server.port, name, before);
        const c1 = await load(server.port, path, model.request.body, model.request.headers, 1);
        row[batching ? "on" : "off"] = { c32_rps: c32.rps, c32_p50_us: c32.p50_us, c32_p99_us: c32.p99_us, mean_batch: mean, c1_p50_us: c1.p50_us, errors: c32.errors + c1.errors };
      }
      row.gain = +(row.on.c32_rps / row.off.c32_rps).toFixed(2);
      row.added_latency_c1_us = +(row.on.c1_p50_us - row.off.c1_p50_us).toFixed(1);
      results[name] = row;
      console.log(`${name}: c=32 batching on ${row.on.c32_rps} req/s (p50 ${row.on.c32_p50_us} µs, p99 ${row.on.c32_p99_us} µs, mean batch ${row.on.mean_batch ?? "n/a"}) | off ${row.off.c32_rps} req/s (p50 ${row.off.c32_p50_us} µs, mean batch ${row.off.mean_batch ?? "n/a"}) | gain ${row.gain}× (goal ≥ 3×)`);
      console.log(`${name}: c=1 p50 on ${row.on.c1_p50_us} µs vs off ${row.off.c1_p50_us} µs: added ${row.added_latency_c1_us} µs (goal ≤ max_queue_delay ${DELAY_US} µs + 1000 µs)`);
    }
    const two = (results.add_sub_batch_instances = await perInstance(server.port));
    const calls = Object.entries(two.executions).map(([inst, n]) => `${inst} ${n} calls (${two.requests[inst]} requests)`).join(", ");
    console.log(`add_sub_batch, ${two.instances} instances, batching on, c=32: ${two.c32_rps} req/s (p50 ${two.c32_p50_us} µs); ` +
      `${calls || "no calls reported"}; ${two.instances_ran} of ${two.instances} instances ran (goal: all), ` +
      `${Object.values(two.executions).reduce((a, b) => a + b, 0)} calls reported vs ${two.stats_executions ?? "n/a"} in the statistics API`);
  } finally {
    await server.stop();
    rmSync(repo, { recursive: true, force: true });
  }
  const two = results.add_sub_batch_instances;
  return { concurrency: 32, max_queue_delay_us: DELAY_US, ...results, gain_mlp: results.mlp?.gain, gain_add_sub: results.add_sub_batch?.gain,
    executions_per_instance: two?.executions, all_instances_ran: two?.all_ran };
}
