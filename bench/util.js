import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 3) * 1000;

export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

export function summarize(samplesUs) {
  const s = Float64Array.from(samplesUs).sort();
  return { p50: +percentile(s, 0.5).toFixed(2), p99: +percentile(s, 0.99).toFixed(2), n: s.length };
}

export const nowUs = () => Number(process.hrtime.bigint()) / 1000;

const TICK_US = 1e6 / 100; // USER_HZ on Linux

/** CPU time (user + system, µs) process `pid` has used so far; null where /proc is absent. */
export function cpuUs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) * TICK_US;
  } catch {
    return null;
  }
}

/** The server's live stub processes (its other children, such as esbuild's service, left out). */
export function stubPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number)
      .filter((c) => {
        try {
          return readFileSync(`/proc/${c}/cmdline`, "utf8").includes("stub/main.js");
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
}

/**
 * Keeps `concurrency` requests in flight for BENCH_SECONDS (or `ms`). `body` is a Buffer, or a
 * function giving request i's. `inspect(res, body)`, if given, sees every 200 answer's headers and
 * whole body. `pid`: a server process whose CPU time per request is reported too (steadier than
 * latency on a busy machine).
 */
export async function load(port, path, body, headers, concurrency, { ms = DURATION_MS, inspect, pid } = {}) {
  const cpu0 = pid === undefined ? null : cpuUs(pid);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const samples = [];
  let done = 0, errors = 0, next = 0;
  const bodyAt = typeof body === "function" ? body : () => body;
  const end = Date.now() + ms;
  const one = () => new Promise((resolve) => {
    const body = bodyAt(next++);
    const t = nowUs();
    const req = http.request({ port, host: "127.0.0.1", path, method: "POST", agent,
      headers: { "content-length": body.length, ...headers } }, (res) => {
      const chunks = [];
      res.on("data", (c) => inspect && chunks.push(c));
      res.on("end", () => {
        if (res.statusCode === 200) {
          samples.push(nowUs() - t);
          inspect?.(res, Buffer.concat(chunks));
        } else errors++;
        done++;
        resolve();
      });
    });
    req.on("error", () => { errors++; resolve(); });
    req.end(body);
  });
  const worker = async () => { while (Date.now() < end) await one(); };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (Date.now() - t0) / 1000;
  agent.destroy();
  const s = summarize(samples);
  const cpu1 = pid === undefined ? null : cpuUs(pid);
  const cpu = cpu0 === null || cpu1 === null || done === 0 ? undefined : +((cpu1 - cpu0) / done).toFixed(1);
  return { rps: Math.round(done / secs), p50_us: s.p50, p99_us: s.p99, errors, ...(cpu === undefined ? {} : { cpu_us_per_request: cpu }) };
}

/** tessera on loopback, HTTP only; `checkout`: another build's root (a same-run baseline). */
export async function startTessera(repositories, extraArgs = [], checkout = root) {
  const proc = spawn(process.execPath, [join(checkout, "server.js"), ...repositories.flatMap((r) => ["--model-repository", r]),
    "--http-port", "0", "--http-address", "127.0.0.1", "--allow-grpc", "false", "--allow-metrics", "false", ...extraArgs], { stdio: ["ignore", "pipe", "pipe"], cwd: checkout });
  let out = "";
  const port = await new Promise((resolve, reject) => {
    const on = (c) => {
      out += c;
      const m = /Started HTTPService at [^:]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    };
    proc.stdout.on("data", on);
    proc.stderr.on("data", on);
    proc.on("exit", () => reject(new Error(`server exited:\n${out}`)));
  });
  return { port, proc, log: () => out, stop: () => new Promise((r) => { proc.on("exit", r); proc.kill("SIGINT"); }) };
}

