/**
 * Random sequences of enqueues, cancellations, queue timeouts, calls finishing or failing,
 * instances dying and coming back, and failQueued: every request ends exactly once, with the
 * outcome its history allows, and the batcher ends empty. Time is faked, so a failing case
 * shrinks and replays exactly.
 */
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { validateModelConfig } from "../../../src/config/schema.js";
import type { CoreRequest } from "../../../src/core/types.js";
import { ServerError } from "../../../src/errors/index.js";
import { DynamicBatcher } from "../../../src/scheduler/dynamic-batcher.js";
import { FakeInstance } from "./fake-instance.js";

/** Records when (at which step) each call reached it. */
class RecordingInstance extends FakeInstance {
  constructor(name: string, readonly log: { step: number; ids: string[]; rows: number; keys: Set<string> }[], readonly now: () => number) {
    super(name);
  }
  override execute(requests: CoreRequest[]) {
    this.log.push({
      step: this.now(), ids: requests.map((r) => r.id),
      rows: requests.reduce((n, r) => n + r.inputs[0].shape[0], 0),
      keys: new Set(requests.map((r) => r.inputs[0].shape.slice(1).join("x"))),
    });
    return super.execute(requests);
  }
}

const settingsArb = fc.record({
  maxBatch: fc.integer({ min: 1, max: 4 }),
  preferred: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  delayUs: fc.constantFrom(0, 2_000, 10_000),
  levels: fc.integer({ min: 1, max: 3 }),
  timeoutUs: fc.constantFrom(0, 3_000, 15_000),
  action: fc.constantFrom("REJECT", "DELAY"),
  override: fc.boolean(),
  maxQueue: fc.constantFrom(0, 3, 8),
  preserve: fc.boolean(),
  ragged: fc.boolean(),
  instances: fc.integer({ min: 1, max: 3 }),
});

const opArb = fc.oneof(
  { weight: 6, arbitrary: fc.record({
    kind: fc.constant("enqueue" as const), rows: fc.integer({ min: 1, max: 2 }), width: fc.constantFrom(2, 3),
    priority: fc.integer({ min: 0, max: 4 }), timeout: fc.constantFrom(0, 1_000, 50_000), signal: fc.boolean(),
  }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("finish" as const), inst: fc.nat(), fail: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 12 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("toggle" as const), inst: fc.nat(), fast: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: "failQueued" as const }) },
);

type Outcome = { ok: true; id: string } | { ok: false; code: string; message: string };

