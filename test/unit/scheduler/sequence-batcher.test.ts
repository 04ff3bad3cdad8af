/**
 * The sequence batcher's policy against fake instances: sequence ids and Triton's texts, control
 * inputs, slots and the backlog, idle release (fake timers), the oldest strategy's batches, a dead
 * instance's sequences, and close().
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { InstanceResult, InstanceState, ModelInstance } from "../../../src/backends/backend.js";
import { validateModelConfig } from "../../../src/config/schema.js";
import type { CoreRequest } from "../../../src/core/types.js";
import { ServerError } from "../../../src/errors/index.js";
import { createScheduler } from "../../../src/scheduler/index.js";
import { SequenceBatcher } from "../../../src/scheduler/sequence-batcher.js";

/** An instance that records each call's requests and finishes it when told. */
class Recorder implements ModelInstance {
  state: InstanceState = "ready";
  readonly calls: { requests: CoreRequest[]; finish(again?: string[]): void; fail(e: Error): void }[] = [];
  readonly seen: CoreRequest[][] = [];
  constructor(readonly name: string) {}
  get pending(): number {
    return this.calls.length;
  }
  execute(requests: CoreRequest[]): Promise<InstanceResult[]> {
    this.seen.push(requests);
    return new Promise((resolve, reject) => {
      const call = {
        requests,
        finish: (again: string[] = []) => {
          this.calls.splice(this.calls.indexOf(call), 1);
          resolve(requests.map((r): InstanceResult => again.includes(r.id)
            ? { outputs: [], parameters: {}, release() {}, rescheduled: true }
            : { outputs: [], parameters: { by: this.name, id: r.id }, release() {} }));
        },
        fail: (e: Error) => {
          this.calls.splice(this.calls.indexOf(call), 1);
          reject(e);
        },
      };
      this.calls.push(call);
    });
  }
  /** Finishes every call, also those the finished ones led to, until none is left. */
  async drain(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      if (this.calls.length === 0) await tick();
      if (this.calls.length === 0) return;
      this.calls[0]!.finish();
      await tick();
    }
  }
}

const tick = () => new Promise((r) => setImmediate(r));
const config = (sequence: Record<string, unknown>, maxBatchSize = 0) => validateModelConfig({
  name: "m", backend: "python", max_batch_size: maxBatchSize,
  input: [{ name: "X", data_type: "TYPE_FP32", dims: [1] }], output: [{ name: "Y", data_type: "TYPE_FP32", dims: [1] }],
  sequence_batching: sequence,
}, { modelName: "m" });
const CONTROLS = {
  control_input: [
    { name: "START", control: [{ kind: "CONTROL_SEQUENCE_START", fp32_false_true: [0, 1] }] },
    { name: "END", control: [{ kind: "CONTROL_SEQUENCE_END", int32_false_true: [0, 1] }] },
    { name: "READY", control: [{ kind: "CONTROL_SEQUENCE_READY", bool_false_true: [false, true] }] },
    { name: "CORRID", control: [{ kind: "CONTROL_SEQUENCE_CORRID", data_type: "TYPE_UINT64" }] },
  ],
};
const req = (id: string, sequenceId: number | string | undefined, flags: { start?: boolean; end?: boolean } = {}, rows = 1): CoreRequest => ({
  model: "m", id,
  parameters: {
    ...(sequenceId === undefined ? {} : { sequence_id: sequenceId }),
    ...(flags.start ? { sequence_start: true } : {}), ...(flags.end ? { sequence_end: true } : {}),
  },
  inputs: [{ name: "X", datatype: "FP32", shape: [rows, 1], data: new Uint8Array(4 * rows) }],
});
const outcome = (p: Promise<unknown>) => p.then(() => ({ ok: true as const }), (error: ServerError) => ({ ok: false as const, error }));
const ids = (calls: CoreRequest[][]) => calls.map((c) => c.map((r) => r.id));
const input = (r: CoreRequest, name: string) => r.inputs.find((t) => t.name === name);

