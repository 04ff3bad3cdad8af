// add_sub over gRPC (ModelInfer, raw_input_contents, one HTTP/2 channel as tritonclient uses)
// beside add_sub over HTTP keep-alive with binary tensors, same server, same run, concurrency 16.
// Like the HTTP load (a prebuilt body, a response drained but not parsed), the gRPC load sends
// a pre-encoded request and does not decode the answer, so both measure the server and its
// transport rather than the client's codec; the answer is checked once, decoded, beforehand.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as loader from "@grpc/proto-loader";
import { load, nowUs, summarize } from "./util.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 3) * 1000;
const CONCURRENCY = 16;

const in0 = Buffer.from(new Float32Array([1, 2, 3, 4]).buffer);
const in1 = Buffer.from(new Float32Array([1, 1, 1, 1]).buffer);
export const grpcRequest = {
  model_name: "add_sub",
  inputs: [{ name: "INPUT0", datatype: "FP32", shape: [4] }, { name: "INPUT1", datatype: "FP32", shape: [4] }],
  raw_input_contents: [in0, in1],
};
export const binHeader = Buffer.from(JSON.stringify({
  inputs: [
    { name: "INPUT0", shape: [4], datatype: "FP32", parameters: { binary_data_size: 16 } },
    { name: "INPUT1", shape: [4], datatype: "FP32", parameters: { binary_data_size: 16 } },
  ],
  parameters: { binary_data_output: true },
}));
export const binBody = Buffer.concat([binHeader, in0, in1]);

/** tessera with HTTP and gRPC on ephemeral loopback ports. */
export async function start() {
  const proc = spawn(process.execPath, [join(root, "server.js"), "--model-repository", join(root, "examples", "model_repository"),
    "--http-port", "0", "--http-address", "127.0.0.1", "--allow-grpc", "true", "--grpc-port", "0", "--grpc-address", "127.0.0.1",
    "--allow-metrics", "false"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const ports = await new Promise((resolve, reject) => {
    const on = (c) => {
      out += c;
      const h = /Started HTTPService at [^:]+:(\d+)/.exec(out);
      const g = /Started GRPCInferenceService at [^:]+:(\d+)/.exec(out);
      if (h && g) resolve({ http: Number(h[1]), grpc: Number(g[1]) });
    };
    proc.stdout.on("data", on);
    proc.stderr.on("data", on);
    proc.on("exit", () => reject(new Error(`server exited:\n${out}`)));
  });
  return { ...ports, pid: proc.pid, stop: () => new Promise((r) => { proc.on("exit", r); proc.kill("SIGINT"); }) };
}

export function grpcClient(port) {
  const def = loader.loadSync("grpc_service.proto", {
    includeDirs: [join(root, "src", "grpc"), join(root, "src", "config")],
    keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def);
  return new pkg.inference.GRPCInferenceService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

/**
 * CPU seconds the server's main process has used (Linux /proc; null elsewhere). Per request it is
 * the figure that holds when other work shares the machine, which throughput alone does not.
 */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100)
  } catch {
    return null;
  }
}

async function measured(pid, fn) {
  const c0 = cpuSeconds(pid);
  const t0 = Date.now();
  const r = await fn();
  const c1 = cpuSeconds(pid);
  const requests = r.rps * (Date.now() - t0) / 1000;
  r.server_cpu_us_per_req = c0 === null || c1 === null || requests === 0 ? null : Math.round((c1 - c0) * 1e6 / requests);
  return r;
}

const PATH = "/inference.GRPCInferenceService/ModelInfer";
const identity = (b) => b;

export async function loadGrpc(client, encoded, concurrency) {
  const samples = [];
  let done = 0, errors = 0;
  const end = Date.now() + DURATION_MS;
  const one = () => new Promise((resolve) => {
    const t = nowUs();
    client.makeUnaryRequest(PATH, identity, identity, encoded, (err, res) => {
      if (err || res.length === 0) errors++;
      else samples.push(nowUs() - t);
      done++;
      resolve();
    });
  });
  const worker = async () => { while (Date.now() < end) await one(); };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (Date.now() - t0) / 1000;
  const s = summarize(samples);
  return { rps: Math.round(done / secs), p50_us: s.p50, p99_us: s.p99, errors };
}

export async function run() {
  const tessera = await start();
  const client = grpcClient(tessera.grpc);
  const probe = await new Promise((resolve, reject) => client.ModelInfer(grpcRequest, (e, r) => (e ? reject(e) : resolve(r))));
  const sum = Array.from(new Float32Array(Uint8Array.from(probe.raw_output_contents[0]).buffer));
  if (sum.join(",") !== "2,3,4,5") throw new Error(`add_sub over gRPC answered ${sum}`);
  const { messageType } = await import("../dist/src/grpc/proto.js");
  const type = messageType("inference.ModelInferRequest");
  const encoded = Buffer.from(type.encode(type.fromObject(grpcRequest)).finish());
  const raw = new grpc.Client(`127.0.0.1:${tessera.grpc}`, grpc.credentials.createInsecure());

  // Warm both paths (JIT, stub, HTTP/2 window) before measuring.
  const warm = Number(process.env.BENCH_SECONDS ?? 3) > 1 ? 1 : 0;
  if (warm) {
    await loadGrpc(raw, encoded, CONCURRENCY);
    await load(tessera.http, "/v2/models/add_sub/infer", binBody,
      { "inference-header-content-length": binHeader.length, "content-type": "application/octet-stream" }, CONCURRENCY);
  }
  const g = await measured(tessera.pid, () => loadGrpc(raw, encoded, CONCURRENCY));
  const h = await measured(tessera.pid, () => load(tessera.http, "/v2/models/add_sub/infer", binBody,
    { "inference-header-content-length": binHeader.length, "content-type": "application/octet-stream" }, CONCURRENCY));
  client.close();
  raw.close();
  await tessera.stop();
  const ratio = +(g.rps / h.rps).toFixed(3);
  console.log(`c=${CONCURRENCY} add_sub gRPC ModelInfer (raw) ${g.rps} req/s (p50 ${g.p50_us} µs, p99 ${g.p99_us} µs, server CPU ${g.server_cpu_us_per_req} µs/req, errors ${g.errors}) | ` +
    `HTTP binary ${h.rps} req/s (p50 ${h.p50_us} µs, p99 ${h.p99_us} µs, server CPU ${h.server_cpu_us_per_req} µs/req, errors ${h.errors}) | gRPC/HTTP ${ratio}`);
  return {
    seconds_per_run: DURATION_MS / 1000,
    concurrency: CONCURRENCY,
    grpc: g,
    http_binary: h,
    grpc_rps: g.rps,
    http_binary_rps: h.rps,
    ratio_grpc_to_http_binary: ratio,
    server_cpu_us_per_req: { grpc: g.server_cpu_us_per_req, http_binary: h.server_cpu_us_per_req },
  };
}