describe("DynamicBatcher (property)", () => {
  afterEach(() => vi.useRealTimers());

  it("random enqueue/cancel/timeout/finish sequences end every request exactly once", async () => {
    await fc.assert(fc.asyncProperty(settingsArb, fc.array(opArb, { maxLength: 80, size: "max" }), async (s, ops) => {
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
      const flush = async () => {
        for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r)); // setImmediate is real
      };
      const cfg = validateModelConfig({
        name: "m", backend: "python", max_batch_size: s.maxBatch,
        input: [{ name: "X", data_type: "TYPE_FP32", dims: [-1], allow_ragged_batch: s.ragged }],
        output: [{ name: "Y", data_type: "TYPE_FP32", dims: [-1] }],
        dynamic_batching: {
          ...(s.preferred ? { preferred_batch_size: [Math.min(s.preferred, s.maxBatch)] } : {}),
          max_queue_delay_microseconds: s.delayUs, preserve_ordering: s.preserve,
          priority_levels: s.preserve ? 1 : s.levels, default_priority_level: s.preserve ? 1 : s.levels, // Triton: one level with preserve_ordering
          default_queue_policy: {
            default_timeout_microseconds: s.timeoutUs, timeout_action: s.preserve ? "REJECT" : s.action,
            allow_timeout_override: s.override, max_queue_size: s.maxQueue,
          },
        },
      }, { modelName: "m" });
      const b = new DynamicBatcher(cfg);
      let step = 0;
      const calls: { step: number; ids: string[]; rows: number; keys: Set<string> }[] = [];
      const insts = Array.from({ length: s.instances }, (_, i) => new RecordingInstance(`i${i}`, calls, () => step));
      b.setInstances(insts);

      const reqs: { id: string; ctl?: AbortController; cancelledAt?: number; settled: number; outcome?: Outcome; sequenced: boolean }[] = [];
      const settleOrder: string[] = [];
      const failedCalls = new Set<string>();
      for (const op of ops) {
        step++;
        if (op.kind === "enqueue") {
          const id = `r${reqs.length}`;
          const rows = Math.min(op.rows, s.maxBatch); // validation refuses more rows than max_batch_size
          const ctl = op.signal ? new AbortController() : undefined;
          const entry: (typeof reqs)[number] = { id, ctl, settled: 0, sequenced: false };
          reqs.push(entry);
          const parameters: Record<string, number> = { priority: op.priority };
          if (op.timeout) parameters.timeout = op.timeout;
          const pendingBefore = b.pending;
          b.enqueue({
            model: "m", id, parameters, signal: ctl?.signal,
            inputs: [{ name: "X", datatype: "FP32", shape: [rows, op.width], data: new Uint8Array(rows * op.width * 4) }],
          }).then(
            (r) => { entry.settled++; entry.outcome = { ok: true, id: String((r as unknown as { parameters: { id: string } }).parameters.id) }; settleOrder.push(id); },
            (e) => { entry.settled++; entry.outcome = { ok: false, code: e.code, message: e.message }; settleOrder.push(id); },
          );
          entry.sequenced = b.pending > pendingBefore; // accepted (not refused as over max_queue_size)
        } else if (op.kind === "cancel") {
          const open = reqs.filter((r) => r.ctl && !r.ctl.signal.aborted);
          if (open.length > 0) {
            const r = open[op.pick % open.length];
            r.cancelledAt = step;
            r.ctl!.abort();
          }
        } else if (op.kind === "finish") {
          const inst = insts[op.inst % insts.length];
          const call = inst.calls[0];
          if (call) {
            if (op.fail) {
              call.ids.forEach((id) => failedCalls.add(id));
              call.fail(new Error("stub died"));
            } else call.finish();
          }
        } else if (op.kind === "advance") {
          vi.advanceTimersByTime(op.ms);
        } else if (op.kind === "toggle") {
          const inst = insts[op.inst % insts.length];
          inst.state = inst.state === "dead" ? "ready" : "dead";
          inst.recentExecNs = op.fast ? 100_000 : undefined;
          b.setInstances(insts);
        } else {
          b.failQueued(new ServerError("UNAVAILABLE", "no instance")); // as StubModel reports a failed restart
        }
        await flush();
      }

      // Wind down: every instance live, every call answered, every delay and timeout passed.
      step++;
      for (const inst of insts) inst.state = "ready";
      b.setInstances(insts);
      for (let round = 0; round < 500 && b.pending > 0; round++) {
        for (const inst of insts) while (inst.calls.length > 0) inst.calls[0].finish();
        await flush();
        vi.advanceTimersByTime(20);
        await flush();
      }
      await flush();

      expect(b.pending).toBe(0);
      expect(b.queued).toBe(0);
      const dispatched = new Map<string, number>();
      for (const c of calls) {
        expect(c.rows).toBeLessThanOrEqual(s.maxBatch);
        if (!s.ragged) expect(c.keys.size).toBe(1);
        for (const id of c.ids) {
          expect(dispatched.has(id)).toBe(false); // never in two calls
          dispatched.set(id, c.step);
        }
      }
      for (const r of reqs) {
        expect(r.settled, r.id).toBe(1);
        const sentAt = dispatched.get(r.id);
        if (sentAt !== undefined) {
          // Sent to an instance: its answer is the call's, and it was not cancelled while queued.
          if (r.cancelledAt !== undefined) expect(sentAt).toBeLessThanOrEqual(r.cancelledAt);
          expect(r.outcome).toEqual(failedCalls.has(r.id) ? { ok: false, code: "INTERNAL", message: "stub died" } : { ok: true, id: r.id });
        } else {
          expect(r.outcome!.ok, r.id).toBe(false);
          const o = r.outcome as { code: string; message: string };
          expect(["CANCELLED", "UNAVAILABLE", undefined]).toContain(o.code);
          if (o.code === "CANCELLED") expect(r.cancelledAt).toBeDefined();
          if (o.message === "Request timeout expired") expect(s.action === "REJECT" || s.preserve).toBe(true);
        }
      }
      if (s.preserve) {
        // Answers come back in request order (a request refused at once has no place in it).
        const sequenced = reqs.filter((r) => r.sequenced).map((r) => r.id);
        const order = settleOrder.filter((id) => sequenced.includes(id));
        expect(order).toEqual(sequenced);
      }
      vi.useRealTimers();
    }), { numRuns: 150 });
  });
});