afterEach(() => {
  vi.useRealTimers();
});

describe("sequence ids and Triton's texts", () => {
  it("createScheduler picks the sequence batcher for sequence_batching", () => {
    expect(createScheduler(config({}), { name: "m" })).toBeInstanceOf(SequenceBatcher);
  });

  it("refuses a missing or zero id, a request without START, a wrong id type, more than one row", async () => {
    const s = new SequenceBatcher(config(CONTROLS, 4));
    s.setInstances([new Recorder("i")]);
    const results = await Promise.all([
      outcome(s.enqueue(req("a", undefined, { start: true }))),
      outcome(s.enqueue(req("b", 0, { start: true }))),
      outcome(s.enqueue(req("c", 7))),
      outcome(s.enqueue(req("d", "seven", { start: true }))),
      outcome(s.enqueue(req("", "seven", { start: true }))),
      outcome(s.enqueue(req("e", 8, { start: true }, 2))),
    ]);
    expect(results.map((r) => (r.ok ? "ok" : `${r.error.code}: ${r.error.message}`))).toEqual([
      "INVALID_ARG: inference request to model 'm' must specify a non-zero or non-empty correlation ID",
      "INVALID_ARG: inference request to model 'm' must specify a non-zero or non-empty correlation ID",
      "INVALID_ARG: inference request for sequence 7 to model 'm' must specify the START flag on the first request of the sequence",
      "INVALID_ARG: [request id: d] sequence batching control 'CORRID' data-type is 'BYTES', but model 'm' expects 'UINT64'",
      "INVALID_ARG: [request id: <id_unknown>] sequence batching control 'CORRID' data-type is 'BYTES', but model 'm' expects 'UINT64'",
      "INVALID_ARG: inference request to model 'm' must specify batch-size 1 due to requirements of sequence batcher",
    ]);
    for (const r of results) if (!r.ok) expect(r.error).toBeInstanceOf(ServerError);
  });

  it("a uint64 id where CORRID is a string is refused; strings and numbers are separate sequences without CORRID", async () => {
    const str = new SequenceBatcher(config({ control_input: [{ name: "C", control: [{ kind: "CONTROL_SEQUENCE_CORRID", data_type: "TYPE_STRING" }] }] }));
    await expect(str.enqueue(req("x", 5, { start: true }))).rejects.toMatchObject({
      code: "INVALID_ARG", message: "[request id: x] sequence batching control 'C' data-type is 'UINT64', but model 'm' expects 'BYTES'",
    });
    const s = new SequenceBatcher(config({}));
    const inst = new Recorder("i");
    s.setInstances([inst]);
    void s.enqueue(req("n", 1, { start: true, end: true }));
    await expect(s.enqueue(req("s", "1"))).rejects.toMatchObject({ message: expect.stringContaining("sequence 1 to model 'm' must specify the START flag") });
    await expect(s.enqueue(req("long", "x".repeat(129), { start: true }))).rejects.toMatchObject({
      code: "UNSUPPORTED", message: "string correlation ID cannot be longer than 128 characters",
    });
  });
});

