// Dynamic batching on vs off, in one run: the generated ONNX MLP and a batchable add_sub at
// concurrency 32 (throughput, p50/p99, mean batch size), and the latency batching adds at
// concurrency 1. Each model is loaded twice in explicit mode with a config override: with
// dynamic_batching, then without (--strict-model-config keeps Triton's default batcher off).
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeMlp } from "./models/make-mlp.js";
import { load, startTessera } from "./util.js";

const here = dirname(fileURLToPath(import.meta.url));
const DELAY_US = 1000;

const f32 = (values) => Buffer.from(new Float32Array(values).buffer);

function binaryRequest(inputs) {
  const header = Buffer.from(JSON.stringify({
    inputs: inputs.map(([name, data, width]) => ({ name, shape: [1, width], datatype: "FP32", parameters: { binary_data_size: data.length } })),
    parameters: { binary_data_output: true },
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

function config(name, model, batching) {
  const tensor = ([n, w]) => ({ name: n, data_type: "TYPE_FP32", dims: [w] });
  return JSON.stringify({
    name, backend: "typescript", max_batch_size: 32,
    input: model.tensors.map(tensor), output: model.outputs.map(tensor),
    instance_group: [{ count: 1, kind: "KIND_CPU" }],
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
  } finally {
    await server.stop();
    rmSync(repo, { recursive: true, force: true });
  }
  return { concurrency: 32, max_queue_delay_us: DELAY_US, ...results, gain_mlp: results.mlp?.gain, gain_add_sub: results.add_sub_batch?.gain };
}
