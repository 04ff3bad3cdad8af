/** Issue 12's HTTP body rules: nesting depth, exact shapes, Accept-Encoding (Triton's texts). */
import { Buffer } from "node:buffer";
import * as zlib from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ServerError } from "../../../src/errors/index.js";
import { encodeContent, parseJsonObject, responseEncoding } from "../../../src/http/body.js";
import { decodeInferRequest } from "../../../src/http/infer-codec.js";
import { runs } from "../fuzz.js";

const decode = (text: string) => {
  const body = Buffer.from(text);
  return decodeInferRequest(body, body.byteLength, "m", undefined, false);
};
const failure = (fn: () => unknown): ServerError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ServerError) return err;
    throw err;
  }
  throw new Error("did not throw");
};
const nested = (depth: number, inner: string) => "[".repeat(depth) + inner + "]".repeat(depth);
const input = (shape: string, data: string, datatype = "FP32") =>
  `{"inputs":[{"name":"INPUT0","datatype":"${datatype}","shape":${shape},"data":${data}}]}`;

describe("JSON nesting depth", () => {
  const DEEP = "JSON nesting depth exceeds maximum allowed limit (100)";

  it("refuses `data` nested as deep as Triton refuses it (qa test_json_recursion_depth_limit)", () => {
    // Triton: `data` is depth 0, and a value at depth 100 is refused.
    expect(decode(input("[1,1]", nested(99, "123"))).request.inputs[0]!.shape).toEqual([1, 1]);
    for (const depth of [100, 120, 5000]) {
      const err = failure(() => decode(input("[1,1]", nested(depth, "123"))));
      expect([err.code, err.message]).toEqual(["INVALID_ARG", DEEP]);
    }
    expect(decode(input("[1,1]", nested(50, '"hello"'), "BYTES")).request.inputs[0]!.data.byteLength).toBe(9);
  });

  it("refuses any other body past 100 levels before parsing it", () => {
    expect(parseJsonObject(Buffer.from(`{"a":${nested(99, "1")}}`))).toBeTypeOf("object");
    const err = failure(() => parseJsonObject(Buffer.from(`{"ready":${nested(250_000, "true")}}`)));
    expect([err.code, err.message]).toEqual(["INVALID_ARG", DEEP]);
    const params = failure(() => decode(`{"parameters":{"p":${nested(200, "1")}},"inputs":[]}`));
    expect(params.message).toBe(DEEP);
  });
});

describe("shapes, exactly", () => {
  it("refuses a negative or non-integer dim with Triton's text and code (500, qa test_negative_dimensions)", () => {
    for (const shape of ["[2,-5]", "[1.5]", '["3"]', "[1e20]", "[18446744073709551616]", "[-9007199254740993]"]) {
      const err = failure(() => decode(input(shape, "[1]")));
      expect([err.code, err.message]).toEqual(
        ["INTERNAL", "Unable to parse 'shape': attempt to access JSON non-unsigned-integer as unsigned-integer"]);
    }
  });

  it("counts element overflow exactly (qa test_buffer_size_overflow)", () => {
    const err = failure(() => decode(input("[16,1152921504606846978]", "[1.0]")));
    expect(err.message).toBe("invalid shape for input 'INPUT0': shape [16,1152921504606846978] causes total element " +
      "count to exceed maximum size of 9223372036854775807");
    expect(err.code).toBe("INVALID_ARG");
    const bytes = failure(() => decode(input("[4,1152921504606846978]", "[1.0]")));
    expect(bytes.message).toBe("byte size overflow for input 'INPUT0': element count (4611686018427387912) * data type " +
      "size (4) exceeds maximum allowed size (9223372036854775807)");
  });

  it("prints dims past 2^53 with every digit, and dims past 2^63 as Triton's int64", () => {
    const body = Buffer.from(`{"inputs":[{"name":"I","datatype":"FP32","shape":[1152921504606846977],"parameters":{"binary_data_size":4}}]}`);
    const err = failure(() => decodeInferRequest(Buffer.concat([body, Buffer.alloc(4)]), body.byteLength, "m", undefined, true));
    expect(err.message).toBe("input byte size mismatch for input 'I' for model 'm'. Expected 4611686018427387908, got 4");
    const wrapped = failure(() => decode(input("[9223372036854775808]", "[1]")));
    expect(wrapped.message).toBe("invalid shape for input 'INPUT0': shape [-9223372036854775808] contains one or more invalid dimensions");
  });

  it("agrees with a bigint product for any shape (property)", () => {
    const dim = fc.oneof(fc.nat({ max: 5 }).map(BigInt), fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }));
    fc.assert(fc.property(fc.array(dim, { minLength: 1, maxLength: 4 }), (dims) => {
      const text = input(`[${dims.join(",")}]`, "[]");
      let product = 1n;
      let overflow = false;
      for (const d of dims) {
        if (d === 0n) { product = 0n; break; }
        if (product > ((1n << 63n) - 1n) / d) { overflow = true; break; }
        product *= d;
      }
      try {
        decode(text);
        expect(product).toBe(0n);
      } catch (err) {
        const message = (err as ServerError).message;
        if (overflow) expect(message).toContain(`shape [${dims.join(",")}] causes total element count to exceed`);
        else if (product * 4n > (1n << 63n) - 1n) expect(message).toContain(`element count (${product})`);
        else expect(message).toMatch(/unexpected|elements|data/i);
      }
    }), runs(300));
  });
});

describe("Accept-Encoding", () => {
  it("picks as Triton's CompressionTypeUsed does", () => {
    expect(responseEncoding(undefined)).toBe(null);
    expect(responseEncoding("gzip")).toBe("gzip");
    expect(responseEncoding("deflate, gzip")).toBe("deflate");
    expect(responseEncoding("deflate;q=0.5, gzip;q=0.8")).toBe("gzip");
    expect(responseEncoding("gzip;q=0.2, identity")).toBe(null);
    expect(responseEncoding("br, compress")).toBe(null);
    expect(responseEncoding("gzip;q=x, deflate;q=0.1")).toBe("deflate");
    expect(responseEncoding("gzip ")).toBe(null);
  });

  it("compresses to what zlib inflates back", async () => {
    const parts = [Buffer.from('{"a":1}'), new Uint8Array([1, 2, 3])];
    expect(zlib.gunzipSync(await encodeContent(parts, "gzip"))).toEqual(Buffer.from('{"a":1}\x01\x02\x03', "latin1"));
    expect(zlib.inflateSync(await encodeContent(parts, "deflate"))).toEqual(Buffer.from('{"a":1}\x01\x02\x03', "latin1"));
  });
});