describe("control inputs", () => {
  it("START, END, READY and CORRID with the config's values and types; [1, 1] when the model batches", async () => {
    const s = new SequenceBatcher(config(CONTROLS, 4));
    const inst = new Recorder("i");
    s.setInstances([inst]);
    const done = [s.enqueue(req("1", 42, { start: true })), s.enqueue(req("2", 42)), s.enqueue(req("3", 42, { end: true }))];
    await inst.drain();
    await Promise.all(done);
    const sent = inst.seen.flat();
    expect(sent.map((r) => r.id)).toEqual(["1", "2", "3"]);
    const f32 = (r: CoreRequest, n: string) => new Float32Array(input(r, n)!.data.slice().buffer)[0];
    const i32 = (r: CoreRequest, n: string) => new Int32Array(input(r, n)!.data.slice().buffer)[0];
    expect(sent.map((r) => [f32(r, "START"), i32(r, "END"), input(r, "READY")!.data[0]])).toEqual([[1, 0, 1], [0, 0, 1], [0, 1, 1]]);
    expect(sent.map((r) => new BigUint64Array(input(r, "CORRID")!.data.slice().buffer)[0])).toEqual([42n, 42n, 42n]);
    expect(input(sent[0]!, "START")).toMatchObject({ datatype: "FP32", shape: [1, 1] });
    expect(input(sent[0]!, "END")).toMatchObject({ datatype: "INT32", shape: [1, 1] });
    expect(input(sent[0]!, "READY")).toMatchObject({ datatype: "BOOL", shape: [1, 1] });
    expect(input(sent[0]!, "CORRID")).toMatchObject({ datatype: "UINT64", shape: [1, 1] });
    expect(sent[0]!.inputs[0]!.name).toBe("X"); // the request's own inputs first
  });

  it("a string CORRID is a BYTES element; shape [1] without batching", async () => {
    const s = new SequenceBatcher(config({ control_input: [{ name: "C", control: [{ kind: "CONTROL_SEQUENCE_CORRID", data_type: "TYPE_STRING" }] }] }));
    const inst = new Recorder("i");
    s.setInstances([inst]);
    const p = s.enqueue(req("1", "abc", { start: true, end: true }));
    await inst.drain();
    await p;
    const c = input(inst.seen[0]![0]!, "C")!;
    expect(c).toMatchObject({ datatype: "BYTES", shape: [1] });
    expect(Array.from(c.data)).toEqual([3, 0, 0, 0, 97, 98, 99]);
  });
});

describe("the direct strategy: slots, order, backlog", () => {
  it("one slot per batch row: two sequences share calls, a third waits until one ends; each in order", async () => {
    const s = new SequenceBatcher(config({}, 2));
    const inst = new Recorder("i");
    s.setInstances([inst]);
    const all = [
      s.enqueue(req("a1", 1, { start: true })), s.enqueue(req("b1", 2, { start: true })), s.enqueue(req("c1", 3, { start: true })),
      s.enqueue(req("a2", 1)), s.enqueue(req("b2", 2, { end: true })), s.enqueue(req("c2", 3, { end: true })),
      s.enqueue(req("a3", 1, { end: true })),
    ];
    await tick();
    expect(s.sequences).toBe(3);
    expect(s.queued).toBe(6); // a1 went at once, alone; c1 and c2 wait in the backlog
    await inst.drain();
    await Promise.all(all);
    // Oldest request first within a call; c gets b's slot as soon as b's END ran.
    expect(ids(inst.seen)).toEqual([["a1"], ["b1", "a2"], ["b2", "a3"], ["c1"], ["c2"]]);
    expect(s.pending).toBe(0);
    expect(s.sequences).toBe(0);
  });

  it("each sequence stays on its instance; max_batch_size 0 gives one slot each", async () => {
    const s = new SequenceBatcher(config({}));
    const i0 = new Recorder("i0");
    const i1 = new Recorder("i1");
    s.setInstances([i0, i1]);
    const all = [
      s.enqueue(req("a1", 1, { start: true })), s.enqueue(req("b1", 2, { start: true })),
      s.enqueue(req("a2", 1)), s.enqueue(req("b2", 2)), s.enqueue(req("a3", 1, { end: true })), s.enqueue(req("b3", 2, { end: true })),
    ];
    await Promise.all([i0.drain(), i1.drain()]);
    await Promise.all(all);
    const a = ids(i0.seen).flat();
    const b = ids(i1.seen).flat();
    expect([a, b].sort()).toEqual([["a1", "a2", "a3"], ["b1", "b2", "b3"]]);
  });

  it("a cancelled waiting request leaves its sequence; the rest go on", async () => {
    const s = new SequenceBatcher(config({}));
    const inst = new Recorder("i");
    s.setInstances([inst]);
    const ac = new AbortController();
    const first = s.enqueue(req("1", 9, { start: true }));
    const cancelled = outcome(s.enqueue({ ...req("2", 9), signal: ac.signal }));
    const last = s.enqueue(req("3", 9, { end: true }));
    await tick();
    ac.abort();
    await inst.drain();
    await Promise.all([first, last]);
    expect((await cancelled)).toMatchObject({ ok: false, error: { code: "CANCELLED" } });
    expect(ids(inst.seen).flat()).toEqual(["1", "3"]);
    expect(s.pending).toBe(0);
  });
});

