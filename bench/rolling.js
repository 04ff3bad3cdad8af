// A rolling restart behind nginx (issue 18): two replicas, 32 HTTP + 32 gRPC clients through
// nginx, SIGTERM to one replica; the endpoints controller of bench/lib/rolling-restart.js takes it
// out of nginx's upstreams once its readiness goes false. Each run is repeated BENCH_RUNS times
// (default 5) with --drain-delay-secs=2 and BENCH_BASELINE_RUNS times (default 2) with
// --drain-delay-secs=0, the baseline: the same restart where the replica closes at once.
// Prints per run: failed requests, how long until nginx stopped routing to the replica, its exit
// time; then the totals, the two settings side by side.
import { findNginx, rollingRestartOnce } from "./lib/rolling-restart.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BASELINE_RUNS = Number(process.env.BENCH_BASELINE_RUNS ?? 2);
const DRAIN_SECS = 2;

const range = (xs) => (xs.length ? `${Math.min(...xs)}-${Math.max(...xs)}` : "-");

export async function run() {
  const { nginx, why } = findNginx();
  if (!nginx) {
    console.log(`rolling: skipped: ${why}`);
    return { skipped: why };
  }
  const results = { drain: [], baseline: [] };
  for (const [key, drain, n] of [["drain", DRAIN_SECS, RUNS], ["baseline", 0, BASELINE_RUNS]]) {
    for (let i = 0; i < n; i++) {
      const r = await rollingRestartOnce({ nginx, drainDelaySecs: drain });
      results[key].push(r);
      console.log(`--drain-delay-secs=${drain} run ${i + 1}: ${r.ok} ok, ${r.failed} failed (HTTP ${r.httpFailed}, gRPC ${r.grpcFailed}; ` +
        `${r.httpResent} HTTP resent after an nginx worker reset), out of routing ${r.outOfRoutingMs} ms (nginx reloaded at ${r.reloadMs ?? "-"} ms), exit ${r.exitMs} ms` +
        (r.errors.length ? `; e.g. ${r.errors[0].replace(/\s+/g, " ").slice(0, 80)}` : ""));
    }
  }
  const sum = (rs, k) => rs.reduce((a, r) => a + r[k], 0);
  const d = results.drain;
  const b = results.baseline;
  const failRate = (rs) => sum(rs, "failed") / Math.max(1, sum(rs, "ok") + sum(rs, "failed"));
  console.log(`\nwith the drain (${DRAIN_SECS} s), ${d.length} runs: ${sum(d, "failed")} failed of ${sum(d, "ok") + sum(d, "failed")}; ` +
    `out of routing ${range(d.map((r) => r.outOfRoutingMs))} ms; exit ${range(d.map((r) => (r.exitMs / 1000).toFixed(1)))} s`);
  console.log(`baseline, no drain, ${b.length} runs: ${sum(b, "failed")} failed of ${sum(b, "ok") + sum(b, "failed")}; ` +
    `exit ${range(b.map((r) => (r.exitMs / 1000).toFixed(1)))} s`);
  console.log(`failed-request rate, drain / baseline: ${failRate(b) > 0 ? (failRate(d) / failRate(b)).toFixed(3) : "n/a (baseline 0)"}`);
  return {
    runs: d.length, failed: sum(d, "failed"), requests: sum(d, "ok") + sum(d, "failed"), http_resent: sum(d, "httpResent"),
    out_of_routing_ms: d.map((r) => r.outOfRoutingMs), exit_ms: d.map((r) => r.exitMs),
    baseline_runs: b.length, baseline_failed: sum(b, "failed"), baseline_requests: sum(b, "ok") + sum(b, "failed"),
    failed_rate_ratio: failRate(b) > 0 ? failRate(d) / failRate(b) : null,
  };
}
