import { describe, expect, it } from "vitest";
import {
  ModelStatistics, failureReason, markDispatched, markEnqueued, markRejected, requestRows, responseKind,
  type CallTiming, type RequestTimes,
} from "../../../src/core/statistics.js";
import type { CoreRequest } from "../../../src/core/types.js";
import { ServerError } from "../../../src/errors/index.js";

function request(rows?: number): CoreRequest {
  const shape = rows === undefined ? [2] : [rows, 2];
  return { model: "m", id: "", parameters: {}, inputs: [{ name: "X", datatype: "FP32", shape, data: new Uint8Array(0) }] };
}

function call(requests: CoreRequest[], t: Partial<CallTiming> = {}): CallTiming {
  return { requests, inputNs: 100, inferNs: 1000, outputNs: 10, waitNs: 0, ...t };
}

/** A request that queued at 10, was dispatched at 30, and ran in `c`. */
function times(c?: CallTiming): RequestTimes {
  return { startNs: 0, enqueuedNs: 10, dispatchedNs: 30, call: c };
}

describe("ModelStatistics", () => {
  it("starts at zero in Triton's shape", () => {
    expect(new ModelStatistics().toJson("m", "3")).toEqual({
      name: "m", version: "3", last_inference: 0, inference_count: 0, execution_count: 0,
      inference_stats: Object.fromEntries(["success", "fail", "queue", "compute_input", "compute_infer", "compute_output",
        "cache_hit", "cache_miss"].map((k) => [k, { count: 0, ns: 0 }])),
      response_stats: {}, batch_stats: [], memory_usage: [],
    });
  });

  it("adds a success's whole time, queue time and its call's compute times; counts rows", () => {
    const s = new ModelStatistics();
    const c = call([request(3)], { waitNs: 5 });
    s.recordSuccess(times(c), 3, 2000);
    const j = s.toJson("m", "1");
    expect(j.inference_count).toBe(3);
    expect(j.inference_stats.success).toEqual({ count: 1, ns: 2000 });
    // enqueue → dispatch, plus the time the call waited in the stub behind another.
    expect(j.inference_stats.queue).toEqual({ count: 1, ns: 25 });
    expect(j.inference_stats.compute_input).toEqual({ count: 1, ns: 100 });
    expect(j.inference_stats.compute_infer).toEqual({ count: 1, ns: 1000 });
    expect(j.inference_stats.compute_output).toEqual({ count: 1, ns: 10 });
    // Executions are counted separately, once per call.
    expect(j.execution_count).toBe(0);
    expect(j.batch_stats).toEqual([]);
  });

  it("counts a batch once, under its size, while each of its requests adds the call's durations", () => {
    const s = new ModelStatistics();
    const reqs = [request(1), request(1), request(2)];
    const c = call(reqs);
    const before = Date.now();
    for (const r of reqs) {
      s.recordSuccess(times(c), requestRows(r, 8), 5000);
      s.recordExecution(c, 4);
    }
    s.recordExecution(call([request(1)], { inferNs: 7 }), 1);
    const j = s.toJson("m", "1");
    expect(j.execution_count).toBe(2);
    expect(j.inference_count).toBe(4);
    expect(j.inference_stats.compute_infer).toEqual({ count: 3, ns: 3000 });
    expect(j.batch_stats).toEqual([
      { batch_size: 1, compute_input: { count: 1, ns: 100 }, compute_infer: { count: 1, ns: 7 }, compute_output: { count: 1, ns: 10 } },
      { batch_size: 4, compute_input: { count: 1, ns: 100 }, compute_infer: { count: 1, ns: 1000 }, compute_output: { count: 1, ns: 10 } },
    ]);
    expect(j.last_inference).toBeGreaterThanOrEqual(before);
    expect(j.last_inference).toBeLessThanOrEqual(Date.now());
  });

  it("adds failures to fail only, by reason", () => {
    const s = new ModelStatistics();
    s.recordFailure({ startNs: 100 }, "OTHER", 400);
    s.recordFailure(times(), "BACKEND", 1100);
    s.recordFailure(times(), "BACKEND", 50);
    const j = s.toJson("m", "1");
    expect(j.inference_stats.fail).toEqual({ count: 3, ns: 300 + 1100 + 50 });
    expect(j.inference_stats.success.count).toBe(0);
    expect(j.inference_stats.queue).toEqual({ count: 0, ns: 0 });
    expect(j.inference_count).toBe(0);
    expect(s.failureCount("BACKEND")).toBe(2);
    expect(s.failureCount("OTHER")).toBe(1);
    expect(s.failureCount("REJECTED")).toBe(0);
  });

  it("counts a decoupled request's responses by index, with Triton's durations per kind", () => {
    const s = new ModelStatistics();
    const a: RequestTimes = { startNs: 0, dispatchedNs: 30 };
    s.recordResponse(a, "success", 130, 140); // infer 30→130, output 130→140
    s.recordResponse(a, "fail", 200, 210); // computing began when "0" was handed on (140)
    s.recordResponse(a, "empty", 260, 261); // the bare final flag: compute_infer and empty_response
    const b: RequestTimes = { startNs: 1000 }; // never dispatched: it began with the request
    s.recordResponse(b, "success", 1100, 1105);
    s.recordResponse(b, "cancel", 1200, 1300);
    const none = { count: 0, ns: 0 };
    const rs = s.toJson("m", "1").response_stats;
    expect(Object.keys(rs)).toEqual(["0", "1", "2"]);
    expect(Object.keys(rs["0"])).toEqual(["compute_infer", "compute_output", "success", "fail", "empty_response", "cancel"]);
    expect(rs["0"]).toEqual({
      compute_infer: { count: 2, ns: 100 + 100 }, compute_output: { count: 2, ns: 10 + 5 }, success: { count: 2, ns: 110 + 105 },
      fail: none, empty_response: none, cancel: none,
    });
    // A failed response extracted no outputs; a cancellation is only its own time.
    expect(rs["1"]).toEqual({
      compute_infer: { count: 1, ns: 70 }, compute_output: none, success: none, fail: { count: 1, ns: 70 }, empty_response: none,
      cancel: { count: 1, ns: 195 },
    });
    expect(rs["2"]).toEqual({ compute_infer: { count: 1, ns: 50 }, compute_output: none, success: none, fail: none, empty_response: { count: 1, ns: 50 }, cancel: none });
    // Request counts are not touched, and the JSON is a copy.
    expect(s.toJson("m", "1").inference_stats.success.count).toBe(0);
    rs["0"].success.count = 99;
    expect(s.toJson("m", "1").response_stats["0"].success.count).toBe(2);
  });

  it("sorts response indexes numerically", () => {
    const s = new ModelStatistics();
    const t: RequestTimes = { startNs: 0 };
    for (let i = 0; i < 11; i++) s.recordResponse(t, "success", i * 10 + 5, i * 10 + 10);
    expect(Object.keys(s.toJson("m", "1").response_stats)).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
  });

  it("exposes what the metrics read", () => {
    const s = new ModelStatistics();
    s.recordSuccess(times(call([request()])), 1, 3000);
    expect(s.successCount).toBe(1);
    expect(s.inferenceCount).toBe(1);
    expect(s.durations).toEqual({ request: 3000, queue: 20, input: 100, infer: 1000, output: 10 });
  });
});

