/** What a request's sequence parameters become on the wire: the handler's correlationId(), flags() and slot. */
import { describe, expect, it } from "vitest";
import { correlationIdOf, sequenceFlags, wireRequests } from "../../../src/backends/stub/marshal.js";
import type { CoreRequest } from "../../../src/core/types.js";
import { REQUEST_FLAG } from "../../../src/ipc/protocol.js";
import { TRITONSERVER_REQUEST_FLAG_SEQUENCE_END, TRITONSERVER_REQUEST_FLAG_SEQUENCE_START } from "../../../stub/sdk/index.js";

describe("sequence parameters on the wire", () => {
  it("flags are Triton's START (1) and END (2), the values the SDK exports", () => {
    expect(REQUEST_FLAG).toEqual({ SEQUENCE_START: TRITONSERVER_REQUEST_FLAG_SEQUENCE_START, SEQUENCE_END: TRITONSERVER_REQUEST_FLAG_SEQUENCE_END });
    expect([TRITONSERVER_REQUEST_FLAG_SEQUENCE_START, TRITONSERVER_REQUEST_FLAG_SEQUENCE_END]).toEqual([1, 2]);
    expect(sequenceFlags({})).toBe(0);
    expect(sequenceFlags({ sequence_start: true })).toBe(1);
    expect(sequenceFlags({ sequence_end: true })).toBe(2);
    expect(sequenceFlags({ sequence_start: true, sequence_end: true })).toBe(3);
    expect(sequenceFlags({ sequence_start: false, sequence_end: false })).toBe(0);
  });

  it("a string id stays a string; an integer one is a uint64 bigint (a negative gRPC int64 wraps); none is ''", () => {
    expect(correlationIdOf("abc")).toBe("abc");
    expect(correlationIdOf(42)).toBe(42n);
    expect(correlationIdOf(-1)).toBe(2n ** 64n - 1n);
    expect(correlationIdOf(undefined)).toBe("");
    expect(correlationIdOf(1.5)).toBe("");
  });

  it("wireRequests carries them; the batcher's id, flags and slot when it set them (slot -1 without)", () => {
    const req = (parameters: CoreRequest["parameters"], slot?: number): CoreRequest => ({ model: "m", id: "r", parameters, inputs: [], sequence: slot === undefined ? undefined : { id: 70n, flags: 3, slot } });
    const wire = wireRequests([req({ sequence_id: 7, sequence_start: true }, 3), req({ sequence_id: "s", sequence_end: true }), req({})],
      { alloc: () => { throw new Error("no tensors"); } }, [], (() => { let k = 0; return () => k++; })());
    expect(wire.map((w) => [w.correlationId, w.flags, w.slot])).toEqual([[70n, 3, 3], ["s", 2, -1], ["", 0, -1]]); // the batcher's id and flags win
  });
});
