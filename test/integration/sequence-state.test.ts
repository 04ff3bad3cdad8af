/**
 * Implicit state (sequence_batching.state) against the real server: the instance keeps each
 * sequence's state between its requests, over 1 000 steps and interleaved with other sequences in
 * the same batches; zero_data and data_file initial states; a handler that updates its state in
 * place (use_same_buffer_for_input_output); the state never shows in a response; a stub's death
 * takes its sequences' state with it, and they end with an error naming the instance.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { FIXTURES, postJson, startServer, type RunningServer } from "./harness.js";
import { stubPids, waitUntil } from "./stub-helpers.js";
import { listSegments } from "../../src/ipc/segments.js";

let server: RunningServer;

beforeAll(async () => {
  server = await startServer(join(FIXTURES, "sequence-repo"));
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
  expect(listSegments(server.pid)).toEqual([]);
});

async function step(model: string, id: number | string, value: number, flags: { start?: boolean; end?: boolean } = {}, extra: Record<string, unknown> = {}) {
  const batched = model === "seq_state";
  const r = await postJson(`${server.url}/v2/models/${model}/infer`, {
    inputs: [{ name: "VALUE", datatype: "FP32", shape: batched ? [1, 1] : [1], data: [value] }],
    parameters: { sequence_id: id, ...(flags.start ? { sequence_start: true } : {}), ...(flags.end ? { sequence_end: true } : {}), ...extra },
  });
  return r;
}
const out = (r: { body: any }, name: string) => r.body.outputs.find((o: { name: string }) => o.name === name)?.data;

describe("implicit state", () => {
  it("keeps each sequence's running mean over 1 000 steps, interleaved with other sequences in batches", async () => {
    const values = (k: number) => Array.from({ length: 1000 }, (_, i) => ((i * 7 + k * 13) % 50) - 10);
    const run = async (k: number) => {
      const vs = values(k);
      let sum = 0;
      const means: number[] = [];
      const expected: number[] = [];
      for (let i = 0; i < vs.length; i++) {
        const r = await step("seq_state", 5000 + k, vs[i]!, { start: i === 0, end: i === vs.length - 1 });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        sum += vs[i]!;
        means.push(out(r, "MEAN")[0]);
        expected.push(sum / (i + 1));
        if (i === vs.length - 1) expect(out(r, "COUNT")).toEqual([1000]);
      }
      for (let i = 0; i < means.length; i++) expect(means[i]).toBeCloseTo(expected[i]!, 3);
    };
    await Promise.all([0, 1, 2, 3, 4, 5].map(run));
  }, 120_000);

  it("starts from the zero initial state again after END; the state is no output of the model", async () => {
    const a = await step("seq_state", "again", 10, { start: true });
    expect(out(a, "MEAN")).toEqual([10]);
    expect(a.body.outputs.map((o: { name: string }) => o.name).sort()).toEqual(["COUNT", "MEAN", "PID"]);
    expect(out(await step("seq_state", "again", 20, { end: true }), "MEAN")).toEqual([15]);
    expect(out(await step("seq_state", "again", 4, { start: true }), "MEAN")).toEqual([4]);
    expect(out(await step("seq_state", "again", 0, { start: true }), "COUNT")).toEqual([1]); // a new START resets it
    await step("seq_state", "again", 0, { end: true });
    const asked = await postJson(`${server.url}/v2/models/seq_state/infer`, {
      inputs: [{ name: "VALUE", datatype: "FP32", shape: [1, 1], data: [1] }], outputs: [{ name: "STATE_OUT" }],
      parameters: { sequence_id: "asks", sequence_start: true, sequence_end: true },
    });
    expect(asked.status).toBe(400);
    expect(asked.body.error).toContain("STATE_OUT");
  });

  it("a data_file initial state, updated in place by a handler that writes no state output", async () => {
    expect(out(await step("seq_state_file", 1, 0, { start: true }), "MEAN")).toEqual([50]); // (100 + 0) / 2
    expect(out(await step("seq_state_file", 1, 50), "MEAN")).toEqual([50]); // 150 / 3
    expect(out(await step("seq_state_file", 1, 250, {}, { write: true }), "MEAN")).toEqual([100]); // 400 / 4, written out
    expect(out(await step("seq_state_file", 1, 100, { end: true }), "MEAN")).toEqual([100]); // 500 / 5
    expect(out(await step("seq_state_file", 2, 1, { start: true, end: true }), "MEAN")).toEqual([50.5]); // the prior again
  });

  it("a BYTES state from a data file of length-prefixed elements, growing with each request", async () => {
    const say = async (id: number, text: string, flags: { start?: boolean; end?: boolean }) => out(await postJson(`${server.url}/v2/models/seq_history/infer`, {
      inputs: [{ name: "TEXT", datatype: "BYTES", shape: [1], data: [text] }],
      parameters: { sequence_id: id, sequence_start: flags.start === true, sequence_end: flags.end === true },
    }), "HISTORY");
    expect(await say(1, "user: hi", { start: true })).toEqual(["system: 안녕\nuser: hi"]);
    expect(await say(2, "user: 여보세요", { start: true })).toEqual(["system: 안녕\nuser: 여보세요"]);
    expect(await say(1, "user: bye", { end: true })).toEqual(["system: 안녕\nuser: hi\nuser: bye"]);
    expect(await say(2, "user: ...", { end: true })).toEqual(["system: 안녕\nuser: 여보세요\nuser: ..."]);
  });

  it("a stub's death takes its sequences' state: they end with an error naming the instance", async () => {
    const ids = Array.from({ length: 8 }, (_, k) => 6000 + k);
    const pidOf = new Map<number, number>();
    for (const id of ids) {
      const r = await step("seq_state", id, 1, { start: true });
      expect(r.status).toBe(200);
      pidOf.set(id, out(r, "PID")[0]);
    }
    expect(new Set(pidOf.values()).size).toBe(2); // spread over both instances
    const victim = pidOf.get(ids[0]!)!;
    process.kill(victim, "SIGKILL");
    await waitUntil(() => (stubPids(server.pid).includes(victim) ? undefined : true), 20_000, () => "the stub to go");
    const results = [];
    for (const id of ids) {
      const r = await step("seq_state", id, 3);
      results.push({ id, status: r.status, error: r.body.error as string | undefined, mean: r.status === 200 ? out(r, "MEAN") : undefined });
    }
    for (const r of results) {
      if (pidOf.get(r.id) === victim) {
        expect(r.status).toBe(503);
        expect(r.error).toMatch(new RegExp(`^sequence ${r.id} of model 'seq_state' ended: its instance 'seq_state_0_\\d' died and the sequence's state is lost`));
      } else {
        expect(r).toMatchObject({ status: 200, mean: [2] }); // (1 + 3) / 2: its state survived
        await step("seq_state", r.id, 0, { end: true });
      }
    }
    // Started again, on whichever instance: from the initial state.
    await waitUntil(async () => ((await step("seq_state", ids[0]!, 8, { start: true })).status === 200 ? true : undefined), 20_000, () => "a new START");
    expect(out(await step("seq_state", ids[0]!, 4, { end: true }), "MEAN")).toEqual([6]);
  }, 60_000);
});
