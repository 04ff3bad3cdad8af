/**
 * Stubs that die, hang, or lose their server. A dead or hung stub fails its in-flight request at
 * once with an error that names the instance, is replaced with back-off, and the model's other
 * instance serves meanwhile. A server that is SIGKILLed takes its stubs with it and leaves no
 * shared memory behind.
 */
import { afterAll, describe, expect, it } from "vitest";
import { inferBinary, type RunningServer } from "./harness.js";
import {
  bytesOf, childPids, decodeBytes, isAlive, mappedShmBytes, segmentsOf, startStubServer, stopCleanly, stubPids, waitUntil,
} from "./stub-helpers.js";

const servers: RunningServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop("SIGKILL")));
});

async function start(args: string[] = []): Promise<RunningServer> {
  const s = await startStubServer(["worker"], { args });
  servers.push(s);
  return s;
}

interface Answer { status: number; error?: string; value?: bigint; pid?: number; instance?: string; ms: number }

/** One request to `worker`; `action` makes the handler misbehave. */
async function call(server: RunningServer, value: bigint, parameters: Record<string, unknown> = {}): Promise<Answer> {
  const t0 = Date.now();
  const r = await inferBinary(server.url, "worker", [
    { name: "INPUT0", datatype: "INT64", shape: [1], data: bytesOf(BigInt64Array.of(value)) },
  ], { parameters });
  const ms = Date.now() - t0;
  if (r.status !== 200) return { status: r.status, error: r.json.error, ms };
  return {
    status: 200,
    value: new BigInt64Array(r.outputs.get("OUTPUT0")!.slice().buffer)[0],
    pid: new Int32Array(r.outputs.get("PID")!.slice().buffer)[0],
    instance: decodeBytes(r.outputs.get("INSTANCE")!)[0].toString(),
    ms,
  };
}

/** The first match of `pattern` printed after log offset `from`. */
async function logAfter(server: RunningServer, from: number, pattern: RegExp, timeoutMs: number): Promise<string> {
  return waitUntil(() => pattern.exec(server.log().slice(from))?.[0], timeoutMs, () => `${pattern} in the log:\n${server.log().slice(from)}`);
}

/** Sends requests until both instances have answered; returns instance name → pid. */
async function instancesOf(server: RunningServer): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; seen.size < 2; i++) {
    if (i > 50) throw new Error(`only saw ${[...seen.keys()]} after 50 requests`);
    const [a, b] = await Promise.all([call(server, BigInt(i)), call(server, BigInt(-i))]);
    for (const r of [a, b]) {
      expect(r.status, r.error).toBe(200);
      seen.set(r.instance!, r.pid!);
    }
  }
  return seen;
}

