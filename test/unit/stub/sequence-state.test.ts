/** The stub's implicit state per batch slot (stub/sequence-state.ts), without a stub process. */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { WireRequest } from "../../../src/ipc/protocol.js";
import { SequenceStates } from "../../../stub/sequence-state.js";
import { TritonError } from "../../../stub/sdk/errors.js";
import { InferenceResponse } from "../../../stub/sdk/request.js";
import { Tensor } from "../../../stub/sdk/tensor.js";

/** Model folders for data_file states, removed after each test. */
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "state-"));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const config = (state: Record<string, unknown>, maxBatchSize = 0) => JSON.stringify({
  max_batch_size: maxBatchSize,
  sequence_batching: { state: [{ input_name: "S_IN", output_name: "S_OUT", data_type: "TYPE_FP32", dims: ["2"], ...state }] },
});
const wire = (slot: number, id: string | bigint, flags: number): WireRequest => ({
  key: 0, id: "", correlationId: id, flags, slot, parameters: {}, requestedOutputs: [], inputs: [],
});
const respond = (values: number[], shape = [2]) => new InferenceResponse({ outputTensors: [new Tensor("S_OUT", Float32Array.from(values), shape), new Tensor("Y", Float32Array.of(0))] });
/** The message of what `f` threw (a TritonError, which is no Error subclass). */
function thrown(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return err instanceof TritonError ? err.message() : String(err);
  }
  return "nothing thrown";
}
const values = (t: Tensor) => Array.from(t.data as Float32Array);

