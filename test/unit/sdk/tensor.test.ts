import { describe, expect, it } from "vitest";
import { Tensor, InferenceResponse, TritonError, getOutputTensorByName } from "../../../stub/sdk/index.js";
import { checkResponses, errorInfo } from "../../../stub/executor.js";
import { InferenceRequest } from "../../../stub/sdk/request.js";

describe("Tensor", () => {
  it("infers the datatype from the typed array and keeps shapes", () => {
    const t = new Tensor("x", new Float32Array([1, 2, 3, 4]), [2, 2]);
    expect([t.name(), t.datatype(), t.shape()]).toEqual(["x", "FP32", [2, 2]]);
    expect(new Tensor("i", new BigInt64Array(2)).datatype()).toBe("INT64");
    expect(new Tensor("h", new Uint16Array(2), [2], "FP16").datatype()).toBe("FP16");
  });

  it("encodes BYTES strings as UTF-8 and accepts raw bytes", () => {
    const t = new Tensor("s", ["é", new Uint8Array([0, 1]), ""]);
    expect(t.datatype()).toBe("BYTES");
    expect((t.data as Uint8Array[]).map((e) => [...e])).toEqual([[0xc3, 0xa9], [0, 1], []]);
  });

  it("refuses inconsistent construction with clear messages", () => {
    expect(() => new Tensor("x", new Float32Array(3), [2, 2])).toThrow("shape [2,2] needs 4 elements, data has 3");
    expect(() => new Tensor("x", new Float32Array(2), [2], "FP16")).toThrow(/cannot hold FP16/);
    expect(() => new Tensor("", new Float32Array(1))).toThrow(/name/);
    expect(() => new Tensor("x", [1 as never])).toThrow(/BYTES element 0/);
  });

  it("views input bytes without copying; asArray copies", () => {
    const bytes = new Uint8Array(new Float32Array([1.5, 2.5]).buffer);
    const t = Tensor.fromBytes("in", "FP32", [2], bytes);
    expect((t.data as Float32Array).buffer).toBe(bytes.buffer);
    const copy = t.asArray() as Float32Array;
    bytes.fill(0);
    expect([...copy]).toEqual([1.5, 2.5]);
    expect([...(t.data as Float32Array)]).toEqual([0, 0]);
  });

  it("round-trips through onnxruntime tensors", () => {
    const t = new Tensor("x", new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    const o = t.toOrt();
    expect(o.type).toBe("float32");
    expect(o.dims).toEqual([2, 3]);
    const back = Tensor.fromOrt("y", o);
    expect([back.name(), back.datatype(), back.shape()]).toEqual(["y", "FP32", [2, 3]]);
    expect(new Tensor("s", ["ab"]).toOrt().data).toEqual(["ab"]);
  });
});

describe("responses and errors", () => {
  it("TritonError is a value class with pb_utils' codes", () => {
    const e = new TritonError("bad", TritonError.INVALID_ARG);
    expect([e.message(), e.code()]).toEqual(["bad", "INVALID_ARG"]);
    expect(new TritonError("x").code()).toBe("INTERNAL");
    expect(errorInfo(e)).toEqual({ code: "INVALID_ARG", message: "bad" });
    expect(errorInfo(new Error("plain"))).toEqual({ code: "INTERNAL", message: "plain" });
  });

  it("checks execute()'s answer: one InferenceResponse per request", () => {
    // TritonError is a value class (pb_utils), not an Error: read its message().
    const thrown = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as TritonError).message();
      }
      return "nothing thrown";
    };
    const r = new InferenceResponse({ outputTensors: [new Tensor("Y", new Float32Array(1))] });
    expect(getOutputTensorByName(r, "Y")?.name()).toBe("Y");
    expect(checkResponses([r], 1, "m")).toEqual([r]);
    expect(thrown(() => checkResponses([r, r], 1, "m"))).toBe("model 'm': execute() returned 2 responses for 1 requests");
    expect(thrown(() => checkResponses(undefined, 1, "m"))).toMatch(/^model 'm': execute\(\) returned nothing/);
    expect(thrown(() => checkResponses({}, 1, "m"))).toMatch(/must return an array/);
    expect(thrown(() => checkResponses([{}], 1, "m"))).toBe("model 'm': execute() response 0 is not an InferenceResponse");
  });

  it("request accessors return copies and defaults", () => {
    const q = new InferenceRequest({ modelName: "m", inputs: [], parameters: { a: 1 } });
    q.parameters().a = 2;
    expect(q.parameters()).toEqual({ a: 1 });
    expect([q.requestId(), q.flags(), q.correlationId(), q.isCancelled()]).toEqual(["", 0, "", false]);
  });
});
