import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { validateModelConfig } from "../../../src/config/schema.js";
import { checkBytesElements, validateRequest } from "../../../src/core/validate.js";
import type { CoreRequest, CoreTensor } from "../../../src/core/types.js";
import { ServerError } from "../../../src/errors/index.js";
import { runs, serializeElements } from "../fuzz.js";

const M = validateModelConfig({
  name: "M", backend: "python",
  input: [
    { name: "INPUT0", data_type: "TYPE_INT32", dims: [2] },
    { name: "INPUT1", data_type: "TYPE_STRING", dims: [16] },
  ],
  output: [{ name: "OUTPUT0", data_type: "TYPE_STRING", dims: [16] }],
}, { modelName: "M" });

const strings = (n: number) => serializeElements(Array.from({ length: n }, (_, i) => new TextEncoder().encode(`s${i}`)));
const input1 = (data: Uint8Array, shape = [16]): CoreTensor => ({ name: "INPUT1", datatype: "BYTES", shape, data });
const input0 = (datatype: CoreTensor["datatype"] = "INT32"): CoreTensor => ({ name: "INPUT0", datatype, shape: [2], data: new Uint8Array(8) });
const req = (inputs: CoreTensor[], id = ""): CoreRequest => ({ model: "M", id, inputs, parameters: {} });

describe("BYTES element counts, with Triton's texts (infer_request.cc ValidateBytesInputs)", () => {
  it("accepts the shape's count, and refuses too few and too many", () => {
    expect(validateRequest(req([input0(), input1(strings(16))]), M)).toBe(1);
    expect(() => validateRequest(req([input0(), input1(strings(14))]), M)).toThrow(
      "[request id: <id_unknown>] expected 16 string elements for inference input 'INPUT1' for model 'M', got 14");
    expect(() => validateRequest(req([input0(), input1(strings(17))], "r9"), M)).toThrow(
      "[request id: r9] unexpected number of string elements 17 for inference input 'INPUT1' for model 'M', expecting 16");
    expect(() => validateRequest(req([input0(), input1(new Uint8Array(0))]), M)).toThrow(
      "expected 16 string elements for inference input 'INPUT1' for model 'M', got 0");
  });

  it("refuses a length cut short, and an element past the data", () => {
    const short = Buffer.concat([strings(15), Buffer.from([1, 0])]);
    expect(() => validateRequest(req([input0(), input1(short)]), M)).toThrow(
      "incomplete string length indicator for inference input 'INPUT1' for model 'M', expecting 4 bytes but only 2 bytes available. " +
      "Please make sure the string length indicator is in one buffer.");
    const long = Buffer.concat([strings(15), Buffer.from([9, 0, 0, 0, 1])]);
    expect(() => validateRequest(req([input0(), input1(long)]), M)).toThrow(/string element 15 of inference input 'INPUT1'/);
  });

  it("checks inputs in Triton's order: each input's datatype, shape and data before the next input's", () => {
    // INPUT0 comes first in the request: its datatype error wins over INPUT1's count.
    expect(() => validateRequest(req([input0("FP32"), input1(strings(14))]), M)).toThrow(
      "inference input 'INPUT0' data-type is 'FP32', but model 'M' expects 'INT32'");
    // INPUT1 first: its count is checked before INPUT0's datatype.
    expect(() => validateRequest(req([input1(strings(14)), input0("FP32")]), M)).toThrow(
      "expected 16 string elements for inference input 'INPUT1' for model 'M', got 14");
    // A shape that does not match comes before the element count of the same input.
    expect(() => validateRequest(req([input0(), input1(strings(14), [14])]), M)).toThrow(
      "unexpected shape for input 'INPUT1' for model 'M'. Expected [16], got [14]");
    // The number of inputs comes before any input's data.
    expect(() => validateRequest(req([input1(strings(14))]), M)).toThrow(/expected 2 inputs but got 1 inputs/);
  });

  it("agrees with a plain walk of the serialization, for any bytes and count", () => {
    fc.assert(fc.property(
      fc.oneof(
        fc.array(fc.uint8Array({ maxLength: 6 }), { maxLength: 6 }).map((e) => serializeElements(e)),
        fc.uint8Array({ maxLength: 24 }),
      ),
      fc.nat({ max: 7 }),
      (data, expected) => {
        // Reference: the element lengths, or the first problem.
        const view = Buffer.from(data);
        let at = 0;
        let n = 0;
        let problem: RegExp | null = null;
        while (at < view.length) {
          if (view.length - at < 4) { problem = /incomplete string length indicator/; break; }
          const len = view.readUInt32LE(at);
          n++;
          if (n > expected) { problem = new RegExp(`unexpected number of string elements ${n} `); break; }
          at += 4;
          if (len > view.length - at) { problem = /is longer than the data left for it/; break; }
          at += len;
        }
        if (!problem && n !== expected) problem = new RegExp(`expected ${expected} string elements .* got ${n}$`);
        let thrown: unknown;
        try {
          checkBytesElements("", "X", "M", expected, data);
        } catch (err) {
          thrown = err;
        }
        if (problem === null) {
          expect(thrown).toBeUndefined();
        } else {
          expect(thrown).toBeInstanceOf(ServerError);
          expect((thrown as ServerError).code).toBe("INVALID_ARG");
          expect((thrown as ServerError).message).toMatch(problem);
        }
      },
    ), runs(1000));
  });
});
