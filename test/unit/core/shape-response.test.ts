/**
 * shapeResponse (src/core/shape-response.ts): every output without requested outputs; the requested
 * ones in the order asked; classification where asked; Triton's text for an output the model did
 * not produce; errors as ServerErrors, the release left to the caller.
 */
import { describe, expect, it } from "vitest";
import { shapeResponse } from "../../../src/core/shape-response.js";
import type { CoreRequest, CoreResponse, CoreTensor } from "../../../src/core/types.js";
import { ServerError } from "../../../src/errors/index.js";
import { decodeBytesElements } from "../../../src/ipc/datatypes.js";

const tensor = (name: string, values: number[]): CoreTensor =>
  ({ name, datatype: "FP32", shape: [values.length], data: new Uint8Array(Float32Array.from(values).buffer) });
const source = { modelDir: "/nowhere", config: { output: [], max_batch_size: 0 } };

function response(outputs: CoreTensor[]): CoreResponse & { releases: number } {
  const r = { model: "m", version: "1", id: "r", outputs, parameters: {}, releases: 0, release: () => void r.releases++ };
  return r;
}
const request = (outputs?: CoreRequest["outputs"]): CoreRequest => ({ model: "m", id: "r", inputs: [], parameters: {}, outputs });

describe("shapeResponse", () => {
  it("keeps every output when none were requested", () => {
    const r = response([tensor("A", [1]), tensor("B", [2])]);
    expect(shapeResponse(request(), source, r)).toBe(r);
    expect(shapeResponse(request([]), source, r).outputs.map((t) => t.name)).toEqual(["A", "B"]);
  });

  it("returns the requested outputs in the order asked", () => {
    const r = shapeResponse(request([{ name: "B" }, { name: "A" }]), source, response([tensor("A", [1]), tensor("B", [2]), tensor("C", [3])]));
    expect(r.outputs.map((t) => t.name)).toEqual(["B", "A"]);
  });

  it("classifies an output asked for with classification", () => {
    const r = shapeResponse(request([{ name: "A", classification: 2 }]), source, response([tensor("A", [0.25, 0.75, 0.5])]));
    expect(r.outputs[0].datatype).toBe("BYTES");
    expect(decodeBytesElements(r.outputs[0].data)!.map((b) => Buffer.from(b).toString())).toEqual(["0.750000:1", "0.500000:2"]);
  });

  it("refuses an output the model did not produce, with Triton's text, and leaves the release to the caller", () => {
    const r = response([tensor("A", [1])]);
    let error: unknown;
    try {
      shapeResponse(request([{ name: "Q" }]), source, r);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ code: "INTERNAL", message: "model 'm' did not produce the requested output 'Q'" });
    expect(r.releases).toBe(0);
  });
});
