import { describe, expect, it } from "vitest";
import {
  countBytesElements, jsonToTensorData, tensorToJsonData,
} from "../../../src/http/json-tensor.js";
import type { Datatype } from "../../../src/ipc/datatypes.js";
import { bytesOf, serializeStrings } from "./helpers.js";

describe("jsonToTensorData", () => {
  it("writes little-endian bytes for each numeric type", () => {
    const cases: Array<[Datatype, unknown[], ArrayBufferView]> = [
      ["UINT8", [0, 255], new Uint8Array([0, 255])],
      ["INT8", [-128, 127], new Int8Array([-128, 127])],
      ["UINT16", [65535, 1], new Uint16Array([65535, 1])],
      ["INT16", [-32768, 2], new Int16Array([-32768, 2])],
      ["UINT32", [4294967295, 3], new Uint32Array([4294967295, 3])],
      ["INT32", [-2147483648, 4], new Int32Array([-2147483648, 4])],
      ["INT64", [-5, 2 ** 53], new BigInt64Array([-5n, 2n ** 53n])],
      ["UINT64", [7, 2 ** 60], new BigUint64Array([7n, 2n ** 60n])],
      ["FP32", [1.5, -2], new Float32Array([1.5, -2])],
      ["FP64", [0.1, 3], new Float64Array([0.1, 3])],
    ];
    for (const [dt, data, expected] of cases) {
      expect(Buffer.from(jsonToTensorData("x", dt, [2], data)), dt).toEqual(Buffer.from(bytesOf(expected)));
    }
  });

  it("flattens nested data row major", () => {
    const out = jsonToTensorData("x", "INT32", [2, 3], [[1, 2, 3], [4, 5, 6]]);
    expect([...new Int32Array(out.buffer, out.byteOffset, 6)]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("encodes BOOL as one byte per element", () => {
    expect([...jsonToTensorData("b", "BOOL", [3], [true, false, true])]).toEqual([1, 0, 1]);
  });

  it("serializes BYTES strings as UTF-8 with 4-byte lengths", () => {
    const values = ["", "a\u0000b", "héllo ✓ 🎉"];
    const out = jsonToTensorData("s", "BYTES", [3], values);
    expect(Buffer.from(out)).toEqual(serializeStrings(values));
  });

  it("refuses FP16 and BF16 with Triton's text", () => {
    expect(() => jsonToTensorData("half", "FP16", [1], [1])).toThrow(
      "receiving FP16 data via JSON is not supported. Please use the binary data format for input half",
    );
    expect(() => jsonToTensorData("bf", "BF16", [1], [1])).toThrow(/BF16 data via JSON is not supported/);
  });

  it("refuses a count that does not match the shape, naming the input", () => {
    expect(() => jsonToTensorData("in0", "FP32", [2, 2], [1, 2, 3])).toThrow(
      /input 'in0'.*needs 4 elements, got 3/,
    );
    expect(() => jsonToTensorData("in0", "FP32", [1], [[1], [2]])).toThrow(/got 2/);
  });

  it.each<[Datatype, unknown]>([
    ["INT32", 1.5], ["INT32", "1"], ["INT8", 128], ["UINT8", -1], ["UINT32", 2 ** 32],
    ["INT64", 2 ** 63], ["UINT64", -1], ["FP32", "1.0"], ["FP64", null], ["BOOL", 1],
    ["BYTES", 5], ["BYTES", null],
  ])("refuses a %s element %j, naming the input", (dt, value) => {
    expect(() => jsonToTensorData("bad_in", dt, [1], [value])).toThrow(/input 'bad_in'.*element 0/);
  });

  it("refuses data that is not an array", () => {
    expect(() => jsonToTensorData("x", "INT32", [1], 5)).toThrow(/input 'x'.*array/);
  });

  it("accepts an empty tensor", () => {
    expect(jsonToTensorData("x", "FP32", [0, 3], []).byteLength).toBe(0);
  });
});

describe("tensorToJsonData", () => {
  const t = (datatype: Datatype, shape: number[], data: Uint8Array) => ({ name: "out", datatype, shape, data });

  it("writes numbers for numeric types and exact 64-bit integers", () => {
    expect(tensorToJsonData(t("INT32", [3], bytesOf(new Int32Array([-1, 0, 7]))))).toBe("[-1,0,7]");
    const big = new BigInt64Array([9007199254740993n, -9223372036854775808n]);
    expect(tensorToJsonData(t("INT64", [2], bytesOf(big)))).toBe("[9007199254740993,-9223372036854775808]");
    const ubig = new BigUint64Array([18446744073709551615n]);
    expect(tensorToJsonData(t("UINT64", [1], bytesOf(ubig)))).toBe("[18446744073709551615]");
  });

  it("writes floats as their shortest double text and non-finite values as null", () => {
    expect(JSON.parse(tensorToJsonData(t("FP32", [2], bytesOf(new Float32Array([0.5, 0.1])))))).toEqual([
      0.5, Math.fround(0.1),
    ]);
    expect(tensorToJsonData(t("FP64", [3], bytesOf(new Float64Array([NaN, Infinity, 1]))))).toBe("[null,null,1]");
  });

  it("reads unaligned views", () => {
    const backing = new Uint8Array(13);
    backing.set(bytesOf(new Float32Array([1, 2, 3])), 1);
    expect(tensorToJsonData(t("FP32", [3], backing.subarray(1)))).toBe("[1,2,3]");
  });

  it("writes BOOL as JSON booleans", () => {
    expect(tensorToJsonData(t("BOOL", [3], new Uint8Array([1, 0, 2])))).toBe("[true,false,true]");
  });

  it("writes BYTES as strings, NUL and multi-byte UTF-8 included", () => {
    const values = ["", "a\u0000b", "héllo ✓ 🎉"];
    const text = tensorToJsonData(t("BYTES", [3], serializeStrings(values)));
    expect(JSON.parse(text)).toEqual(values);
  });

  it("replaces invalid UTF-8 in BYTES with U+FFFD", () => {
    const text = tensorToJsonData(t("BYTES", [1], serializeStrings([new Uint8Array([0x61, 0xff])])));
    expect(JSON.parse(text)).toEqual(["a\ufffd"]);
  });

  it("refuses FP16 and BF16 outputs as JSON", () => {
    expect(() => tensorToJsonData(t("FP16", [1], new Uint8Array(2)))).toThrow(
      /sending FP16 data via JSON is not supported\. Please use the binary data format for output 'out'/,
    );
    expect(() => tensorToJsonData(t("BF16", [1], new Uint8Array(2)))).toThrow(/BF16/);
  });

  it("refuses data whose size does not match the shape", () => {
    expect(() => tensorToJsonData(t("INT32", [2], new Uint8Array(4)))).toThrow(/does not match size of output for 'out'/);
    expect(() => tensorToJsonData(t("BYTES", [2], serializeStrings(["x"])))).toThrow(/does not match/);
    expect(() => tensorToJsonData(t("BYTES", [1], serializeStrings(["x", "y"])))).toThrow(/does not match/);
  });
});

describe("countBytesElements", () => {
  it("counts well-formed elements and flags truncation", () => {
    expect(countBytesElements(serializeStrings(["a", "", "ccc"]))).toBe(3);
    expect(countBytesElements(new Uint8Array(0))).toBe(0);
    expect(countBytesElements(serializeStrings(["abc"]).subarray(0, 6))).toBe(-1);
    expect(countBytesElements(new Uint8Array([1, 0]))).toBe(-1);
  });
});

describe("tensorToJsonData over Buffer views", () => {
  it("realigns an unaligned Buffer view (whose slice() is not a copy)", () => {
    const backing = Buffer.alloc(17);
    backing.set(bytesOf(new BigInt64Array([-2n, 3n])), 1);
    const view = backing.subarray(1);
    expect(tensorToJsonData({ name: "o", datatype: "INT64", shape: [2], data: view })).toBe("[-2,3]");
  });
});