describe("SequenceStates", () => {
  it("is null without states; zeros at START, then what the previous request wrote; per slot; dropped at END", () => {
    expect(SequenceStates.fromConfig(JSON.stringify({ max_batch_size: 0 }), "/nowhere")).toBeNull();
    const s = SequenceStates.fromConfig(config({}), "/nowhere")!;
    expect([...s.outputs]).toEqual(["S_OUT"]);
    const [first] = s.inputs(wire(0, 5n, 1));
    expect(first!.name()).toBe("S_IN");
    expect([values(first!), first!.shape(), first!.datatype()]).toEqual([[0, 0], [2], "FP32"]);
    s.update(wire(0, 5n, 1), respond([1, 2]));
    expect(values(s.inputs(wire(1, "other", 1))[0]!)).toEqual([0, 0]); // another slot: its own
    expect(values(s.inputs(wire(0, 5n, 0))[0]!)).toEqual([1, 2]);
    s.update(wire(0, 5n, 0), respond([3, 4, 5], [3]));
    const grown = s.inputs(wire(0, 5n, 0))[0]!;
    expect([values(grown), grown.shape()]).toEqual([[3, 4, 5], [3]]); // any shape the handler wrote
    expect(s.size).toBe(2);
    s.update(wire(0, 5n, 2), respond([9, 9]));
    expect(s.size).toBe(1);
    expect(s.inputs(wire(-1, "", 0))).toEqual([]); // no sequence slot: no state
  });

  it("a response with an error, or no state output, keeps the state (changed in place by the handler)", () => {
    const s = SequenceStates.fromConfig(config({}), "/nowhere")!;
    const held = s.inputs(wire(0, "a", 1))[0]!;
    (held.data as Float32Array)[0] = 7;
    s.update(wire(0, "a", 1), new InferenceResponse({ outputTensors: [] }));
    expect(values(s.inputs(wire(0, "a", 0))[0]!)).toEqual([7, 0]);
    s.update(wire(0, "a", 0), new InferenceResponse({ error: undefined, outputTensors: [] }));
    expect(values(s.inputs(wire(0, "a", 0))[0]!)).toEqual([7, 0]);
    // A slot that a different sequence now holds (the old one was released) starts afresh.
    expect(values(s.inputs(wire(0, "b", 0))[0]!)).toEqual([0, 0]);
  });

  it("a data_file initial state, and a batch dimension of 1 when the model batches; a wrong size fails", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "initial_state"));
    writeFileSync(join(dir, "initial_state", "init.bin"), Buffer.from(new Float32Array([5, 6]).buffer));
    const init = { initial_state: [{ name: "i", data_type: "TYPE_FP32", dims: ["2"], data_file: "init.bin" }] };
    const s = SequenceStates.fromConfig(config(init, 4), dir)!;
    const t = s.inputs(wire(2, 1n, 1))[0]!;
    expect([values(t), t.shape()]).toEqual([[5, 6], [1, 2]]);
    (t.data as Float32Array)[0] = 0;
    expect(values(s.inputs(wire(3, 2n, 1))[0]!)).toEqual([5, 6]); // each START gets its own copy
    writeFileSync(join(dir, "initial_state", "short.bin"), Buffer.alloc(4));
    const bad = { initial_state: [{ name: "i", data_type: "TYPE_FP32", dims: ["2"], data_file: "short.bin" }] };
    expect(thrown(() => SequenceStates.fromConfig(config(bad), dir))).toBe("initial state 'i' data file 'short.bin' has 4 bytes, expected 8");
  });

  it("a BYTES data_file holds length-prefixed elements, as many as its dims; a malformed one fails", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "initial_state"));
    const element = (text: string) => { const b = Buffer.from(text); return Buffer.concat([Buffer.from(Uint32Array.of(b.length).buffer), b]); };
    writeFileSync(join(dir, "initial_state", "two.bin"), Buffer.concat([element("α"), element("")]));
    const init = (file: string, dims: string[]) => ({ data_type: "TYPE_STRING", initial_state: [{ name: "i", data_type: "TYPE_STRING", dims, data_file: file }] });
    const s = SequenceStates.fromConfig(config(init("two.bin", ["2"])), dir)!;
    const t = s.inputs(wire(0, 1n, 1))[0]!;
    expect([(t.data as Uint8Array[]).map((e) => Buffer.from(e).toString()), t.datatype()]).toEqual([["α", ""], "BYTES"]);
    expect(thrown(() => SequenceStates.fromConfig(config(init("two.bin", ["3"])), dir)))
      .toBe("initial state 'i' data file 'two.bin' does not hold 3 length-prefixed BYTES elements");
    writeFileSync(join(dir, "initial_state", "cut.bin"), element("abc").subarray(0, 5));
    expect(thrown(() => SequenceStates.fromConfig(config(init("cut.bin", ["1"])), dir)))
      .toBe("initial state 'i' data file 'cut.bin' does not hold 1 length-prefixed BYTES elements");
  });

  it("refuses a state output of another data type", () => {
    const s = SequenceStates.fromConfig(config({}), "/nowhere")!;
    s.inputs(wire(0, "a", 1));
    expect(thrown(() => s.update(wire(0, "a", 1), new InferenceResponse({ outputTensors: [new Tensor("S_OUT", Int32Array.of(1, 2))] }))))
      .toBe("state output 'S_OUT' has data-type INT32, but the model's state expects FP32");
  });
});

describe("BLS calls to a sequence model", () => {
  it("carry the request's correlationId and flags as the sequence parameters", async () => {
    const { withSequence } = await import("../../../stub/bls.js");
    const call = (o: object) => ({ modelName: "m", inputs: [], ...o });
    expect(withSequence(call({ correlationId: 7n, flags: 1, parameters: { k: "v" } }))).toEqual({ k: "v", sequence_id: 7, sequence_start: true });
    expect(withSequence(call({ correlationId: "s", flags: 2 }))).toEqual({ sequence_id: "s", sequence_end: true });
    expect(withSequence(call({ correlationId: 2n ** 60n, flags: 3 }))).toEqual({ sequence_id: 2n ** 60n, sequence_start: true, sequence_end: true });
    expect(withSequence(call({}))).toEqual({});
  });
});
