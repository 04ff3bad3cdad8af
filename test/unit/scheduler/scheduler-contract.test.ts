/**
 * The Scheduler contract, for every implementation: enqueue resolves with the outputs and
 * rejects every failure with a ServerError (one way each), and close() is idempotent: every caller's promise settles once nothing is
 * queued or executing, and requests after it are refused with Triton's unloading text.
 */
import { describe, expect, it } from "vitest";
import type { InstanceResult } from "../../../src/backends/backend.js";
import type { ModelConfig } from "../../../src/config/schema.js";
import type { CoreRequest, CoreResponse } from "../../../src/core/types.js";
import { ServerError } from "../../../src/errors/index.js";
import { createScheduler } from "../../../src/scheduler/index.js";
import { DirectScheduler } from "../../../src/scheduler/direct.js";
import { DynamicBatcher } from "../../../src/scheduler/dynamic-batcher.js";
import { EnsembleScheduler } from "../../../src/scheduler/ensemble.js";
import type { Scheduler } from "../../../src/scheduler/scheduler.js";
import { FakeInstance } from "./fake-instance.js";
import { batching } from "./configs.js";

const req = (id: string, parameters: Record<string, number> = {}, signal?: AbortSignal): CoreRequest => ({
  model: "m", id, parameters, signal,
  inputs: [{ name: "X", datatype: "FP32", shape: [1, 2], data: new Uint8Array(8) }],
});
const tick = () => new Promise((r) => setImmediate(r));

/** The outcome as a result: the outputs, or `{ error }` with what it rejected with. */
const outcome = (p: Promise<InstanceResult>): Promise<InstanceResult> => p.then((r) => r, (error: ServerError) => ({ error }));
/** A failure's code, or a marker when it was not a ServerError (which it must always be). */
const code = (r: InstanceResult) => (r.error === undefined ? "ok" : r.error instanceof ServerError ? r.error.code : "not a ServerError");
/** True when `p` settled within a few turns of the event loop. */
async function settles(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true), () => (done = true));
  for (let i = 0; i < 5 && !done; i++) await tick();
  return done;
}

const makers: [string, () => Scheduler][] = [
  ["direct", () => new DirectScheduler("m")],
  ["dynamic batcher", () => new DynamicBatcher(batching({}))],
];

describe.each(makers)("%s: close()", (_name, make) => {
  it("with nothing pending resolves at once, and again for a second caller", async () => {
    const s = make();
    expect(await settles(s.close())).toBe(true);
    expect(await settles(s.close())).toBe(true);
  });

  it("two concurrent callers both settle once the executing and queued requests end", async () => {
    const s = make();
    const a = new FakeInstance("a");
    s.setInstances([a]);
    const running = [s.enqueue(req("1")), s.enqueue(req("2")), s.enqueue(req("3"))];
    await tick();
    const first = s.close();
    const second = s.close();
    expect(await settles(first)).toBe(false);
    expect(await settles(second)).toBe(false);
    await expect(s.enqueue(req("late"))).rejects.toMatchObject({ code: "UNAVAILABLE", message: "model 'm' is unloading" });
    while (a.calls.length > 0 || s.pending > 0) {
      a.calls[0]?.finish();
      await tick();
    }
    expect(await settles(first)).toBe(true);
    expect(await settles(second)).toBe(true);
    expect(await settles(s.close())).toBe(true); // a third, after the end
    for (const r of await Promise.all(running)) expect(r.error).toBeUndefined();
  });

  it("settles when failQueued empties a queue no instance could serve", async () => {
    const s = make();
    const queued = outcome(s.enqueue(req("1")));
    const closing = [s.close(), s.close()];
    expect(await settles(Promise.all(closing))).toBe(false);
    s.failQueued(new Error("no instance"));
    expect(await settles(Promise.all(closing))).toBe(true);
    expect((await queued).error).toMatchObject({ message: "no instance" });
  });
});

