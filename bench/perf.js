// Triton's perf_analyzer against tessera: add_sub over HTTP and gRPC at concurrency 1, 16 and 64,
// and the decoupled text_generator streamed over gRPC (--streaming), each beside this repo's own
// bench client on the same model in the same run (util.js `load`, grpc.js `loadGrpc`). With
// BENCH_TRITON=1 it also serves add_sub with Triton (PyTriton's bundled tritonserver, python
// backend) and reports tessera/Triton from the same perf_analyzer.
//
// perf_analyzer is installed on first run into a venv of its own beside the test suite's
// (~/.cache/tessera, or TESSERA_PY_CACHE), from bench/python/*.txt: the `perf-analyzer` package
// where glibc >= 2.38, else the perf_analyzer bundled in tritonclient 2.50 (see that file).
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { binBody, binHeader, grpcClient, grpcRequest, loadGrpc, start } from "./grpc.js";
import { perfAnalyzer, perfRun, sitePackages, venv } from "./python-tools.js";
import { load, nowUs, summarize } from "./util.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCIES = [1, 16, 64];
const PROMPT = "the ";
const TOKENS = 32;
const perf = (pa, args) => perfRun(pa, args, SECONDS);

/** Our own streaming client: `concurrency` ModelStreamInfer calls, one request each, for SECONDS. */
async function loadStream(client, concurrency) {
  const samples = [];
  let errors = 0;
  const end = Date.now() + SECONDS * 1000;
  const one = () => new Promise((resolve) => {
    const t = nowUs();
    let failed = false;
    const call = client.ModelStreamInfer();
    call.on("data", (m) => { if (m.error_message) failed = true; });
    call.on("error", () => { errors++; resolve(); });
    call.on("end", () => { if (failed) errors++; else samples.push(nowUs() - t); resolve(); });
    call.write(streamRequest());
    call.end();
  });
  const worker = async () => { while (Date.now() < end) await one(); };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const s = summarize(samples);
  return { rps: +(samples.length / ((Date.now() - t0) / 1000)).toFixed(2), p50_us: s.p50, p99_us: s.p99, errors };
}

const streamRequest = () => ({
  model_name: "text_generator", id: "bench",
  inputs: [
    { name: "text_input", datatype: "BYTES", shape: [1], contents: { bytes_contents: [Buffer.from(PROMPT)] } },
    { name: "max_tokens", datatype: "INT32", shape: [1], contents: { int_contents: [TOKENS] } },
  ],
  parameters: { temperature: { double_param: 0 }, token_interval_ms: { int64_param: 0 } },
});

/** Triton (PyTriton's tritonserver) serving add_sub with the python backend; null and why if not. */
async function startTriton() {
  const dir = venv("bench-triton", join(here, "python", "triton.txt"));
  const server = join(sitePackages(dir), "pytriton", "tritonserver");
  const py = readdirSync(join(dir, "lib")).find((d) => d.startsWith("python")).slice("python".length);
  // The python backend wants its stub beside libtriton_python.so; PyTriton ships one per Python.
  const backends = mkdtempSync(join(tmpdir(), "tessera-triton-"));
  mkdirSync(join(backends, "python"));
  for (const f of ["libtriton_python.so", "triton_python_backend_utils.py"]) symlinkSync(join(server, "backends", "python", f), join(backends, "python", f));
  symlinkSync(join(server, "python_backend_stubs", py, "triton_python_backend_stub"), join(backends, "python", "triton_python_backend_stub"));
  const repo = join(backends, "repo");
  mkdirSync(join(repo, "add_sub", "1"), { recursive: true });
  copyFileSync(join(root, "examples", "model_repository", "add_sub", "config.pbtxt"), join(repo, "add_sub", "config.pbtxt"));
  copyFileSync(join(here, "python", "triton_add_sub.py"), join(repo, "add_sub", "1", "model.py"));
  const base = 20000 + (process.pid % 20000);
  const proc = spawn(join(server, "bin", "tritonserver"), ["--model-repository", repo, "--backend-directory", backends,
    "--http-port", String(base), "--grpc-port", String(base + 1), "--metrics-port", String(base + 2), "--allow-metrics", "false"],
  { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PATH: `${join(dir, "bin")}:${process.env.PATH}` } });
  let out = "";
  const up = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 120_000);
    const on = (c) => {
      out += c;
      if (/Started HTTPService/.test(out) && /Started GRPCInferenceService/.test(out)) { clearTimeout(timer); resolve(true); }
    };
    proc.stdout.on("data", on);
    proc.stderr.on("data", on);
    proc.on("exit", () => { clearTimeout(timer); resolve(false); });
  });
  const stop = () => new Promise((r) => { if (proc.exitCode !== null) return r(); proc.on("exit", r); proc.kill("SIGINT"); }).then(() => rmSync(backends, { recursive: true, force: true }));
  if (!up) {
    await stop();
    return { error: `tritonserver did not start: ${out.trim().split("\n").slice(-3).join(" | ")}` };
  }
  return { http: base, grpc: base + 1, stop };
}