describe("a stub that dies mid-request", () => {
  let server: RunningServer;

  for (const [action, reason] of [["sigkill", "killed by SIGKILL"], ["exit", "exited with code 1"]] as const) {
    it(`${action}: the request fails at once naming the instance, the other instance serves, a replacement takes over`, async () => {
      server ??= await start();
      const before = await instancesOf(server);
      expect(new Set(before.values()).size).toBe(2);

      const logFrom = server.log().length;
      const crash = await call(server, 42n, { action });
      expect(crash.status, crash.error).toBe(500);
      expect(crash.ms).toBeLessThan(2000);
      const m = /model instance '(worker_0_[01])'.*Stub process '(worker_0_[01])' is not healthy \(([^)]*)\)/.exec(crash.error!);
      expect(m, crash.error).not.toBeNull();
      const victim = m![1];
      expect(m![2]).toBe(victim);
      expect(m![3]).toBe(reason);
      const survivor = victim === "worker_0_0" ? "worker_0_1" : "worker_0_0";
      await waitUntil(() => !isAlive(before.get(victim)!), 2000, `the crashed stub ${before.get(victim)} to be gone`);

      // Right away, while the replacement starts, requests are served (by the survivor, or the
      // replacement once it is up) and never by the dead process.
      for (let i = 0; i < 10; i++) {
        const r = await call(server, BigInt(1000 + i));
        expect(r.status, r.error).toBe(200);
        expect(r.value).toBe(BigInt(1000 + i));
        expect(r.pid).not.toBe(before.get(victim));
        if (r.instance === survivor) expect(r.pid).toBe(before.get(survivor));
      }

      // The log tells the story, and the replacement serves as the same instance with a new process.
      const restart = new RegExp(`worker:1:${victim}\\] stub process ${reason}; starting a replacement in \\d+ ms`);
      await logAfter(server, logFrom, restart, 5000);
      const ready = await logAfter(server, logFrom, new RegExp(`worker:1:${victim}\\] replacement stub ready \\(pid \\d+\\)`), 5000);
      const newPid = Number(/pid (\d+)/.exec(ready)![1]);
      expect(newPid).not.toBe(before.get(victim));
      const after = await instancesOf(server);
      expect(after.get(victim)).toBe(newPid);
      expect(after.get(survivor)).toBe(before.get(survivor));
      expect(stubPids(server.pid).sort()).toEqual([...after.values()].sort());
    });
  }

  it("both instances die at once: their requests fail, a queued request waits for a replacement", async () => {
    const before = await instancesOf(server);
    const logFrom = server.log().length;
    const [a, b] = await Promise.all([call(server, 1n, { action: "sigkill" }), call(server, 2n, { action: "sigkill" })]);
    for (const r of [a, b]) {
      expect(r.status).toBe(500);
      expect(r.error).toMatch(/Stub process 'worker_0_[01]' is not healthy \(killed by SIGKILL\)/);
    }
    // With no instance alive the request queues, and is served once a replacement is up.
    const r = await call(server, 3n);
    expect(r.status, r.error).toBe(200);
    expect(r.value).toBe(3n);
    expect([...before.values()]).not.toContain(r.pid);
    await logAfter(server, logFrom, /worker_0_0\] replacement stub ready[^]*worker_0_1\] replacement stub ready|worker_0_1\] replacement stub ready[^]*worker_0_0\] replacement stub ready/, 10_000);
  });

  it("a stub killed from outside while idle is replaced too", async () => {
    const before = await instancesOf(server);
    const logFrom = server.log().length;
    process.kill(before.get("worker_0_1")!, "SIGKILL");
    await logAfter(server, logFrom, /worker:1:worker_0_1\] stub process killed by SIGKILL; starting a replacement/, 3000);
    await logAfter(server, logFrom, /worker:1:worker_0_1\] replacement stub ready/, 10_000);
    const after = await instancesOf(server);
    expect(after.get("worker_0_1")).not.toBe(before.get("worker_0_1"));
    expect(after.get("worker_0_0")).toBe(before.get("worker_0_0"));
  });

  it("a stub that dies holding a 32 MiB tensor: main gives the grown memory back", async () => {
    await instancesOf(server);
    const baseline = mappedShmBytes(server.pid);
    const logFrom = server.log().length;
    const big = new BigInt64Array(4 * 1024 * 1024).map((_, i) => BigInt(i));
    const r = await inferBinary(server.url, "worker", [{ name: "INPUT0", datatype: "INT64", shape: [big.length], data: bytesOf(big) }],
      { parameters: { action: "sigkill" } });
    expect(r.status).toBe(500);
    expect(r.json.error).toMatch(/killed by SIGKILL/);
    // The dead stub's 32 MiB extra segment is unmapped at once (its control segment may wait for GC).
    expect(mappedShmBytes(server.pid)).toBeLessThan(baseline + 8 * 1024 * 1024);
    await logAfter(server, logFrom, /replacement stub ready/, 10_000);
    // And a large tensor still round-trips through the replacement or the survivor.
    const ok = await inferBinary(server.url, "worker", [{ name: "INPUT0", datatype: "INT64", shape: [big.length], data: bytesOf(big) }]);
    expect(ok.status).toBe(200);
    expect(Buffer.compare(Buffer.from(ok.outputs.get("OUTPUT0")!), Buffer.from(bytesOf(big)))).toBe(0);
    expect(segmentsOf(server.pid)).toEqual([]);
  });

  it("stops cleanly after the crashes: exit 0, every stub gone, no segments", async () => {
    const log = await stopCleanly(server);
    expect(log.match(/replacement stub ready/g)).toHaveLength(6);
  });
});

