/**
 * QueuedRequest: whatever ends a request first wins and every later attempt is a no-op, under
 * each race a scheduler can meet (abort vs result, crash vs result, failQueued vs queued, two
 * results); the abort listener is gone once it settled or left for an instance; executeCall
 * settles each request of a call once (resolved with its outputs or rejected with its error), and
 * itself never rejects.
 */
import { describe, expect, it } from "vitest";
import type { InstanceResult, ModelInstance } from "../../../src/backends/backend.js";
import { Cancellation } from "../../../src/core/cancellation.js";
import type { RequestTimes } from "../../../src/core/statistics.js";
import type { CoreRequest } from "../../../src/core/types.js";
import { ServerError } from "../../../src/errors/index.js";
import { QueuedRequest, executeCall } from "../../../src/scheduler/queued-request.js";
import { FakeInstance } from "./fake-instance.js";

const req = (id: string, signal?: Cancellation | AbortSignal): CoreRequest => ({ model: "m", id, inputs: [], parameters: {}, signal });
const ok = (id: string): InstanceResult => ({ outputs: [], parameters: { id }, release() {} });
const tick = () => new Promise((r) => setImmediate(r));

/** A settled promise as a result: its outputs, or `{ error }` for its rejection. */
const outcome = (p: Promise<InstanceResult>): Promise<InstanceResult> => p.then((r) => r, (error: ServerError) => ({ error }));

/** Counts how often the promise settled (it must be once) and keeps each outcome. */
function watch(q: QueuedRequest) {
  const seen: InstanceResult[] = [];
  q.result.then((r) => seen.push(r), (error: ServerError) => seen.push({ error }));
  return seen;
}

/** A signal that counts its listeners. */
class CountingSignal extends Cancellation {
  listeners = 0;
  override addEventListener(type: "abort", l: () => void): void {
    this.listeners++;
    super.addEventListener(type, l);
  }
  override removeEventListener(type: "abort", l: () => void): void {
    this.listeners--;
    super.removeEventListener(type, l);
  }
}

describe("QueuedRequest", () => {
  it("settles once: a second result, a failure or a cancel after it are no-ops", async () => {
    const q = new QueuedRequest(req("1"), "m");
    const seen = watch(q);
    expect(q.settled).toBe(false);
    expect(q.settle(ok("first"))).toBe(true);
    expect(q.settled).toBe(true);
    expect(q.settle(ok("second"))).toBe(false);
    expect(q.fail(new Error("late crash"))).toBe(false);
    expect(q.cancel()).toBe(false);
    await tick();
    expect(seen).toHaveLength(1);
    expect(seen[0].error ? "error" : seen[0].parameters.id).toBe("first");
  });

  it("abort before the result: cancelled wins, the result that comes later is dropped", async () => {
    const signal = new CountingSignal();
    const q = new QueuedRequest(req("1", signal), "m");
    const seen = watch(q);
    let left = 0;
    q.watchAbort(() => {
      left++;
      q.cancel();
    });
    expect(signal.listeners).toBe(1);
    signal.abort("client left");
    expect(q.settle(ok("late"))).toBe(false);
    await tick();
    expect(left).toBe(1);
    expect(seen).toHaveLength(1);
    expect(seen[0].error).toMatchObject({ code: "CANCELLED", message: "request for model 'm' was cancelled" });
  });

  it("result before the abort: the result wins, and its listener is gone, so the abort does nothing", async () => {
    const signal = new CountingSignal();
    const q = new QueuedRequest(req("1", signal), "m");
    const seen = watch(q);
    let aborted = 0;
    q.watchAbort(() => aborted++);
    q.settle(ok("1"));
    expect(signal.listeners).toBe(0);
    signal.abort("too late");
    await tick();
    expect(aborted).toBe(0);
    expect(seen).toHaveLength(1);
    expect(seen[0].error).toBeUndefined();
  });

  it("leaving for an instance removes the listener and stamps the dispatch", () => {
    const signal = new CountingSignal();
    const r: CoreRequest & { times: RequestTimes } = { ...req("1", signal), times: { startNs: 0 } };
    const q = new QueuedRequest(r, "m");
    q.watchAbort(() => q.cancel());
    q.watchAbort(() => q.cancel()); // a second watch while one is registered is ignored
    expect(signal.listeners).toBe(1);
    q.dispatched();
    expect(signal.listeners).toBe(0);
    expect(r.times.dispatchedNs).toBeGreaterThan(0);
    signal.abort("the instance handles it now");
    expect(q.settled).toBe(false);
  });

  it("a request cancelled on arrival ends at once, as cancelled, and registers no listener", async () => {
    const signal = new CountingSignal();
    signal.abort("gone");
    const q = new QueuedRequest(req("1", signal), "m");
    expect(q.cancelledOnArrival()).toBe(true);
    q.watchAbort(() => {
      throw new Error("must not run");
    });
    expect(signal.listeners).toBe(0);
    await expect(q.result).rejects.toMatchObject({ code: "CANCELLED" });
    expect(new QueuedRequest(req("2"), "m").cancelledOnArrival()).toBe(false);
  });

  it("failQueued vs a queued request: the failure wins as a ServerError; a crash after it is a no-op", async () => {
    const q = new QueuedRequest(req("1"), "m");
    const seen = watch(q);
    expect(q.fail(new Error("no instance"))).toBe(true);
    expect(q.fail(new ServerError("UNAVAILABLE", "second"))).toBe(false);
    await tick();
    expect(seen).toHaveLength(1);
    expect(seen[0].error).toBeInstanceOf(ServerError);
    expect(seen[0].error).toMatchObject({ code: "INTERNAL", message: "no instance" });
  });
});

describe("executeCall", () => {
  it("crash vs result: a call that fails settles each of its requests once, with the call's error", async () => {
    const inst = new FakeInstance("a");
    const qs = ["1", "2"].map((id) => new QueuedRequest(req(id), "m"));
    const seen = qs.map(watch);
    let ended = 0;
    const done = executeCall(inst, qs, () => ended++);
    expect(inst.calls.map((c) => c.ids)).toEqual([["1", "2"]]);
    qs[0].settle(ok("already")); // e.g. failQueued-like ending raced ahead for one of them
    inst.calls[0].fail(new Error("stub died"));
    await expect(done).resolves.toBeUndefined();
    await tick();
    expect(ended).toBe(1);
    expect(seen.map((s) => s.length)).toEqual([1, 1]);
    expect(seen[0][0].error).toBeUndefined();
    expect(seen[1][0].error).toMatchObject({ code: "INTERNAL", message: "stub died" });
  });

  it("each request gets its own result; a missing one becomes an error, and a throwing execute fails its requests, and executeCall itself never rejects", async () => {
    const short: ModelInstance = { name: "short", state: "ready", pending: 0, execute: async () => [ok("only")] };
    const qs = ["1", "2"].map((id) => new QueuedRequest(req(id), "m"));
    const outs = qs.map((q) => outcome(q.result));
    await executeCall(short, qs);
    expect((await outs[0]).error).toBeUndefined();
    expect((await outs[1]).error).toMatchObject({ code: "INTERNAL" });

    const throwing: ModelInstance = { name: "t", state: "ready", pending: 0, execute: () => { throw new Error("sync throw"); } };
    const q = new QueuedRequest(req("3"), "m");
    const out = outcome(q.result);
    await expect(executeCall(throwing, [q])).resolves.toBeUndefined();
    expect((await out).error).toMatchObject({ code: "INTERNAL", message: "sync throw" });
  });
});
