/**
 * The sequence batcher against the real server and stubs: interleaved sequences from concurrent
 * clients keep their own state; uint64 and string ids (HTTP and gRPC) reach the handler with
 * request.correlationId(), request.flags() and the control inputs; Triton's texts; idle release;
 * the backlog beyond the slots; the oldest strategy's batch sizes; a stub killed mid-sequence.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { FIXTURES, grpcClientOf, postJson, startServer, type RunningServer } from "./harness.js";
import { sleep, stubPids, waitUntil } from "./stub-helpers.js";
import { listSegments } from "../../src/ipc/segments.js";

const REPO = join(FIXTURES, "sequence-repo");
let server: RunningServer;

beforeAll(async () => {
  server = await startServer(REPO, { args: ["--allow-grpc", "true", "--grpc-port", "0"] });
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
  expect(listSegments(server.pid)).toEqual([]);
});

interface Step { status: number; error?: string; sum?: number; flags?: number; batch?: number; pid?: number; ctrl?: number[]; corrid?: string }

/** One step of sequence `id` to `model` over HTTP JSON. */
async function step(model: string, id: number | string, x: number, flags: { start?: boolean; end?: boolean } = {}, extra: Record<string, unknown> = {}): Promise<Step> {
  const batched = model === "seq_direct" || model.startsWith("seq_oldest");
  const r = await postJson(`${server.url}/v2/models/${model}/infer`, {
    inputs: [{ name: "INPUT", datatype: "INT32", shape: batched ? [1, 1] : [1], data: [x] }],
    parameters: { sequence_id: id, ...(flags.start ? { sequence_start: true } : {}), ...(flags.end ? { sequence_end: true } : {}), ...extra },
  });
  if (r.status !== 200) return { status: r.status, error: r.body.error };
  const out = (name: string) => r.body.outputs.find((o: { name: string }) => o.name === name).data;
  return { status: 200, sum: out("OUTPUT")[0], flags: out("FLAGS")[0], batch: out("BATCH")[0], pid: out("PID")[0], ctrl: out("CTRL"), corrid: out("CORRID")[0] };
}

/** A whole sequence of `values`, one request after the other; returns every step. */
async function sequence(model: string, id: number | string, values: number[]): Promise<Step[]> {
  const steps: Step[] = [];
  for (let i = 0; i < values.length; i++) {
    steps.push(await step(model, id, values[i]!, { start: i === 0, end: i === values.length - 1 }));
  }
  return steps;
}

const prefixSums = (values: number[]) => values.map((_, i) => values.slice(0, i + 1).reduce((a, b) => a + b, 0));

