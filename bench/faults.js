// Fault injection: SIGKILL one stub of a two-instance model 20 times, each time with 32 requests
// in flight. Per kill it prints how many requests failed, succeeded and hung (goal: 0 hung, and
// every one ends), the time from the kill to the first error (goal < 2 s), and the time until the
// replacement serves. Baseline from the same run: the same 32 requests with no kill.
import http from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTessera, stubPids } from "./util.js";

const here = dirname(fileURLToPath(import.meta.url));
const KILLS = Number(process.env.FAULT_KILLS ?? 20);
const IN_FLIGHT = 32;
const HANG_MS = 30_000;

/** One infer on `worker` (binary output off: JSON); resolves with status, pid and the time it ended. */
function infer(port, parameters) {
  const body = JSON.stringify({ inputs: [{ name: "INPUT0", datatype: "INT64", shape: [1], data: [1] }], parameters });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ status: "hung", at: Date.now() }), HANG_MS);
    const req = http.request({ port, host: "127.0.0.1", path: "/v2/models/worker/infer", method: "POST",
      headers: { "content-length": Buffer.byteLength(body) } }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => {
        clearTimeout(timer);
        let pid;
        try {
          pid = JSON.parse(text).outputs?.find((o) => o.name === "PID")?.data?.[0];
        } catch { /* an error body */ }
        resolve({ status: res.statusCode, pid, at: Date.now() });
      });
    });
    req.on("error", () => {
      clearTimeout(timer);
      resolve({ status: "reset", at: Date.now() });
    });
    req.end(body);
  });
}

async function round(port, victim) {
  const t0 = Date.now();
  const calls = Array.from({ length: IN_FLIGHT }, () => infer(port, { action: "sleep", ms: 50 }));
  let killedAt = t0;
  if (victim) {
    await new Promise((r) => setTimeout(r, 20)); // they are in flight
    killedAt = Date.now();
    process.kill(victim, "SIGKILL");
  }
  const results = await Promise.all(calls);
  const failed = results.filter((r) => r.status !== 200 && r.status !== "hung");
  return {
    ok: results.filter((r) => r.status === 200).length,
    failed: failed.length,
    hung: results.filter((r) => r.status === "hung").length,
    errorMs: failed.length ? Math.min(...failed.map((r) => r.at)) - killedAt : null,
    allMs: Math.max(...results.map((r) => r.at)) - t0,
  };
}

async function untilServedBy(port, serverPid, old, since) {
  for (;;) {
    const pids = stubPids(serverPid).filter((p) => !old.includes(p));
    if (pids.length > 0) {
      const r = await infer(port, {});
      if (r.status === 200 && pids.includes(r.pid)) return Date.now() - since;
    }
    if (Date.now() - since > 30_000) return null;
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function run() {
  const server = await startTessera([join(here, "..", "test", "fixtures", "stub-repo")],
    ["--model-control-mode", "explicit", "--load-model", "worker"]);
  const serverPid = server.proc.pid;
  const base = await round(server.port, null);
  console.log(`baseline, no kill: ${base.ok} ok, ${base.failed} failed, ${base.hung} hung, all answered in ${base.allMs} ms`);
  const rows = [];
  for (let k = 1; k <= KILLS; k++) {
    const stubs = stubPids(serverPid);
    const victim = stubs[k % stubs.length];
    const since = Date.now();
    const [r, replacedMs] = await Promise.all([round(server.port, victim), untilServedBy(server.port, serverPid, stubs, since + 20)]);
    rows.push({ ...r, replacedMs });
    console.log(`kill ${String(k).padStart(2)}: ${r.ok} ok, ${r.failed} failed, ${r.hung} hung; first error ${r.errorMs ?? "-"} ms after the kill; all ended in ${r.allMs} ms; replacement served after ${replacedMs ?? "never"} ms`);
    // Let the back-off settle so each kill starts from a served model.
    await new Promise((r) => setTimeout(r, 200));
  }
  await server.stop();
  const hung = rows.reduce((n, r) => n + r.hung, 0);
  const errorMs = rows.map((r) => r.errorMs).filter((v) => v !== null);
  const maxError = errorMs.length ? Math.max(...errorMs) : null;
  const replaced = rows.map((r) => r.replacedMs).filter((v) => v !== null);
  console.log(`${KILLS} kills: ${hung} hung (goal 0), first error at most ${maxError} ms after a kill (goal < 2000), replacement serving after at most ${Math.max(...replaced)} ms; all-answered time with a kill / without: ${(Math.max(...rows.map((r) => r.allMs)) / base.allMs).toFixed(2)}×`);
  return {
    kills: KILLS, hung, failed: rows.reduce((n, r) => n + r.failed, 0), ok: rows.reduce((n, r) => n + r.ok, 0),
    max_error_ms: maxError, max_replacement_ms: Math.max(...replaced), never_replaced: rows.length - replaced.length,
    baseline_all_ms: base.allMs, max_all_ms: Math.max(...rows.map((r) => r.allMs)),
  };
}