describe("max_sequence_idle_microseconds", () => {
  it("releases an idle sequence's slot to the backlog; its next request without START is refused", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const s = new SequenceBatcher(config({ max_sequence_idle_microseconds: 50_000 }));
    const inst = new Recorder("i");
    s.setInstances([inst]);
    const a1 = s.enqueue(req("a1", 1, { start: true }));
    const b1 = s.enqueue(req("b1", 2, { start: true })); // backlog: the only slot is held by 1
    inst.calls[0]!.finish();
    await a1;
    expect(ids(inst.seen)).toEqual([["a1"]]);
    vi.advanceTimersByTime(30);
    expect(s.sequences).toBe(2); // not idle long enough yet
    vi.advanceTimersByTime(30);
    await Promise.resolve();
    expect(ids(inst.seen)).toEqual([["a1"], ["b1"]]); // the slot went to the backlogged sequence
    inst.calls[0]!.finish();
    await b1;
    await expect(s.enqueue(req("a2", 1))).rejects.toMatchObject({
      code: "INVALID_ARG", message: "inference request for sequence 1 to model 'm' must specify the START flag on the first request of the sequence",
    });
  });

  it("a request keeps its sequence alive: the idle clock starts at each arrival (default 1 s)", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const s = new SequenceBatcher(config({}));
    const inst = new Recorder("i");
    s.setInstances([inst]);
    void s.enqueue(req("a1", 1, { start: true }));
    inst.calls[0]!.finish();
    vi.advanceTimersByTime(900);
    void s.enqueue(req("a2", 1));
    vi.advanceTimersByTime(900);
    expect(s.sequences).toBe(1);
    vi.advanceTimersByTime(200);
    expect(s.sequences).toBe(1); // a2 still executing: never released under a running request
  });
});

describe("the backlog's timeout", () => {
  it("a request's timeout bounds its sequence's wait for a slot (Triton's text); in a slot it no longer counts", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const s = new SequenceBatcher(config({ max_sequence_idle_microseconds: 60_000_000 }));
    const inst = new Recorder("i");
    s.setInstances([inst]);
    const a1 = s.enqueue({ ...req("a1", 1, { start: true }), parameters: { sequence_id: 1, sequence_start: true, timeout: 1000 } });
    const b1 = outcome(s.enqueue({ ...req("b1", 2, { start: true }), parameters: { sequence_id: 2, sequence_start: true, timeout: 50_000 } }));
    const b2 = outcome(s.enqueue(req("b2", 2)));
    await vi.advanceTimersByTimeAsync(60);
    const expired = { ok: false, error: { code: "UNAVAILABLE", message: "timeout of the corresponding sequence has been expired" } };
    expect(await b1).toMatchObject(expired);
    expect(await b2).toMatchObject(expired);
    await expect(s.enqueue(req("b3", 2))).rejects.toMatchObject({ message: expect.stringContaining("must specify the START flag") });
    inst.calls[0]!.finish(); // a1 ran in its slot well past its 1 ms timeout: not expired
    await a1;
    expect(s.queued).toBe(0);
  });
});