describe("correlation ids, flags and control inputs", () => {
  it("interleaved sequences from concurrent clients keep their own state, in order, on one instance each", async () => {
    const runs = Array.from({ length: 12 }, (_, k) => Array.from({ length: 15 }, (_, i) => (k + 1) * 100 + i));
    const results = await Promise.all(runs.map((values, k) => sequence("seq_direct", 1000 + k, values)));
    results.forEach((steps, k) => {
      for (const s of steps) expect(s.status, s.error).toBe(200);
      expect(steps.map((s) => s.sum)).toEqual(prefixSums(runs[k]!));
      expect(new Set(steps.map((s) => s.pid)).size).toBe(1); // bound to one instance for its lifetime
      expect(steps.map((s) => s.flags)).toEqual(steps.map((_, i) => (i === 0 ? 1 : 0) | (i === steps.length - 1 ? 2 : 0)));
      expect(steps[0]!.ctrl).toEqual([1, 0, 1]);
      expect(steps[1]!.ctrl).toEqual([0, 0, 1]);
      expect(steps.at(-1)!.ctrl).toEqual([0, 1, 1]);
      expect(steps[0]!.corrid).toBe(`bigint:${1000 + k}|`);
    });
    // 12 sequences over 2 instances × 4 slots: some calls carried several sequences' requests.
    expect(Math.max(...results.flat().map((s) => s.batch!))).toBeGreaterThan(1);
    expect(Math.max(...results.flat().map((s) => s.batch!))).toBeLessThanOrEqual(4);
  });

  it("a uint64 CORRID model takes integer ids (up to 2^53 over JSON) and refuses strings with Triton's text", async () => {
    const steps = await sequence("seq_uint64", 9007199254740991, [1, 2, 3]);
    expect(steps.map((s) => [s.status, s.sum, s.corrid])).toEqual([1, 3, 6].map((sum) => [200, sum, "bigint:9007199254740991|ctl=9007199254740991"]));
    const r = await step("seq_uint64", "abc", 1, { start: true });
    expect(r).toEqual({ status: 400, error: "[request id: <id_unknown>] sequence batching control 'CORRID_IN' data-type is 'BYTES', but model 'seq_uint64' expects 'UINT64'" });
  });

  it("ids past 2^53 stay exact: a JSON literal up to 2^64 - 1, a gRPC int64_param read as uint64", async () => {
    const raw = async (id: string, x: number, start: boolean, end = false) => {
      const r = await fetch(`${server.url}/v2/models/seq_uint64/infer`, {
        method: "POST",
        body: `{"inputs":[{"name":"INPUT","datatype":"INT32","shape":[1],"data":[${x}]}],"parameters":{"sequence_id":${id},"sequence_start":${start},"sequence_end":${end}}}`,
      });
      const body = await r.json();
      return r.status === 200 ? [body.outputs[0].data[0], body.outputs[5].data[0]] : [r.status, body.error];
    };
    expect(await raw("18446744073709551615", 2, true)).toEqual([2, "bigint:18446744073709551615|ctl=18446744073709551615"]);
    expect(await raw("18446744073709551615", 3, false, true)).toEqual([5, "bigint:18446744073709551615|ctl=18446744073709551615"]);
    // Its neighbour (the same double) is a sequence of its own.
    expect(await raw("18446744073709551614", 5, true, true)).toEqual([5, "bigint:18446744073709551614|ctl=18446744073709551614"]);
    // Past uint64, rapidjson reads a double: Triton's parse error.
    expect(await raw("18446744073709551616", 1, true)).toEqual([400, "Unable to parse 'sequence_id': attempt to access JSON non-string as string"]);
    const client = await grpcClientOf(server);
    const infer = (id: string, x: number) => new Promise<any>((resolve) => {
      client.ModelInfer({
        model_name: "seq_uint64",
        inputs: [{ name: "INPUT", datatype: "INT32", shape: [1], contents: { int_contents: [x] } }],
        parameters: { sequence_id: { int64_param: id }, sequence_start: { bool_param: true }, sequence_end: { bool_param: true } },
      }, (err: any, res: any) => resolve(err ? err.details : Buffer.from(res.raw_output_contents[5]).subarray(4).toString()));
    });
    expect(await infer("-1", 1)).toBe("bigint:18446744073709551615|ctl=18446744073709551615");
    expect(await infer("9007199254740993", 1)).toBe("bigint:9007199254740993|ctl=9007199254740993");
    client.close();
  });

  it("a string CORRID model takes string ids and refuses integers", async () => {
    const steps = await sequence("seq_string", "session-α", [5, 6]);
    expect(steps.map((s) => [s.status, s.sum, s.corrid])).toEqual([[200, 5, "string:session-α|ctl"], [200, 11, "string:session-α|ctl"]]);
    const r = await step("seq_string", 12, 1, { start: true });
    expect(r.status).toBe(400);
    expect(r.error).toBe("[request id: <id_unknown>] sequence batching control 'CORRID_IN' data-type is 'UINT64', but model 'seq_string' expects 'BYTES'");
  });

  it("Triton's texts: no sequence id, no START for an unknown sequence", async () => {
    const none = await postJson(`${server.url}/v2/models/seq_direct/infer`, { inputs: [{ name: "INPUT", datatype: "INT32", shape: [1, 1], data: [1] }] });
    expect(none).toEqual({ status: 400, body: { error: "inference request to model 'seq_direct' must specify a non-zero or non-empty correlation ID" } });
    expect(await step("seq_direct", 424242, 1)).toEqual({
      status: 400, error: "inference request for sequence 424242 to model 'seq_direct' must specify the START flag on the first request of the sequence",
    });
    const ended = await sequence("seq_direct", 77, [1, 2]);
    expect(ended.map((s) => s.status)).toEqual([200, 200]);
    expect((await step("seq_direct", 77, 3)).error).toContain("must specify the START flag"); // after its END
  });

  it("over gRPC: int64_param and string_param ids, sequence_start / sequence_end bool_params", async () => {
    const client = await grpcClientOf(server);
    const infer = (model: string, id: object, x: number, start: boolean, end: boolean) => new Promise<any>((resolve) => {
      client.ModelInfer({
        model_name: model,
        inputs: [{ name: "INPUT", datatype: "INT32", shape: [1], contents: { int_contents: [x] } }],
        parameters: { sequence_id: id, sequence_start: { bool_param: start }, sequence_end: { bool_param: end } },
      }, (err: any, res: any) => resolve(err ? { error: err.details, code: err.code } : res));
    });
    const sums = [];
    for (const [x, start, end] of [[4, true, false], [5, false, false], [6, false, true]] as const) {
      const res = await infer("seq_uint64", { int64_param: "31" }, x, start, end);
      sums.push(new Int32Array(new Uint8Array(res.raw_output_contents[0]).buffer)[0]);
    }
    expect(sums).toEqual([4, 9, 15]);
    const s = await infer("seq_string", { string_param: "g" }, 7, true, true);
    expect(Buffer.from(s.raw_output_contents[5]).subarray(4).toString()).toBe("string:g|ctl");
    expect(await infer("seq_string", { string_param: "g" }, 7, false, false)).toMatchObject({
      code: 3, error: "inference request for sequence g to model 'seq_string' must specify the START flag on the first request of the sequence",
    });
    client.close();
  });
});

