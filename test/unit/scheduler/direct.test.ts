import { describe, expect, it } from "vitest";
import { DirectScheduler } from "../../../src/scheduler/direct.js";
import type { CoreRequest } from "../../../src/core/types.js";
import { FakeInstance } from "./fake-instance.js";

const req = (id: string, signal?: AbortSignal): CoreRequest => ({ model: "m", id, inputs: [], parameters: {}, signal });
const tick = () => new Promise((r) => setImmediate(r));

describe("DirectScheduler", () => {
  it("sends one request per call, in arrival order, to the least busy instance, at most two deep", async () => {
    const s = new DirectScheduler("m");
    const a = new FakeInstance("a"), b = new FakeInstance("b");
    s.setInstances([a, b]);
    const results = ["1", "2", "3", "4", "5"].map((id) => s.enqueue(req(id)));
    await tick();
    expect(a.calls.map((c) => c.ids)).toEqual([["1"], ["3"]]);
    expect(b.calls.map((c) => c.ids)).toEqual([["2"], ["4"]]);
    expect(s.pending).toBe(5);
    b.calls[0].finish();
    await tick();
    expect(b.calls.map((c) => c.ids)).toEqual([["4"], ["5"]]);
    a.calls[0].finish(); a.calls[0].finish(); b.calls[0].finish(); b.calls[0].finish();
    const done = await Promise.all(results);
    expect(done.map((r) => (r as unknown as { parameters: { id: string } }).parameters.id)).toEqual(["1", "2", "3", "4", "5"]);
    expect(s.pending).toBe(0);
  });

  it("holds up to eight calls in an instance whose handler proved fast, two in a slow one", async () => {
    const s = new DirectScheduler("m");
    const fast = new FakeInstance("fast");
    s.setInstances([fast]);
    const first = Array.from({ length: 12 }, (_, i) => s.enqueue(req(`f${i}`)));
    await tick();
    expect(fast.calls).toHaveLength(2); // nothing measured yet: shallow
    fast.recentExecNs = 200_000;
    fast.calls[0].finish();
    await tick();
    expect(fast.calls).toHaveLength(8);
    expect(s.queued).toBe(3);
    fast.recentExecNs = 5_000_000; // turned slow: refills only below two
    while (fast.calls.length > 0) {
      fast.calls[0].finish();
      await tick();
      expect(fast.calls.length).toBeLessThanOrEqual(7);
    }
    await Promise.all(first);
    const after = [s.enqueue(req("s1")), s.enqueue(req("s2")), s.enqueue(req("s3"))];
    await tick();
    expect(fast.calls).toHaveLength(2);
    while (fast.calls.length > 0) {
      fast.calls[0].finish();
      await tick();
    }
    await Promise.all(after);
  });

  it("skips dead instances and waits for a live one", async () => {
    const s = new DirectScheduler("m");
    const a = new FakeInstance("a");
    a.state = "dead";
    s.setInstances([a]);
    const r = s.enqueue(req("x"));
    await tick();
    expect(a.calls).toHaveLength(0);
    const b = new FakeInstance("b");
    s.setInstances([a, b]);
    await tick();
    b.calls[0].finish();
    expect(((await r) as unknown as { parameters: { by: string } }).parameters.by).toBe("b");
  });

  it("removes a request cancelled while queued, and it never reaches an instance", async () => {
    const s = new DirectScheduler("m");
    const a = new FakeInstance("a");
    s.setInstances([a]);
    // The instance holds up to 2 calls; the third request waits in the scheduler's queue.
    const busy = Array.from({ length: 2 }, (_, i) => s.enqueue(req(`b${i}`)));
    const ac = new AbortController();
    const queued = s.enqueue(req("q", ac.signal));
    await tick();
    expect(a.calls).toHaveLength(2);
    ac.abort();
    await expect(queued).rejects.toMatchObject({ code: "CANCELLED" });
    while (a.calls.length > 0) a.calls[0].finish();
    await Promise.all(busy);
    await tick();
    expect(a.calls).toHaveLength(0);
    expect(s.pending).toBe(0);
  });

  it("fails queued requests when no instance can take them, and rejects a failed call", async () => {
    const s = new DirectScheduler("m");
    const queued = s.enqueue(req("q"));
    s.failQueued(new Error("no instance"));
    await expect(queued).rejects.toThrow("no instance");
    const a = new FakeInstance("a");
    s.setInstances([a]);
    const r = s.enqueue(req("x"));
    await tick();
    a.calls[0].fail(new Error("stub died"));
    await expect(r).rejects.toMatchObject({ code: "INTERNAL", message: "stub died" });
  });

  it("drains: waits for what it holds, then refuses new requests", async () => {
    const s = new DirectScheduler("m");
    const a = new FakeInstance("a");
    s.setInstances([a]);
    const r = s.enqueue(req("1"));
    await tick();
    let drained = false;
    const d = s.close().then(() => (drained = true));
    await expect(s.enqueue(req("2"))).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await tick();
    expect(drained).toBe(false);
    a.calls[0].finish();
    await r;
    await d;
    expect(drained).toBe(true);
  });
});