describe("enqueue: every failure rejects, with a ServerError", () => {
  it("direct: refused, cancelled on arrival and while queued, failQueued, a failed call", async () => {
    const s = new DirectScheduler("m");
    const gone = new AbortController();
    gone.abort();
    const atOnce = outcome(s.enqueue(req("a", {}, gone.signal)));
    const ac = new AbortController();
    const whileQueued = outcome(s.enqueue(req("q", {}, ac.signal)));
    ac.abort();
    const failed = outcome(s.enqueue(req("f")));
    s.failQueued(new Error("no instance"));
    const inst = new FakeInstance("i");
    s.setInstances([inst]);
    const crashed = outcome(s.enqueue(req("c")));
    await tick();
    inst.calls[0].fail("not even an Error" as unknown as Error);
    await s.close();
    const refused = outcome(s.enqueue(req("r")));
    const results = await Promise.all([atOnce, whileQueued, failed, crashed, refused]);
    expect(results.map(code)).toEqual(["CANCELLED", "CANCELLED", "INTERNAL", "INTERNAL", "UNAVAILABLE"]);
    expect(s.pending).toBe(0);
  });

  it("dynamic batcher: queue full, queue timeout, cancelled, a failed call, refused; in order with preserve_ordering", async () => {
    const b = new DynamicBatcher(batching({
      preserve_ordering: true, default_queue_policy: { max_queue_size: 2, default_timeout_microseconds: 20_000 },
    }));
    const ac = new AbortController();
    const cancelledOne = outcome(b.enqueue(req("x", {}, ac.signal)));
    const timedOut = outcome(b.enqueue(req("t")));
    const full = outcome(b.enqueue(req("full")));
    ac.abort();
    const results: unknown[] = [await full, await cancelledOne, await timedOut];
    const inst = new FakeInstance("i");
    b.setInstances([inst]);
    const crashed = outcome(b.enqueue(req("c")));
    await tick();
    inst.calls[0].fail(new Error("stub died"));
    results.push(await crashed);
    await b.close();
    results.push(await outcome(b.enqueue(req("r"))));
    expect((results as InstanceResult[]).map(code)).toEqual(["UNAVAILABLE", "CANCELLED", "UNAVAILABLE", "INTERNAL", "UNAVAILABLE"]);
    expect(results.map((r) => (r as InstanceResult).error?.message)).toEqual([
      "Exceeds maximum queue size", "request for model 'm' was cancelled", "Request timeout expired", "stub died", "model 'm' is unloading",
    ]);
  });

  it("ensemble: a failing step, and after close, reject", async () => {
    const config = {
      name: "ens", platform: "ensemble", output: [{ name: "Y" }],
      ensemble_scheduling: { step: [{ model_name: "inner", model_version: -1, input_map: { IN: "X" }, output_map: { OUT: "Y" } }] },
    } as unknown as ModelConfig;
    let release: () => void = () => {};
    const infer = (): Promise<CoreResponse> => new Promise((_, reject) => (release = () => reject(new Error("inner broke"))));
    const s = createScheduler(config, { name: "ens", composingInfer: infer });
    expect(s).toBeInstanceOf(EnsembleScheduler);
    const running = outcome(s.enqueue(req("1")));
    await tick();
    const closing = [s.close(), s.close()];
    expect(await settles(Promise.all(closing))).toBe(false);
    expect((await outcome(s.enqueue(req("2")))).error?.message).toBe("model 'ens' is unloading");
    release();
    expect((await running).error?.message).toBe("in ensemble 'ens', inner broke");
    expect(await settles(Promise.all(closing))).toBe(true);
  });
});

describe("createScheduler", () => {
  it("maps a config to its policy", () => {
    expect(createScheduler(batching({}), { name: "m" })).toBeInstanceOf(DynamicBatcher);
    const plain = { ...batching({}), dynamic_batching: undefined } as ModelConfig;
    expect(createScheduler(plain, { name: "m" })).toBeInstanceOf(DirectScheduler);
    expect(() => createScheduler({ ...plain, platform: "ensemble" } as ModelConfig, { name: "e" })).toThrow(/inference path/);
  });
});