describe("the oldest strategy", () => {
  const oldest = (o: Record<string, unknown>) => config({ oldest: { max_candidate_sequences: 4, ...o } }, 4);

  it("batches the oldest request of up to max_batch_size candidate sequences at the preferred size", async () => {
    const s = new SequenceBatcher(oldest({ preferred_batch_size: [3], max_queue_delay_microseconds: 10_000_000 }));
    const inst = new Recorder("i");
    s.setInstances([inst]);
    const p = [1, 2].map((k) => s.enqueue(req(`s${k}`, k, { start: true, end: true })));
    await tick();
    expect(inst.seen).toEqual([]); // 2 < preferred 3, delay not over
    p.push(s.enqueue(req("s3", 3, { start: true, end: true })));
    await tick();
    expect(ids(inst.seen)).toEqual([["s1", "s2", "s3"]]);
    await inst.drain();
    await Promise.all(p);
  });

  it("after max_queue_delay_microseconds sends what is ready; one request per sequence per call", async () => {
    // A delay far above a busy machine's scheduling pauses: were the three enqueues below more
    // than the delay apart, a1 would rightly leave alone.
    const s = new SequenceBatcher(oldest({ max_queue_delay_microseconds: 150_000 }));
    const inst = new Recorder("i");
    s.setInstances([inst]);
    const p = [s.enqueue(req("a1", 1, { start: true })), s.enqueue(req("a2", 1, { end: true })), s.enqueue(req("b1", 2, { start: true, end: true }))];
    expect(inst.seen).toEqual([]); // fewer ready than preferred: it waits for the delay
    await new Promise((r) => setTimeout(r, 300));
    expect(ids(inst.seen)).toEqual([["a1", "b1"]]);
    inst.calls[0]!.finish();
    await new Promise((r) => setTimeout(r, 300));
    expect(ids(inst.seen)).toEqual([["a1", "b1"], ["a2"]]);
    await inst.drain();
    await Promise.all(p);
  });
});

describe("iterative sequences", () => {
  it("a request without an id is a sequence of its own; a rescheduled one runs again first, without START, beside newcomers", async () => {
    const s = new SequenceBatcher(config({ iterative_sequence: true, ...CONTROLS }, 2));
    const inst = new Recorder("i");
    s.setInstances([inst]);
    const a = s.enqueue(req("a", undefined));
    await tick();
    expect(inst.seen[0]!.map((r) => [r.id, r.sequence?.flags, new Float32Array(input(r, "START")!.data.slice().buffer)[0]])).toEqual([["a", 1, 1]]);
    const b = s.enqueue(req("b", undefined)); // joins at the next step
    const c = s.enqueue(req("c", undefined)); // 2 slots: waits for one
    inst.calls[0]!.finish(["a"]);
    await tick();
    expect(ids(inst.seen)).toEqual([["a"], ["a", "b"]]);
    const [again, joined] = inst.seen[1]!;
    expect([again!.sequence?.flags, new Float32Array(input(again!, "START")!.data.slice().buffer)[0]]).toEqual([0, 0]);
    expect(joined!.sequence?.flags).toBe(1);
    expect(new Set(inst.seen[1]!.map((r) => r.sequence!.id)).size).toBe(2); // each its own id
    expect(s.queued).toBe(1);
    inst.calls[0]!.finish(["b"]); // a is done: its slot goes to c
    await tick();
    expect(ids(inst.seen)[2]).toEqual(["b", "c"]);
    await inst.drain();
    await expect(Promise.all([a, b, c])).resolves.toHaveLength(3);
    expect(s.pending).toBe(0);
  });

  it("a cancelled request is not rescheduled", async () => {
    const s = new SequenceBatcher(config({ iterative_sequence: true }));
    const inst = new Recorder("i");
    s.setInstances([inst]);
    const ac = new AbortController();
    const a = outcome(s.enqueue({ ...req("a", undefined), signal: ac.signal }));
    await tick();
    ac.abort();
    inst.calls[0]!.finish(["a"]);
    expect(await a).toMatchObject({ ok: false, error: { code: "CANCELLED" } });
    expect(inst.calls).toEqual([]);
    expect(s.pending).toBe(0);
  });
});