describe("request accounting helpers", () => {
  it("names a response's kind: outputs, an error, a cancellation, a bare final flag", () => {
    expect(responseKind({ outputs: [], parameters: {}, release() {} })).toBe("success");
    expect(responseKind({ error: new ServerError("INTERNAL", "x") })).toBe("fail");
    expect(responseKind({ error: new ServerError("CANCELLED", "x") })).toBe("cancel");
    expect(responseKind(null)).toBe("empty");
  });

  it("names the failure by where the request got to", () => {
    expect(failureReason({ startNs: 0, dispatchedNs: 1 }, "CANCELLED")).toBe("BACKEND");
    expect(failureReason({ startNs: 0 }, "CANCELLED")).toBe("CANCELED");
    expect(failureReason({ startNs: 0, rejected: true }, "UNAVAILABLE")).toBe("REJECTED");
    expect(failureReason({ startNs: 0 }, "INVALID_ARG")).toBe("OTHER");
    expect(failureReason({ startNs: 0 }, undefined)).toBe("OTHER");
  });

  it("counts rows by the batch dimension only for batching models", () => {
    expect(requestRows(request(5), 8)).toBe(5);
    expect(requestRows(request(5), 0)).toBe(1);
    expect(requestRows(request(0), 8)).toBe(1);
    expect(requestRows({ ...request(), inputs: [] }, 8)).toBe(1);
  });

  it("stamps only requests the server counts", () => {
    const plain = request();
    markEnqueued(plain);
    markDispatched(plain);
    markRejected(plain);
    expect(plain.times).toBeUndefined();
    const counted = { ...request(), times: { startNs: 0 } as RequestTimes };
    markEnqueued(counted);
    markDispatched(counted);
    markRejected(counted);
    expect(counted.times.enqueuedNs).toBeGreaterThan(0);
    expect(counted.times.dispatchedNs).toBeGreaterThanOrEqual(counted.times.enqueuedNs!);
    expect(counted.times.rejected).toBe(true);
  });
});
