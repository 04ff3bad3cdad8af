// A rolling restart behind a real load balancer, the way Kubernetes does one, on loopback:
// two tessera replicas behind nginx (HTTP proxy_pass and gRPC grpc_pass), and an "endpoints
// controller" that probes each replica's /v2/health/ready every PROBE_MS and, when the ready set
// changes, rewrites nginx's upstreams and reloads it (SIGHUP), as kubelet's readiness probe, the
// EndpointSlice and an ingress controller do together. Under HTTP and gRPC load it sends SIGTERM
// to one replica and measures: failed requests, how long until nginx stopped routing to it (the
// last request it answered through nginx, from nginx's access log), and how long it took to exit.
// Used by test/integration/rolling-restart.test.ts and `npm run bench -- rolling`.
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as loader from "@grpc/proto-loader";
import { Worker } from "node:worker_threads";
import { upstreams } from "./endpoints-controller.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const REPOSITORY = join(root, "examples", "model_repository");
const PROBE_MS = 50;

/** nginx's path, or null (with why) where it cannot run here. */
export function findNginx() {
  for (const p of ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]) {
    if (!existsSync(p)) continue;
    const v = spawnSync(p, ["-V"], { encoding: "utf8" });
    const out = `${v.stdout}${v.stderr}`;
    if (v.status !== 0) return { nginx: null, why: `${p} -V failed: ${out.trim()}` };
    if (/--without-http_grpc_module/.test(out)) return { nginx: null, why: `${p} has no grpc module` };
    return { nginx: p, why: "" };
  }
  return { nginx: null, why: "nginx is not installed (Debian: apt-get install nginx-light)" };
}

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** One replica: HTTP and gRPC on ephemeral loopback ports. */
async function startReplica(drainDelaySecs) {
  const proc = spawn(process.execPath, [join(root, "server.js"), "--model-repository", REPOSITORY,
    "--model-control-mode=explicit", "--load-model=add_sub", "--http-port=0", "--http-address=127.0.0.1",
    "--grpc-port=0", "--grpc-address=127.0.0.1", "--allow-metrics=false", `--drain-delay-secs=${drainDelaySecs}`,
    "--exit-timeout-secs=10"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const exited = once(proc, "exit");
  await new Promise((resolve, reject) => {
    const on = (c) => {
      out += c;
      if (/Started HTTPService/.test(out) && /Started GRPCInferenceService/.test(out)) resolve();
    };
    proc.stdout.on("data", on);
    proc.stderr.on("data", on);
    exited.then(() => reject(new Error(`replica exited before listening:\n${out}`)));
  });
  const http_ = `127.0.0.1:${/Started HTTPService at [^:\s]+:(\d+)/.exec(out)[1]}`;
  const grpc_ = `127.0.0.1:${/Started GRPCInferenceService at [^:\s]+:(\d+)/.exec(out)[1]}`;
  return { proc, http: http_, grpc: grpc_, exited, log: () => out };
}

async function startNginx(nginx, dir, replicas) {
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  for (const d of ["client", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, "upstreams.conf"), upstreams(replicas));
  writeFileSync(join(dir, "nginx.conf"), `${process.getuid?.() === 0 ? "user root;\n" : ""}worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  log_format lb '$msec $upstream_addr $status';
  access_log ${dir}/access.log lb;
  client_body_temp_path ${dir}/client; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  include ${dir}/upstreams.conf;
  server {
    listen 127.0.0.1:${httpPort};
    location / {
      proxy_pass http://tessera_http;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
  server {
    listen 127.0.0.1:${grpcPort} http2;
    location / { grpc_pass grpc://tessera_grpc; }
  }
}
`);
  const proc = spawn(nginx, ["-p", dir, "-c", join(dir, "nginx.conf")], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  proc.stderr.on("data", (c) => (err += c));
  const exited = once(proc, "exit");
  // Listening once both ports accept.
  for (const port of [httpPort, grpcPort]) {
    for (let i = 0; ; i++) {
      const okay = await new Promise((r) => net.connect(port, "127.0.0.1").once("connect", function () { this.destroy(); r(true); }).once("error", () => r(false)));
      if (okay) break;
      if (i > 200 || proc.exitCode !== null) throw new Error(`nginx did not start: ${err}${readIf(join(dir, "error.log"))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return { proc, httpPort, grpcPort, exited };
}

const readIf = (p) => (existsSync(p) ? readFileSync(p, "utf8") : "");

/** Kubernetes' part, in a worker thread (bench/lib/endpoints-controller.js). */
function endpointsController(replicas, dir, nginx, events) {
  const worker = new Worker(join(here, "endpoints-controller.js"), {
    workerData: { replicas: replicas.map((r) => ({ http: r.http, grpc: r.grpc })), upstreamsFile: join(dir, "upstreams.conf"), nginxPid: nginx.proc.pid, probeMs: PROBE_MS },
  });
  const done = new Promise((resolve, reject) => {
    worker.on("message", (m) => (m === "stopped" ? resolve() : events.push({ what: "reload", ...m })));
    worker.on("error", reject);
  });
  return { stop: async () => { worker.postMessage("stop"); await done; await worker.terminate(); } };
}

const A = new Float32Array([1, 2, 3, 4]);
const B = new Float32Array([10, 20, 30, 40]);
const HTTP_BODY = JSON.stringify({ inputs: [
  { name: "INPUT0", datatype: "FP32", shape: [4], data: Array.from(A) },
  { name: "INPUT1", datatype: "FP32", shape: [4], data: Array.from(B) },
] });

/** Keeps `clients` HTTP and `clients` gRPC requests in flight until stop(); counts outcomes. */
function loadThroughNginx(nginx, clients) {
  const stats = { http: { ok: 0, failed: 0, resent: 0 }, grpc: { ok: 0, failed: 0 }, errors: [], samples: [] };
  let stopped = false;
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  // An nginx worker that exits after a reload closes its idle connections, kept-alive or just
  // accepted, without reading from them: a request that meets one is reset before any answer.
  // Nothing was read, so the client sends it once more (Node's docs advise this for reused
  // sockets, request.reusedSocket). These are counted apart, as `resent`; a second reset fails.
  const httpOnce = async () => {
    const first = await httpTry();
    if (first !== "reused-reset") return first;
    stats.http.resent++;
    const again = await httpTry(false); // a new connection: the pool may hold more doomed ones
    return again === "reused-reset" ? "HTTP: connection reset twice" : again;
  };
  const httpTry = (pooled = true) => new Promise((resolve) => {
    const req = http.request({ host: "127.0.0.1", port: nginx.httpPort, path: "/v2/models/add_sub/infer", method: "POST", agent: pooled ? agent : false,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(HTTP_BODY) } }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve(res.statusCode === 200 && body.includes("OUTPUT0") ? null : `HTTP ${res.statusCode} ${body.slice(0, 200)}`));
      res.on("error", (e) => resolve(`HTTP response: ${e.message}`));
    });
    req.on("error", (e) => resolve(e.code === "ECONNRESET" && !req.res ? "reused-reset" : `HTTP: ${e.message}`));
    req.end(HTTP_BODY);
  });
  const dirs = [join(root, "src", "grpc"), join(root, "src", "config")];
  const pkg = grpc.loadPackageDefinition(loader.loadSync("grpc_service.proto", { keepCase: true, longs: String, enums: String, defaults: true, includeDirs: dirs }));
  const client = new pkg.inference.GRPCInferenceService(`127.0.0.1:${nginx.grpcPort}`, grpc.credentials.createInsecure());
  const grpcRequest = {
    model_name: "add_sub",
    inputs: [{ name: "INPUT0", datatype: "FP32", shape: [4] }, { name: "INPUT1", datatype: "FP32", shape: [4] }],
    raw_input_contents: [Buffer.from(A.buffer), Buffer.from(B.buffer)],
  };
  const grpcOnce = () => new Promise((resolve) => client.ModelInfer(grpcRequest, { deadline: Date.now() + 10_000 },
    (err, res) => resolve(err ? `gRPC ${err.code} ${err.details}` : res.raw_output_contents.length === 2 ? null : "gRPC: no outputs")));
  const worker = async (kind, once_) => {
    while (!stopped) {
      const err = await once_();
      stats.samples.push(Date.now());
      if (err) {
        stats[kind].failed++;
        if (stats.errors.length < 20) stats.errors.push(err);
      } else stats[kind].ok++;
    }
  };
  const workers = [...Array.from({ length: clients }, () => worker("http", httpOnce)), ...Array.from({ length: clients }, () => worker("grpc", grpcOnce))];
  return {
    stats,
    async stop() {
      stopped = true;
      await Promise.all(workers);
      agent.destroy();
      client.close();
    },
  };
}

/**
 * One rolling restart: returns { failed, ok, outOfRoutingMs, exitMs, reloadMs, errors }.
 * drainDelaySecs is the terminating replica's --drain-delay-secs.
 */
export async function rollingRestartOnce({ nginx: nginxPath, drainDelaySecs = 2, clients = 32, warmupMs = 1000 }) {
  const dir = mkdtempSync(join(tmpdir(), "tessera-lb-"));
  const replicas = [];
  let nginx = null;
  let controller = null;
  let load = null;
  try {
    replicas.push(await startReplica(drainDelaySecs), await startReplica(drainDelaySecs));
    nginx = await startNginx(nginxPath, dir, replicas);
    const events = [];
    controller = endpointsController(replicas, dir, nginx, events);
    load = loadThroughNginx(nginx, clients);
    await new Promise((r) => setTimeout(r, warmupMs));
    const before = load.stats.samples.length;
    const victim = replicas[0];
    const t0 = Date.now();
    victim.proc.kill("SIGTERM");
    await victim.exited;
    const exitMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 300)); // the survivor carries on alone
    const stats = load.stats;
    await load.stop();
    load = null;
    await controller.stop();
    controller = null;
    const victimAddrs = new Set([victim.http, victim.grpc]);
    let last = 0;
    for (const line of readIf(join(dir, "access.log")).split("\n")) {
      const [msec, upstream] = line.split(" ");
      // $upstream_addr lists every server tried ("a, b" after a retry): the last one answered.
      const answered = upstream?.split(",").at(-1)?.trim();
      if (answered && victimAddrs.has(answered)) last = Math.max(last, Number(msec) * 1000);
    }
    const reload = events.find((e) => e.what === "reload" && e.at >= t0);
    const { http: h, grpc: g, errors } = stats;
    return {
      ok: h.ok + g.ok, failed: h.failed + g.failed, httpFailed: h.failed, grpcFailed: g.failed, httpResent: h.resent, errors,
      outOfRoutingMs: Math.max(0, Math.round(last - t0)), reloadMs: reload ? reload.at - t0 : null, exitMs,
      exitCode: victim.proc.exitCode, rpsBefore: Math.round(before / (warmupMs / 1000)),
    };
  } finally {
    if (load) await load.stop();
    if (controller) await controller.stop();
    for (const r of replicas) {
      if (r.proc.exitCode === null && r.proc.signalCode === null) {
        r.proc.kill("SIGINT");
        await r.exited;
      }
    }
    if (nginx && nginx.proc.exitCode === null) {
      nginx.proc.kill("SIGQUIT");
      await nginx.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