describe("a dead instance, failQueued and close()", () => {
  it("fails its sequences' waiting requests naming it, and their next request; others go on", async () => {
    const s = new SequenceBatcher(config({}));
    const i0 = new Recorder("m_0_0");
    const i1 = new Recorder("m_0_1");
    s.setInstances([i0, i1]);
    const a1 = outcome(s.enqueue(req("a1", 1, { start: true })));
    const b1 = s.enqueue(req("b1", 2, { start: true, end: true }));
    const a2 = outcome(s.enqueue(req("a2", 1)));
    await tick();
    const [dying, living] = i0.seen.length > 0 ? [i0, i1] : [i1, i0];
    dying.state = "dead";
    dying.calls[0]!.fail(new ServerError("INTERNAL", "Stub process 'x' is not healthy (exited)"));
    s.setInstances([living]);
    await living.drain();
    await b1;
    expect(await a1).toMatchObject({ ok: false, error: { message: "Stub process 'x' is not healthy (exited)" } });
    const died = `sequence 1 of model 'm' ended: its instance '${dying.name}' died and the sequence's state is lost; start the sequence again with the START flag`;
    expect(await a2).toMatchObject({ ok: false, error: { code: "UNAVAILABLE", message: died } });
    await expect(s.enqueue(req("a3", 1))).rejects.toMatchObject({ message: died });
    const again = s.enqueue(req("a4", 1, { start: true, end: true }));
    await living.drain();
    await again;
  });

  it("close(): no new sequence; an idle one ends at once and its slot serves the backlog; a queued request runs", async () => {
    const s = new SequenceBatcher(config({ max_sequence_idle_microseconds: 60_000_000 }), { exitTimeoutMs: 60_000 });
    const inst = new Recorder("i");
    s.setInstances([inst]);
    const a1 = s.enqueue(req("a1", 1, { start: true }));
    await inst.drain();
    await a1;
    const b1 = s.enqueue(req("b1", 2, { start: true })); // backlogged: 1 holds the only slot
    let closed = false;
    void s.close().then(() => (closed = true));
    await expect(s.enqueue(req("c1", 3, { start: true }))).rejects.toMatchObject({
      code: "UNAVAILABLE", message: "Server is stopping, scheduler for model has stopped accepting new inference requests",
    });
    await expect(s.enqueue(req("a2", 1))).rejects.toMatchObject({ message: expect.stringContaining("sequence 1 to model 'm' must specify the START flag") });
    const b2 = s.enqueue(req("b2", 2, { end: true })); // an open sequence may go on
    await inst.drain();
    await Promise.all([b1, b2]);
    expect(ids(inst.seen)).toEqual([["a1"], ["b1"], ["b2"]]);
    await tick();
    expect(closed).toBe(true);
  });

  it("close() ends what is left once the exit timeout ran out; failQueued fails what waits", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const s = new SequenceBatcher(config({ max_sequence_idle_microseconds: 60_000_000 }), { exitTimeoutMs: 5_000 });
    const inst = new Recorder("i");
    s.setInstances([inst]);
    const a1 = outcome(s.enqueue(req("a1", 1, { start: true }))); // runs past the exit timeout
    const a2 = outcome(s.enqueue(req("a2", 1))); // waits behind it
    let closed = false;
    void s.close().then(() => (closed = true));
    await vi.advanceTimersByTimeAsync(4_000);
    expect(s.queued).toBe(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await a2).toMatchObject({ ok: false, error: { code: "UNAVAILABLE", message: "sequence 1 of model 'm' ended: the model is unloading" } });
    expect(closed).toBe(false); // a1 is still running
    inst.calls[0]!.finish();
    expect(await a1).toEqual({ ok: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(closed).toBe(true);
    expect(s.sequences).toBe(0);
    const f = new SequenceBatcher(config({}));
    const lost = outcome(f.enqueue(req("x", 3, { start: true })));
    f.failQueued(new Error("no instance"));
    expect(await lost).toMatchObject({ ok: false, error: { message: "no instance" } });
    expect(f.pending).toBe(0);
  });
});
