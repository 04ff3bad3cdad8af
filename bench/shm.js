// System shared memory: a 16 MiB FP32 identity (test/fixtures/shm-repo/identity_fp32) over HTTP
// binary, gRPC raw contents, and client shared memory (input and output in regions the client
// registered; the stub reads the input in place and writes the output straight into the client's
// region), all at concurrency 1 against the same server, beside a same-process memcpy of 16 MiB
// and the IPC round trip of a 4-byte request (the floor the shared-memory path cannot go under).
// Then perf_analyzer --shared-memory system against the same model, beside perf_analyzer's own
// HTTP binary run. Goals (issue 15): shm >= 5x the HTTP binary throughput; shm p50 <= 2x memcpy + round trip.
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { Client, credentials } from "@grpc/grpc-js";
import { perfAnalyzer, perfRun } from "./python-tools.js";
import { load, nowUs, startTessera, summarize } from "./util.js";

const here = dirname(fileURLToPath(import.meta.url));
const REPO = join(here, "..", "test", "fixtures", "shm-repo");
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const N = 4 << 20; // FP32 elements: 16 MiB
const BYTES = N * 4;
const MODEL = "identity_fp32";

function memcpyUs() {
  const a = Buffer.alloc(BYTES, 1);
  const b = Buffer.alloc(BYTES);
  const samples = [];
  for (let i = 0; i < 60; i++) {
    const t = nowUs();
    b.set(a);
    samples.push(nowUs() - t);
  }
  return summarize(samples.slice(10)).p50;
}

async function loadGrpc(port, encoded) {
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure(), { "grpc.max_receive_message_length": -1, "grpc.max_send_message_length": -1 });
  const id = (x) => x;
  const samples = [];
  let done = 0, errors = 0;
  const end = Date.now() + SECONDS * 1000;
  const t0 = Date.now();
  while (Date.now() < end) {
    const t = nowUs();
    await new Promise((resolve) => client.makeUnaryRequest("/inference.GRPCInferenceService/ModelInfer", id, id, encoded, (err) => {
      if (err) errors++;
      else samples.push(nowUs() - t);
      done++;
      resolve();
    }));
  }
  const secs = (Date.now() - t0) / 1000;
  client.close();
  const s = summarize(samples);
  return { rps: Math.round(done / secs), p50_us: s.p50, p99_us: s.p99, errors };
}

const perf = (pa, args) => perfRun(pa, args, SECONDS);

const fmt = (r) => (r.error ? `FAILED (${r.error})` : `${r.rps} req/s, p50 ${(r.p50_us / 1000).toFixed(2)} ms, p99 ${(r.p99_us / 1000).toFixed(2)} ms`);
// Throughput ratio; at concurrency 1 a path slower than 1 req/s rounds to 0, so then from the p50s.
const ratio = (a, b) => {
  if (a?.rps && b?.rps) return +(a.rps / b.rps).toFixed(2);
  if (a?.p50_us && b?.p50_us) return +(b.p50_us / a.p50_us).toFixed(2);
  return null;
};

async function post(port, path, body) {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { method: "POST", body: JSON.stringify(body) });
  if (r.status !== 200) throw new Error(`${path}: ${r.status} ${await r.text()}`);
}

