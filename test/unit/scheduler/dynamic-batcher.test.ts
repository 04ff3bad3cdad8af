import { describe, expect, it, vi } from "vitest";
import { validateModelConfig } from "../../../src/config/schema.js";
import { DynamicBatcher } from "../../../src/scheduler/dynamic-batcher.js";
import type { CoreRequest } from "../../../src/core/types.js";
import { FakeInstance } from "./fake-instance.js";

const config = (dynamic: Record<string, unknown>, maxBatch = 8, ragged = false) => validateModelConfig({
  name: "m", backend: "python", max_batch_size: maxBatch,
  input: [{ name: "X", data_type: "TYPE_FP32", dims: [-1], allow_ragged_batch: ragged }],
  output: [{ name: "Y", data_type: "TYPE_FP32", dims: [-1] }],
  dynamic_batching: dynamic,
}, { modelName: "m" });

const req = (id: string, rows = 1, width = 2, parameters: Record<string, number> = {}, signal?: AbortSignal): CoreRequest => ({
  model: "m", id, parameters, signal,
  inputs: [{ name: "X", datatype: "FP32", shape: [rows, width], data: new Uint8Array(rows * width * 4) }],
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tick = () => new Promise((r) => setImmediate(r));

describe("DynamicBatcher", () => {
  it("joins queued requests into one call up to max_batch_size rows", async () => {
    const b = new DynamicBatcher(config({}, 4));
    const a = new FakeInstance("a");
    const results = ["1", "2", "3", "4", "5"].map((id) => b.enqueue(req(id)));
    b.setInstances([a]);
    await tick();
    expect(a.calls.map((c) => c.ids)).toEqual([["1", "2", "3", "4"]]);
    a.calls[0].finish();
    await tick();
    expect(a.calls.map((c) => c.ids)).toEqual([["5"]]);
    a.calls[0].finish();
    expect((await Promise.all(results)).length).toBe(5);
    expect(b.pending).toBe(0);
  });

  it("waits up to max_queue_delay for a preferred size, and goes at once when reached", async () => {
    const b = new DynamicBatcher(config({ preferred_batch_size: [4], max_queue_delay_microseconds: 200_000 }));
    const a = new FakeInstance("a");
    b.setInstances([a]);
    b.enqueue(req("1"));
    b.enqueue(req("2"));
    await sleep(20);
    expect(a.calls).toHaveLength(0); // 2 < 4 and the delay has not passed
    b.enqueue(req("3"));
    b.enqueue(req("4"));
    await tick();
    expect(a.calls.map((c) => c.ids)).toEqual([["1", "2", "3", "4"]]);
    a.calls[0].finish();
    b.enqueue(req("5"));
    await sleep(20);
    expect(a.calls).toHaveLength(0);
    await sleep(250);
    expect(a.calls.map((c) => c.ids)).toEqual([["5"]]); // the delay expired: sent as it is
  });

  it("never joins requests whose shapes differ, unless inputs allow ragged batches", async () => {
    const b = new DynamicBatcher(config({}));
    const a = new FakeInstance("a");
    b.enqueue(req("w2", 1, 2));
    b.enqueue(req("w3", 1, 3));
    b.enqueue(req("w2b", 2, 2));
    b.setInstances([a]);
    await tick();
    expect(a.calls.map((c) => c.ids)).toEqual([["w2"]]);
    const r = new DynamicBatcher(config({}, 8, true));
    const c = new FakeInstance("c");
    r.enqueue(req("w2", 1, 2));
    r.enqueue(req("w3", 1, 3));
    r.setInstances([c]);
    await tick();
    expect(c.calls.map((x) => x.ids)).toEqual([["w2", "w3"]]);
  });

  it("serves higher priority first; priority 0 or out of range takes the default level", async () => {
    const b = new DynamicBatcher(config({ priority_levels: 3, default_priority_level: 2 }, 1));
    const a = new FakeInstance("a");
    b.enqueue(req("low", 1, 2, { priority: 3 }));
    b.enqueue(req("default", 1, 2, { priority: 0 }));
    b.enqueue(req("high", 1, 2, { priority: 1 }));
    b.enqueue(req("bogus", 1, 2, { priority: 99 }));
    b.setInstances([a]);
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      await tick();
      order.push(...a.calls[0].ids);
      a.calls[0].finish();
    }
    expect(order).toEqual(["high", "default", "bogus", "low"]);
  });

  it("rejects when a level's queue is full, with Triton's text", async () => {
    const b = new DynamicBatcher(config({ default_queue_policy: { max_queue_size: 2 } }));
    b.enqueue(req("1"));
    b.enqueue(req("2"));
    await expect(b.enqueue(req("3"))).rejects.toMatchObject({ code: "UNAVAILABLE", message: "Exceeds maximum queue size" });
  });

  it("times out queued requests: REJECT fails them, DELAY serves them after the rest", async () => {
    const reject = new DynamicBatcher(config({ default_queue_policy: { default_timeout_microseconds: 30_000 } }));
    const r = reject.enqueue(req("late"));
    await expect(r).rejects.toMatchObject({ code: "UNAVAILABLE", message: "Request timeout expired" });
    expect(reject.pending).toBe(0);

    // A request may shorten the timeout only where the policy allows it.
    const override = new DynamicBatcher(config({ default_queue_policy: { default_timeout_microseconds: 10_000_000, allow_timeout_override: true } }));
    await expect(override.enqueue(req("short", 1, 2, { timeout: 20_000 }))).rejects.toMatchObject({ message: "Request timeout expired" });

    const delay = new DynamicBatcher(config({ default_queue_policy: { default_timeout_microseconds: 20_000, timeout_action: "DELAY" } }, 1));
    const a = new FakeInstance("a");
    delay.enqueue(req("old"));
    await sleep(50);
    delay.enqueue(req("fresh"));
    delay.setInstances([a]);
    await tick();
    expect(a.calls[0].ids).toEqual(["fresh"]);
  });

  it("preserve_ordering: answers come back in request order across calls", async () => {
    const b = new DynamicBatcher(config({ preserve_ordering: true }, 1));
    const a = new FakeInstance("a"), c = new FakeInstance("c");
    b.setInstances([a, c]);
    const done: string[] = [];
    const p1 = b.enqueue(req("1")).then(() => done.push("1"));
    const p2 = b.enqueue(req("2")).then(() => done.push("2"));
    await tick();
    c.calls[0].finish(); // request 2 finishes first
    await tick();
    expect(done).toEqual([]);
    a.calls[0].finish();
    await Promise.all([p1, p2]);
    expect(done).toEqual(["1", "2"]);
  });

  it("a cancelled request leaves the queue", async () => {
    const b = new DynamicBatcher(config({}));
    const ac = new AbortController();
    const r = b.enqueue(req("x", 1, 2, {}, ac.signal));
    ac.abort();
    await expect(r).rejects.toMatchObject({ code: "CANCELLED" });
    expect(b.pending).toBe(0);
  });
});

describe("DynamicBatcher: instances and costs", () => {
  const idOf = (r: unknown) => (r as { parameters: { by: string } }).parameters.by;

  it("goes round robin among free instances: with fast calls, every instance runs", async () => {
    const b = new DynamicBatcher(config({}, 4));
    const a = new FakeInstance("a"), c = new FakeInstance("c");
    b.setInstances([a, c]);
    const by: string[] = [];
    for (let i = 0; i < 6; i++) {
      // Each call finishes before the next request comes: both instances are free every time.
      const r = b.enqueue(req(String(i)));
      await tick();
      const inst = a.calls.length > 0 ? a : c;
      inst.calls[0].finish();
      by.push(idOf(await r));
    }
    expect(by).toEqual(["a", "c", "a", "c", "a", "c"]);
  });

  it("prefers the least busy instance, and skips dead ones without losing the turn", async () => {
    const b = new DynamicBatcher(config({}, 1));
    const a = new FakeInstance("a"), c = new FakeInstance("c"), d = new FakeInstance("d");
    c.state = "dead";
    b.setInstances([a, c, d]);
    const r1 = b.enqueue(req("1")), r2 = b.enqueue(req("2"));
    await tick();
    expect([a.calls.length, c.calls.length, d.calls.length]).toEqual([1, 0, 1]);
    d.calls[0].finish();
    await r2;
    const r3 = b.enqueue(req("3")); // a is busy: d, the only free one, takes it
    await tick();
    expect(d.calls.map((x) => x.ids)).toEqual([["3"]]);
    a.calls[0].finish();
    d.calls[0].finish();
    await Promise.all([r1, r3]);
  });

  it("a fast instance holds one complete batch ahead; a batch that can still grow waits", async () => {
    const b = new DynamicBatcher(config({ preferred_batch_size: [2], max_queue_delay_microseconds: 100_000 }, 2));
    const a = new FakeInstance("a");
    b.setInstances([a]);
    const first = ["1", "2", "3", "4"].map((id) => b.enqueue(req(id)));
    await tick();
    expect(a.calls.map((c) => c.ids)).toEqual([["1", "2"]]); // not proven fast yet: one call
    a.recentExecNs = 100_000;
    a.calls[0].finish();
    const more = ["5", "6", "7"].map((id) => b.enqueue(req(id)));
    await tick();
    expect(a.calls.map((c) => c.ids)).toEqual([["3", "4"], ["5", "6"]]); // one ahead, never two
    expect(b.queued).toBe(1); // "7" alone could still grow: it waits here
    a.calls[0].finish();
    a.calls[0].finish();
    await sleep(120);
    expect(a.calls.map((c) => c.ids)).toEqual([["7"]]);
    a.calls[0].finish();
    await Promise.all([...first, ...more]);
    expect(b.pending).toBe(0);
  });

  it("keeps one timer for the queue delay and the queue timeouts, re-armed only when the deadline moves earlier", async () => {
    const b = new DynamicBatcher(config({
      preferred_batch_size: [8], max_queue_delay_microseconds: 50_000,
      default_queue_policy: { default_timeout_microseconds: 5_000_000, allow_timeout_override: true },
    }));
    const a = new FakeInstance("a");
    b.setInstances([a]);
    const spy = vi.spyOn(globalThis, "setTimeout");
    try {
      const rs = ["1", "2", "3", "4", "5"].map((id) => b.enqueue(req(id)));
      expect(spy).toHaveBeenCalledTimes(1); // the oldest request's delay: no timer per request
      const short = b.enqueue(req("short", 1, 2, { timeout: 10_000 }));
      expect(spy).toHaveBeenCalledTimes(2); // an earlier deadline: re-armed once
      await expect(short).rejects.toMatchObject({ message: "Request timeout expired" });
      await sleep(60);
      expect(a.calls.map((c) => c.ids)).toEqual([["1", "2", "3", "4", "5"]]);
      a.calls[0].finish();
      await Promise.all(rs);
    } finally {
      spy.mockRestore();
    }
  });

  it("a request with more rows than the largest preferred size still goes (alone), never as an empty call", async () => {
    const b = new DynamicBatcher(config({ preferred_batch_size: [1] }, 4));
    const a = new FakeInstance("a");
    b.setInstances([a]);
    const big = b.enqueue(req("big", 2));
    const small = b.enqueue(req("small", 1));
    await tick();
    expect(a.calls.map((c) => c.ids)).toEqual([["big"]]);
    a.calls[0].finish();
    await tick();
    expect(a.calls.map((c) => c.ids)).toEqual([["small"]]);
    a.calls[0].finish();
    await Promise.all([big, small]);
  });

  it("a DELAYed request keeps its place by arrival among the delayed, and can still be cancelled", async () => {
    const b = new DynamicBatcher(config({
      default_queue_policy: { default_timeout_microseconds: 40_000, timeout_action: "DELAY", allow_timeout_override: true },
    }, 1));
    const ac = new AbortController();
    const r1 = b.enqueue(req("1"));
    const r2 = b.enqueue(req("2", 1, 2, { timeout: 10_000 })); // expires first
    const r3 = b.enqueue(req("3", 1, 2, {}, ac.signal));
    await sleep(60); // all three delayed now
    const r4 = b.enqueue(req("4"));
    ac.abort();
    await expect(r3).rejects.toMatchObject({ code: "CANCELLED" });
    const a = new FakeInstance("a");
    b.setInstances([a]);
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      await tick();
      order.push(...a.calls[0].ids);
      a.calls[0].finish();
    }
    await Promise.all([r1, r2, r4]);
    expect(order).toEqual(["4", "1", "2"]);
    expect(b.pending).toBe(0);
  });
});