describe("BLS", () => {
  it.each(["321", "18446744073709551615"])("a handler's InferenceRequest with correlationId %s and flags reaches a sequence model as a sequence", async (id) => {
    // The id as a JSON literal: past 2^53 it must stay exact through the handler and BLS.
    const call = async (x: number, parameters: Record<string, unknown>) => {
      const body = JSON.stringify({ inputs: [{ name: "INPUT", datatype: "INT32", shape: [1], data: [x] }], parameters: { sequence_id: 0, ...parameters } });
      const r = await fetch(`${server.url}/v2/models/seq_bls_caller/infer`, { method: "POST", body: body.replace('"sequence_id":0', `"sequence_id":${id}`) });
      return { status: r.status, body: await r.json() };
    };
    const sums = [];
    for (const [x, p] of [[1, { sequence_start: true }], [2, {}], [3, { sequence_end: true }]] as const) {
      const r = await call(x, p);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      sums.push(r.body.outputs[0].data[0]);
    }
    expect(sums).toEqual([1, 3, 6]);
    const after = await call(1, {});
    expect(after.status).toBe(400); // the handler passed the BLS error on, with its code
    expect(after.body.error).toContain(`inference request for sequence ${id} to model 'seq_uint64' must specify the START flag`);
  });
});

describe("slots, backlog and idle release", () => {
  it("sequences beyond the free slots wait, in order, for a slot; each completes", async () => {
    // seq_idle: one instance, max_batch_size 0: one slot. Three sequences started together.
    const t0 = Date.now();
    const starts = await Promise.all([1, 2, 3].map(async (k) => {
      await sleep(k * 20); // arrival order 501, 502, 503
      const s = await step("seq_idle", 500 + k, k, { start: true });
      return { ...s, ms: Date.now() - t0 };
    }));
    expect(starts.map((s) => [s.status, s.sum])).toEqual([[200, 1], [200, 2], [200, 3]]);
    // Each waited for the one before it to go idle (300 ms) and give up the slot.
    expect(starts[1]!.ms - starts[0]!.ms).toBeGreaterThanOrEqual(250);
    expect(starts[2]!.ms - starts[1]!.ms).toBeGreaterThanOrEqual(250);
  });

  it("a sequence idle past max_sequence_idle_microseconds loses its slot to the backlog; its next request is refused", async () => {
    await sleep(400); // the sequences above were released after 300 ms
    const a = await step("seq_idle", 601, 10, { start: true });
    expect(a.sum).toBe(10);
    const t0 = Date.now();
    const waiting = step("seq_idle", 602, 20, { start: true }); // backlog: 601 holds the only slot
    const b = await waiting;
    expect(b.sum).toBe(20);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250); // it waited for 601's idle release
    expect(await step("seq_idle", 601, 1)).toEqual({
      status: 400, error: "inference request for sequence 601 to model 'seq_idle' must specify the START flag on the first request of the sequence",
    });
    const c = await step("seq_idle", 602, 1, { end: true }); // 602 is alive: it holds the slot
    expect(c.sum).toBe(21);
  });

  it("a backlogged sequence gets the slot at once when the holder ENDs", async () => {
    const a = await step("seq_idle", 701, 1, { start: true });
    expect(a.status).toBe(200);
    const t0 = Date.now();
    const b = step("seq_idle", 702, 2, { start: true, end: true });
    await sleep(50);
    await step("seq_idle", 701, 1, { end: true });
    expect((await b).sum).toBe(2);
    expect(Date.now() - t0).toBeLessThan(250); // well before the idle release
  });
});