export async function run() {
  const server = await startTessera([REPO], ["--allow-client-shm", "true", "--allow-grpc", "true", "--grpc-port", "0", "--grpc-address", "127.0.0.1", "--http-max-input-size", String(64 << 20)]);
  const grpcPort = await new Promise((resolve) => {
    const t = setInterval(() => {
      const m = /Started GRPCInferenceService at [^:]+:(\d+)/.exec(server.log());
      if (m) { clearInterval(t); resolve(Number(m[1])); }
    }, 20);
  });
  const tag = randomBytes(4).toString("hex");
  const inKey = `/bench-shm-in-${tag}`;
  const outKey = `/bench-shm-out-${tag}`;
  const x = new Float32Array(N).map((_, i) => i % 1013);
  writeFileSync(`/dev/shm${inKey}`, Buffer.from(x.buffer));
  writeFileSync(`/dev/shm${outKey}`, Buffer.alloc(BYTES));
  try {
    const memcpy = memcpyUs();
    console.log(`memcpy of 16 MiB in this process: p50 ${(memcpy / 1000).toFixed(2)} ms`);
    // The IPC round trip: the same path with 4 bytes (HTTP JSON, the stub, back).
    const tiny = await load(server.port, `/v2/models/${MODEL}/infer`, Buffer.from(JSON.stringify({ inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1], data: [1] }] })), { "content-type": "application/json" }, 1, { ms: 1000 });
    console.log(`round trip of a 4-byte request:   p50 ${(tiny.p50_us / 1000).toFixed(2)} ms`);

    const header = Buffer.from(JSON.stringify({ inputs: [{ name: "INPUT0", datatype: "FP32", shape: [N], parameters: { binary_data_size: BYTES } }], outputs: [{ name: "OUTPUT0", parameters: { binary_data: true } }] }));
    const binBody = Buffer.concat([header, Buffer.from(x.buffer)]);
    const httpBinary = await load(server.port, `/v2/models/${MODEL}/infer`, binBody, { "inference-header-content-length": header.length, "content-type": "application/octet-stream" }, 1);
    console.log(`HTTP binary        ${fmt(httpBinary)}`);

    const { messageType } = await import("../dist/src/grpc/proto.js");
    const type = messageType("inference.ModelInferRequest");
    const grpcBody = Buffer.from(type.encode(type.fromObject({ model_name: MODEL, inputs: [{ name: "INPUT0", datatype: "FP32", shape: [N] }], raw_input_contents: [Buffer.from(x.buffer)] })).finish());
    const grpcRaw = await loadGrpc(grpcPort, grpcBody);
    console.log(`gRPC raw contents  ${fmt(grpcRaw)}  (${ratio(grpcRaw, httpBinary)}x HTTP binary)`);

    await post(server.port, "/v2/systemsharedmemory/region/bench_in/register", { key: inKey, offset: 0, byte_size: BYTES });
    await post(server.port, "/v2/systemsharedmemory/region/bench_out/register", { key: outKey, offset: 0, byte_size: BYTES });
    const shmBody = Buffer.from(JSON.stringify({
      inputs: [{ name: "INPUT0", datatype: "FP32", shape: [N], parameters: { shared_memory_region: "bench_in", shared_memory_byte_size: BYTES } }],
      outputs: [{ name: "OUTPUT0", parameters: { shared_memory_region: "bench_out", shared_memory_byte_size: BYTES } }],
    }));
    const shm = await load(server.port, `/v2/models/${MODEL}/infer`, shmBody, { "content-type": "application/json" }, 1);
    const out = readFileSync(`/dev/shm${outKey}`);
    if (Buffer.compare(out, Buffer.from(x.buffer)) !== 0) throw new Error("the output region does not hold the input");
    const budget = 2 * memcpy + tiny.p50_us;
    console.log(`shared memory      ${fmt(shm)}  (${ratio(shm, httpBinary)}x HTTP binary; goal >= 5x)`);
    console.log(`shared memory p50 ${(shm.p50_us / 1000).toFixed(2)} ms vs 2 x memcpy + round trip = ${(budget / 1000).toFixed(2)} ms (ratio ${(shm.p50_us / budget).toFixed(2)}; goal <= 1)`);
    await post(server.port, "/v2/systemsharedmemory/unregister", {});

    let perfAnalyzerRows = null;
    try {
      const pa = perfAnalyzer();
      const url = `127.0.0.1:${server.port}`;
      const common = ["-m", MODEL, "-u", url, "-i", "http", "--shape", `INPUT0:${N}`, "--concurrency-range", "1"];
      const paShm = perf(pa, [...common, "--shared-memory", "system", "--output-shared-memory-size", String(BYTES)]);
      const paBin = perf(pa, common);
      console.log(`perf_analyzer (${pa.source}) --shared-memory system ${fmt(paShm)}  | without: ${fmt(paBin)}  (${ratio(paShm, paBin) ?? "-"}x)`);
      perfAnalyzerRows = { source: pa.source, shared_memory: paShm, http_binary: paBin, ratio_rps: ratio(paShm, paBin) };
    } catch (err) {
      console.log(`perf_analyzer skipped: ${err.message}`);
      perfAnalyzerRows = { skipped: err.message };
    }
    return {
      tensor_bytes: BYTES, seconds: SECONDS, memcpy_p50_us: memcpy, round_trip_p50_us: tiny.p50_us,
      http_binary: httpBinary, grpc: grpcRaw, shm, shm_over_http_binary: ratio(shm, httpBinary),
      shm_p50_over_budget: +(shm.p50_us / budget).toFixed(2), perf_analyzer: perfAnalyzerRows,
    };
  } finally {
    for (const k of [inKey, outKey]) try { unlinkSync(`/dev/shm${k}`); } catch {}
    await server.stop();
  }
}
