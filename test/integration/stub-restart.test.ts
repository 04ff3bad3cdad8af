/**
 * A model whose only instance keeps dying: readiness is false while it has no live instance,
 * queued requests fail after a short grace with UNAVAILABLE naming the model (instead of waiting
 * out the back-off), and the model serves again once a replacement is up. A stub that reports a
 * broken channel is declared broken: its request fails with INTERNAL naming the instance, and it
 * is replaced.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { FIXTURES, inferBinary, startServer, type RunningServer } from "./harness.js";
import { bytesOf, segmentsOf, stopCleanly, waitUntil } from "./stub-helpers.js";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer(join(FIXTURES, "restart-repo"));
}, 60_000);
afterAll(async () => {
  await stopCleanly(server);
  expect(segmentsOf(server.pid)).toEqual([]);
}, 60_000);

const call = (parameters: Record<string, unknown> = {}) =>
  inferBinary(server.url, "solo", [{ name: "INPUT0", datatype: "INT64", shape: [1], data: bytesOf(BigInt64Array.of(5n)) }], { parameters });
const ready = async () => (await fetch(`${server.url}/v2/models/solo/ready`)).status;
const replacements = () => server.log().match(/replacement stub ready/g)?.length ?? 0;

describe("a model with no live instance", () => {
  it("is not ready while its instance restarts, fails queued requests after a grace, then serves again", async () => {
    expect(await ready()).toBe(200);
    // Consecutive deaths grow the back-off: 100, 200, 400, 800 ms, then 1.6 s.
    for (let i = 1; i <= 4; i++) {
      const r = await call({ action: "sigkill" });
      expect(r.status).toBe(500);
      await waitUntil(() => replacements() >= i || undefined, 10_000, () => `replacement ${i}`);
    }
    const before = replacements();
    expect((await call({ action: "sigkill" })).status).toBe(500);
    expect(await ready()).toBe(400);
    // --strict-readiness (Triton's default): the server is not ready while a model cannot serve.
    expect((await fetch(`${server.url}/v2/health/ready`)).status).toBe(400);
    const t0 = Date.now();
    const queued = await call();
    const waited = Date.now() - t0;
    expect(queued.status).toBe(503);
    expect(queued.json.error).toMatch(/model 'solo' version 1 has no live instance: its instances are restarting/);
    expect(waited).toBeLessThan(1500);
    await waitUntil(() => replacements() > before || undefined, 10_000, () => "the last replacement");
    expect(await ready()).toBe(200);
    expect((await fetch(`${server.url}/v2/health/ready`)).status).toBe(200);
    const ok = await call();
    expect(ok.status, ok.json?.error).toBe(200);
  }, 60_000);

  it("a stub that says its channel broke: the request fails naming the instance, and it is replaced", async () => {
    const before = replacements();
    const r = await call({ action: "break_channel" });
    expect(r.status).toBe(500);
    expect(r.json.error).toMatch(/model instance 'solo_0_0'.*broken: the stub could not read its message: corrupt on purpose/);
    await waitUntil(() => replacements() > before || undefined, 20_000, () => "a replacement");
    const ok = await call();
    expect(ok.status, ok.json?.error).toBe(200);
  }, 60_000);
});