describe("a stub that hangs (stub-timeout-seconds=2)", () => {
  it("the request fails, the stub is killed and replaced, the other instance serves meanwhile", async () => {
    const server = await start(["--backend-config=python,stub-timeout-seconds=2"]);
    const before = await instancesOf(server);
    const hung = call(server, 7n, { action: "hang" });
    const hanging = await server.waitForLog(/worker:1:(worker_0_[01])\] worker worker_0_[01]: hanging/, 5000);
    const victim = /\] worker (worker_0_[01]): hanging/.exec(hanging)![1];
    const survivor = victim === "worker_0_0" ? "worker_0_1" : "worker_0_0";

    // While it hangs, the other instance answers every request.
    for (let i = 0; i < 5; i++) {
      const r = await call(server, BigInt(i));
      expect(r.status, r.error).toBe(200);
      expect(r.instance).toBe(survivor);
    }

    const r = await hung;
    expect(r.status).toBe(500);
    expect(r.error).toContain(`model instance '${victim}'`);
    expect(r.error).toMatch(/stopped answering heartbeats/);
    // Found out by the heartbeat: 2 s after the last pong (which came up to a 1 s beat before the
    // request), within a beat or two more.
    expect(r.ms).toBeGreaterThanOrEqual(900);
    expect(r.ms).toBeLessThan(6000);
    expect(server.log()).toMatch(new RegExp(`worker:1:${victim}\\] stub '${victim}' missed heartbeats for 2000 ms: killing it`));
    expect(isAlive(before.get(victim)!)).toBe(false);

    await server.waitForLog(new RegExp(`worker:1:${victim}\\] replacement stub ready`), 10_000);
    const after = await instancesOf(server);
    expect(after.get(victim)).not.toBe(before.get(victim));
    expect(after.get(survivor)).toBe(before.get(survivor));
    await stopCleanly(server);
  });
});

describe("the server is SIGKILLed", () => {
  /** Kills the server and checks that it took every child with it and left no segments. */
  async function killAndCheck(server: RunningServer, children: number[]): Promise<void> {
    server.proc.kill("SIGKILL");
    await server.stop(); // resolves once it exited
    await waitUntil(() => children.every((p) => !isAlive(p)), 5000,
      () => `children ${children.filter(isAlive).join(", ")} of the killed server to exit`).catch((err) => {
      for (const p of children.filter(isAlive)) process.kill(p, "SIGKILL"); // do not leak them into the next test
      throw err;
    });
    expect(segmentsOf(server.pid)).toEqual([]);
  }

  it("while idle: every stub exits within a few seconds, no segments left", async () => {
    const server = await start();
    await instancesOf(server);
    const stubs = stubPids(server.pid);
    expect(stubs).toHaveLength(2);
    await killAndCheck(server, childPids(server.pid));
  });

  it("while requests are in flight (one awaiting, one in a busy loop): the stubs exit, no segments left", async () => {
    const server = await start();
    await instancesOf(server);
    const stubs = stubPids(server.pid);
    expect(stubs).toHaveLength(2);
    const sleeping = call(server, 1n, { action: "sleep", ms: 10_000 }).catch((err: Error) => err);
    const spinning = call(server, 2n, { action: "hang" }).catch((err: Error) => err);
    await server.waitForLog(/worker_0_[01]: sleeping 10000 ms/, 5000);
    await server.waitForLog(/worker_0_[01]: hanging/, 5000);
    await killAndCheck(server, childPids(server.pid));
    // The clients see the connection go, not a hang.
    expect(await sleeping).toBeInstanceOf(Error);
    expect(await spinning).toBeInstanceOf(Error);
  });
});
