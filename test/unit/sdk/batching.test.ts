import { describe, expect, it } from "vitest";
import { Tensor, batchInputs, splitOutputs } from "../../../stub/sdk/index.js";
import { InferenceRequest } from "../../../stub/sdk/request.js";

const request = (t: Tensor) => new InferenceRequest({ modelName: "m", inputs: [t] });

describe("batchInputs / splitOutputs", () => {
  it("views inputs that lie back to back, and copies those that do not", () => {
    const backing = new Float32Array([1, 2, 3, 4, 5, 6]);
    const a = request(new Tensor("X", backing.subarray(0, 2), [1, 2]));
    const b = request(new Tensor("X", backing.subarray(2, 6), [2, 2]));
    const view = batchInputs([a, b], "X");
    expect(view.shape()).toEqual([3, 2]);
    expect((view.data as Float32Array).buffer).toBe(backing.buffer);
    expect([...(view.data as Float32Array)]).toEqual([1, 2, 3, 4, 5, 6]);

    const c = request(new Tensor("X", new Float32Array([7, 8]), [1, 2]));
    const copied = batchInputs([a, c], "X");
    expect((copied.data as Float32Array).buffer).not.toBe(backing.buffer);
    expect([...(copied.data as Float32Array)]).toEqual([1, 2, 7, 8]);
  });

  it("stacks BYTES elements and refuses inputs that cannot stack", () => {
    const s = batchInputs([request(new Tensor("S", ["a"], [1, 1])), request(new Tensor("S", ["b", "c"], [2, 1]))], "S");
    expect(s.shape()).toEqual([3, 1]);
    expect((s.data as Uint8Array[]).map((e) => new TextDecoder().decode(e))).toEqual(["a", "b", "c"]);
    const wide = request(new Tensor("X", new Float32Array(3), [1, 3]));
    const narrow = request(new Tensor("X", new Float32Array(2), [1, 2]));
    expect(() => batchInputs([wide, narrow], "X")).toThrow();
    expect(() => batchInputs([wide], "Nope")).toThrow();
  });

  it("splits outputs back by each request's rows, in order", () => {
    const reqs = [request(new Tensor("X", new Float32Array(2), [1, 2])), request(new Tensor("X", new Float32Array(4), [2, 2]))];
    const [r0, r1] = splitOutputs(reqs, [new Tensor("Y", new Int32Array([1, 2, 3, 4, 5, 6]), [3, 2])]);
    expect(r0.outputTensors()[0].shape()).toEqual([1, 2]);
    expect([...(r0.outputTensors()[0].data as Int32Array)]).toEqual([1, 2]);
    expect(r1.outputTensors()[0].shape()).toEqual([2, 2]);
    expect([...(r1.outputTensors()[0].data as Int32Array)]).toEqual([3, 4, 5, 6]);
    let message = "";
    try {
      splitOutputs(reqs, [new Tensor("Y", new Int32Array(4), [2, 2])]);
    } catch (e) {
      message = (e as { message(): string }).message();
    }
    expect(message).toBe("splitOutputs: output 'Y' has 2 rows, the requests have 3");
  });
});
