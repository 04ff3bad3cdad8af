/**
 * Two replicas behind a real nginx (HTTP proxy_pass, gRPC grpc_pass), readiness-driven routing:
 * SIGTERM one replica under 32 HTTP + 32 gRPC clients; with --drain-delay-secs it stays
 * serving while unready, the probe takes it out of nginx, and no request fails.
 * bench/lib/rolling-restart.js is the harness (`npm run bench -- rolling` repeats it). Skips, with
 * the reason printed, where nginx is absent (Debian: apt-get install nginx-light).
 */
import { describe, expect, it } from "vitest";
// @ts-expect-error: the bench harness is plain JavaScript, untyped
import { findNginx, rollingRestartOnce } from "../../bench/lib/rolling-restart.js";

const { nginx, why } = findNginx();
if (!nginx) console.log(`rolling-restart.test.ts: skipped: ${why}`);

describe.skipIf(!nginx)("a rolling restart behind nginx", () => {
  it("drops no request: the replica leaves nginx's upstreams while it still serves, then exits", async () => {
    const r = await rollingRestartOnce({ nginx, drainDelaySecs: 2, clients: 32 });
    expect(r.errors).toEqual([]);
    expect(r.failed).toBe(0);
    expect(r.ok).toBeGreaterThan(100);
    expect(r.exitCode).toBe(0);
    // Routing stopped (the probe saw readiness go false, nginx reloaded) before the delay ended.
    expect(r.outOfRoutingMs).toBeLessThan(2000);
    // It served for the whole drain delay, then stopped promptly.
    expect(r.exitMs).toBeGreaterThanOrEqual(2000);
    expect(r.exitMs).toBeLessThan(2000 + 8000);
  }, 60_000);
});