describe("the oldest strategy", () => {
  it("batches the oldest requests of up to max_candidate_sequences sequences, at the preferred size", async () => {
    const steps = await Promise.all(Array.from({ length: 8 }, (_, k) => step("seq_oldest", 800 + k, k, { start: true })));
    expect(steps.map((s) => s.status)).toEqual(Array(8).fill(200));
    expect(steps.map((s) => s.batch).sort()).toEqual(Array(8).fill(4)); // two calls of the preferred 4
    const t0 = Date.now();
    const lone = await step("seq_oldest", 800, 1, { end: true });
    expect(lone).toMatchObject({ sum: 1, batch: 1 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250); // sent alone once max_queue_delay passed
    await Promise.all(Array.from({ length: 7 }, (_, k) => step("seq_oldest", 801 + k, 0, { end: true })));
  });

  /**
   * A1 runs 900 ms while A2, A3 (same sequence) and then B1 arrive, 150 ms apart (so that a busy
   * machine does not swap their arrival). Next call: A2 with B1, the oldest request of each
   * sequence; A3 (300 ms) runs after. B1 is done before A3, which arrived earlier, unless
   * preserve_ordering holds B1's answer until A3's is out.
   */
  async function finishOrder(model: string): Promise<string[]> {
    const done: string[] = [];
    const send = (name: string, id: number, delay: number, flags: { start?: boolean; end?: boolean }) =>
      step(model, id, 1, flags, { delay_ms: delay }).then((s) => {
        expect(s.status, s.error).toBe(200);
        done.push(name);
      });
    const calls = [send("A1", 850, 900, { start: true })];
    await sleep(150);
    calls.push(send("A2", 850, 0, {}));
    await sleep(150);
    calls.push(send("A3", 850, 300, { end: true }));
    await sleep(150);
    calls.push(send("B1", 851, 0, { start: true, end: true }));
    await Promise.all(calls);
    return done;
  }

  it("answers in arrival order with preserve_ordering, and without it as calls finish", async () => {
    const ordered = await finishOrder("seq_oldest_ordered");
    expect(ordered.indexOf("B1")).toBeGreaterThan(ordered.indexOf("A3"));
    const unordered = await finishOrder("seq_oldest_unordered");
    expect(unordered.indexOf("B1")).toBeLessThan(unordered.indexOf("A3"));
  });
});

describe("a stub killed mid-sequence", () => {
  it("fails that instance's open sequences with an error naming it; the other instance's go on", async () => {
    const seqs = await Promise.all(Array.from({ length: 6 }, (_, k) => step("seq_direct", 900 + k, 1, { start: true })));
    const pids = new Set(seqs.map((s) => s.pid));
    expect(pids.size).toBe(2);
    const victim = seqs[0]!.pid!;
    const before = stubPids(server.pid);
    process.kill(victim, "SIGKILL");
    await waitUntil(() => stubPids(server.pid).length === before.length && !stubPids(server.pid).includes(victim) ? true : undefined, 20_000, () => "a replacement stub");
    const next = await Promise.all(seqs.map((_, k) => step("seq_direct", 900 + k, 2)));
    next.forEach((s, k) => {
      if (seqs[k]!.pid === victim) {
        expect(s.status).toBe(503);
        expect(s.error).toMatch(new RegExp(`^sequence ${900 + k} of model 'seq_direct' ended: its instance 'seq_direct_0_\\d' died and the sequence's state is lost; start the sequence again with the START flag$`));
      } else {
        expect(s).toMatchObject({ status: 200, sum: 3 });
      }
    });
    const again = await sequence("seq_direct", 900, [5, 6]);
    expect(again.map((s) => s.sum)).toEqual([5, 11]);
    await Promise.all(seqs.map((_, k) => step("seq_direct", 900 + k, 0, { end: true })));
  });
});

describe("unload with open sequences", () => {
  it("idle sequences end, queued requests run until --exit-timeout-secs ran out, then end with an error", async () => {
    const s = await startServer(REPO, { args: ["--model-control-mode", "explicit", "--load-model", "seq_string", "--exit-timeout-secs", "1"] });
    try {
      const call = (id: string, x: number, parameters: Record<string, unknown>) => postJson(`${s.url}/v2/models/seq_string/infer`, {
        inputs: [{ name: "INPUT", datatype: "INT32", shape: [1], data: [x] }], parameters: { sequence_id: id, ...parameters },
      });
      expect((await call("a", 1, { sequence_start: true })).status).toBe(200); // holds the only slot, idle
      const t0 = Date.now();
      const b1 = call("b", 1, { sequence_start: true, delay_ms: 2500 }); // waits for a slot, then runs 2.5 s
      await sleep(50);
      const b2 = call("b", 2, {}); // waits behind it
      await sleep(50);
      const unload = postJson(`${s.url}/v2/repository/models/seq_string/unload`, {});
      // a ended at once (no request can reach it now): b took its slot long before a's 5 s idle time.
      expect(await b2).toEqual({ status: 503, body: { error: "sequence b of model 'seq_string' ended: the model is unloading" } });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
      const first = await b1;
      expect(first.status).toBe(200);
      expect(first.body.outputs[0].data).toEqual([1]);
      expect(Date.now() - t0).toBeLessThan(4500);
      expect((await unload).status).toBe(200);
      expect((await call("a", 4, {})).status).toBe(404); // gone with its model
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it("shutdown does not wait for idle open sequences beyond its in-flight requests", async () => {
    const s = await startServer(REPO, { args: ["--exit-timeout-secs", "5"] });
    const r = await postJson(`${s.url}/v2/models/seq_string/infer`, {
      inputs: [{ name: "INPUT", datatype: "INT32", shape: [1], data: [1] }], parameters: { sequence_id: "open", sequence_start: true },
    });
    expect(r.status).toBe(200);
    const t0 = Date.now();
    expect(await s.stop()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(4_000);
    expect(listSegments(s.pid)).toEqual([]);
  });
});

describe("iterative sequences", () => {
  const iterate = (n: number) => postJson(`${server.url}/v2/models/seq_iterative/infer`, {
    inputs: [{ name: "N", datatype: "INT32", shape: [1, 1], data: [n] }],
  });

  it("a request that reschedules itself runs N steps, START on the first only, in calls shared with the others", async () => {
    const ns = [3, 5, 8, 12];
    const results = await Promise.all(ns.map(iterate));
    results.forEach((r, k) => {
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const [steps, maxBatch, starts] = r.body.outputs[0].data;
      expect(steps).toBe(ns[k]);
      expect(starts).toBe(1);
      expect(maxBatch).toBeGreaterThan(1); // continuous batching: steps of several requests per call
      expect(maxBatch).toBeLessThanOrEqual(4);
    });
  });

  it("a request joins the running ones between their steps; beyond the slots it waits for one", async () => {
    const long = iterate(3000); // long enough to be running when the others come
    await sleep(30);
    const joined = await Promise.all([iterate(2), iterate(2), iterate(2), iterate(2)]); // 4 slots, 1 taken
    for (const r of joined) expect(r.status).toBe(200);
    expect(Math.max(...joined.map((r) => r.body.outputs[0].data[1]))).toBeGreaterThanOrEqual(2);
    const done = await long;
    expect(done.body.outputs[0].data.slice(0, 1)).toEqual([3000]);
    expect(done.body.outputs[0].data[1]).toBeGreaterThan(1); // it ran alongside the newcomers
  });

  it("a decoupled iterative decoder streams one response per step over gRPC, the last one final", async () => {
    const client = await grpcClientOf(server);
    const stream = client.ModelStreamInfer();
    const got = new Map<string, number[]>();
    const finals = new Set<string>();
    const names = new Set<string>();
    const done = new Promise<void>((resolve, reject) => {
      stream.on("data", (m: any) => {
        if (m.error_message) return reject(new Error(m.error_message));
        const r = m.infer_response;
        const id = r.id;
        if (r.outputs.length > 0) (got.get(id) ?? got.set(id, []).get(id)!).push(new Int32Array(new Uint8Array(r.raw_output_contents[0]).buffer)[0]!);
        for (const o of r.outputs) names.add(o.name);
        if (r.parameters?.triton_final_response?.bool_param) finals.add(id);
        if (finals.size === 3) resolve();
      });
      stream.on("error", reject);
    });
    for (const [id, n] of [["a", 4], ["b", 6], ["c", 2]] as const) {
      stream.write({
        model_name: "seq_iterative_stream", id,
        inputs: [{ name: "N", datatype: "INT32", shape: [1, 1], contents: { int_contents: [n] } }],
        parameters: { triton_enable_empty_final_response: { bool_param: true } },
      });
    }
    await done;
    stream.end();
    client.close();
    expect(Object.fromEntries(got)).toEqual({ a: [1, 2, 3, 4], b: [1, 2, 3, 4, 5, 6], c: [1, 2] });
    expect([...names].sort()).toEqual(["BATCH", "TOKEN"]); // the state output the responses carried stays in the stub
  });
});
