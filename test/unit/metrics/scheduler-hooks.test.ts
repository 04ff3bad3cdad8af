/**
 * The schedulers' statistics hooks: the timestamps they leave on a counted request, the
 * REJECTED mark of their queue policy, and `queued` (nv_inference_pending_request_count).
 */
import { describe, expect, it } from "vitest";
import type { RequestTimes } from "../../../src/core/statistics.js";
import type { CoreRequest } from "../../../src/core/types.js";
import { DirectScheduler } from "../../../src/scheduler/direct.js";
import { DynamicBatcher } from "../../../src/scheduler/dynamic-batcher.js";
import { FakeInstance } from "../scheduler/fake-instance.js";
import { batching } from "../scheduler/configs.js";

const counted = (id: string, parameters: Record<string, number> = {}): CoreRequest & { times: RequestTimes } => ({
  model: "m", id, parameters, times: { startNs: performance.now() * 1e6 },
  inputs: [{ name: "X", datatype: "FP32", shape: [1, 2], data: new Uint8Array(8) }],
});
const tick = () => new Promise((r) => setImmediate(r));

describe("DirectScheduler hooks", () => {
  it("stamps enqueue and dispatch, and counts only the requests not yet dispatched as queued", async () => {
    const s = new DirectScheduler("m");
    const a = new FakeInstance("a");
    const reqs = ["1", "2", "3", "4"].map((id) => counted(id));
    const done = reqs.map((r) => s.enqueue(r));
    expect(s.queued).toBe(4);
    s.setInstances([a]);
    // Two calls go to the instance (its pipeline), two wait.
    expect(s.queued).toBe(2);
    expect(s.pending).toBe(4);
    expect(reqs.map((r) => r.times.dispatchedNs !== undefined)).toEqual([true, true, false, false]);
    expect(reqs[0].times.dispatchedNs!).toBeGreaterThanOrEqual(reqs[0].times.enqueuedNs!);
    while (a.calls.length > 0) {
      a.calls[0].finish();
      await tick();
    }
    await Promise.all(done);
    expect(s.queued).toBe(0);
    expect(reqs.every((r) => r.times.dispatchedNs! >= r.times.enqueuedNs! && !r.times.rejected)).toBe(true);
  });
});

describe("DynamicBatcher hooks", () => {
  it("marks a request refused by a full queue as rejected, and stamps a batch's requests at dispatch", async () => {
    const b = new DynamicBatcher(batching({ default_queue_policy: { max_queue_size: 2 } }));
    const [r1, r2, r3] = ["1", "2", "3"].map((id) => counted(id));
    const p1 = b.enqueue(r1);
    const p2 = b.enqueue(r2);
    await expect(b.enqueue(r3)).rejects.toThrow(/Exceeds maximum queue size/);
    expect(r3.times.rejected).toBe(true);
    expect(r1.times.rejected).toBeUndefined();
    expect(b.queued).toBe(2);
    const a = new FakeInstance("a");
    b.setInstances([a]);
    await tick();
    expect(a.calls.map((c) => c.ids)).toEqual([["1", "2"]]);
    expect(b.queued).toBe(0);
    expect(b.pending).toBe(2);
    // One call: both stamped at its dispatch, not when they were queued.
    for (const r of [r1, r2]) expect(r.times.dispatchedNs! - r.times.enqueuedNs!).toBeGreaterThan(0);
    expect(Math.abs(r1.times.dispatchedNs! - r2.times.dispatchedNs!)).toBeLessThan(1e6);
    a.calls[0].finish();
    await Promise.all([p1, p2]);
  });

  it("marks a request whose queue timeout expired as rejected", async () => {
    const b = new DynamicBatcher(batching({ default_queue_policy: { default_timeout_microseconds: 10_000 } }));
    const r = counted("late");
    await expect(b.enqueue(r)).rejects.toThrow(/Request timeout expired/);
    expect(r.times.rejected).toBe(true);
    expect(r.times.dispatchedNs).toBeUndefined();
    expect(b.queued).toBe(0);
  });
});