const fmt = (r) => (r.error ? `FAILED (${r.error})` : `${r.rps} req/s, p50 ${Math.round(r.p50_us)} µs, p99 ${Math.round(r.p99_us)} µs`);
const ratio = (a, b) => (a?.rps && b?.rps ? +(a.rps / b.rps).toFixed(3) : null);

export async function run() {
  const pa = perfAnalyzer();
  console.log(`perf_analyzer: ${pa.source}; ${SECONDS} s windows`);
  const tessera = await start();
  const raw = grpcClient(tessera.grpc); // proto-loaded: for the probe and the stream client
  await new Promise((resolve, reject) => raw.ModelInfer(grpcRequest, (e, r) => (e ? reject(e) : resolve(r))));
  const { messageType } = await import("../dist/src/grpc/proto.js");
  const type = messageType("inference.ModelInferRequest");
  const encoded = Buffer.from(type.encode(type.fromObject(grpcRequest)).finish());
  const { Client, credentials } = await import("@grpc/grpc-js");
  const unary = new Client(`127.0.0.1:${tessera.grpc}`, credentials.createInsecure());
  const binHeaders = { "inference-header-content-length": binHeader.length, "content-type": "application/octet-stream" };

  const failures = [];
  const rows = [];
  for (const protocol of ["http", "grpc"]) {
    const url = `127.0.0.1:${protocol === "http" ? tessera.http : tessera.grpc}`;
    for (const c of CONCURRENCIES) {
      const pa_ = perf(pa, ["-m", "add_sub", "-u", url, "-i", protocol, "--concurrency-range", String(c)]);
      const ours = protocol === "http"
        ? await load(tessera.http, "/v2/models/add_sub/infer", binBody, binHeaders, c)
        : await loadGrpc(unary, encoded, c);
      if (pa_.error) failures.push(pa_.error);
      rows.push({ model: "add_sub", protocol, c, perf_analyzer: pa_, ours, ratio_rps: ratio(pa_, ours) });
      console.log(`add_sub ${protocol.padEnd(4)} c=${String(c).padEnd(3)} perf_analyzer ${fmt(pa_)} | our client ${fmt(ours)} | perf_analyzer/ours ${ratio(pa_, ours) ?? "-"}`);
    }
  }

  // The decoupled text_generator over a gRPC stream: one request, TOKENS responses, at c=1 and 4.
  const data = join(mkdtempSync(join(tmpdir(), "tessera-perf-")), "input.json");
  writeFileSync(data, JSON.stringify({ data: [{ text_input: [PROMPT], max_tokens: [TOKENS] }] }));
  for (const c of [1, 4]) {
    const pa_ = perf(pa, ["-m", "text_generator", "-u", `127.0.0.1:${tessera.grpc}`, "-i", "grpc", "--streaming", "--input-data", data,
      "--request-parameter", "token_interval_ms:0:int", "--concurrency-range", String(c)]);
    const ours = await loadStream(raw, c);
    if (pa_.error) failures.push(pa_.error);
    rows.push({ model: "text_generator", protocol: "grpc-stream", c, perf_analyzer: pa_, ours, ratio_rps: ratio(pa_, ours) });
    console.log(`text_generator stream c=${c} (${TOKENS} tokens/request) perf_analyzer ${fmt(pa_)} | our client ${fmt(ours)} | perf_analyzer/ours ${ratio(pa_, ours) ?? "-"}`);
  }
  rmSync(dirname(data), { recursive: true, force: true });
  unary.close();
  raw.close();

  // Triton itself, measured by the same perf_analyzer, alternating with tessera.
  let triton;
  if (process.env.BENCH_TRITON === "1") {
    const t = await startTriton();
    if (t.error) {
      triton = { error: t.error };
      console.log(`Triton: ${t.error}`);
    } else {
      triton = [];
      for (const protocol of ["http", "grpc"]) {
        for (const c of CONCURRENCIES) {
          const ours = perf(pa, ["-m", "add_sub", "-u", `127.0.0.1:${protocol === "http" ? tessera.http : tessera.grpc}`, "-i", protocol, "--concurrency-range", String(c)]);
          const theirs = perf(pa, ["-m", "add_sub", "-u", `127.0.0.1:${protocol === "http" ? t.http : t.grpc}`, "-i", protocol, "--concurrency-range", String(c)]);
          const p50 = ours.p50_us && theirs.p50_us ? +(theirs.p50_us / ours.p50_us).toFixed(3) : null;
          triton.push({ protocol, c, tessera: ours, triton: theirs, ratio_rps: ratio(ours, theirs), ratio_p50_speedup: p50 });
          console.log(`add_sub ${protocol.padEnd(4)} c=${String(c).padEnd(3)} tessera ${fmt(ours)} | Triton ${fmt(theirs)} | tessera/Triton ${ratio(ours, theirs) ?? "-"}`);
        }
      }
      await t.stop();
    }
  }
  await tessera.stop();
  for (const f of failures) console.log(`perf_analyzer failure: ${f}`);
  return { seconds_per_window: SECONDS, perf_analyzer: pa.source, results: rows, failures, ...(triton ? { triton } : {}) };
}
