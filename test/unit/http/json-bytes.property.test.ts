import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesToJsonBuffer } from "../../../src/http/json-tensor.js";
import { encodeInferResponse } from "../../../src/http/infer-codec.js";
import { runs, serializeElements } from "../fuzz.js";

describe("BYTES outputs written as JSON", () => {
  it("carry every element's bytes unchanged, whatever they are", () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 12 }), { maxLength: 6 }), (elements) => {
      const json = bytesToJsonBuffer("o", serializeElements(elements), elements.length);
      // Read as latin1 each byte is one character: escapes aside, the text is the bytes.
      const back = (JSON.parse(json.toString("latin1")) as string[]).map((s) => Buffer.from(s, "latin1"));
      expect(back).toEqual(elements.map((e) => Buffer.from(e)));
    }), runs(500));
  });

  it("read back as the same strings when the elements are UTF-8 text", () => {
    fc.assert(fc.property(fc.array(fc.string({ unit: "grapheme", maxLength: 8 }), { maxLength: 6 }), (texts) => {
      const json = bytesToJsonBuffer("o", serializeElements(texts.map((t) => Buffer.from(t))), texts.length);
      expect(JSON.parse(json.toString("utf8"))).toEqual(texts);
    }), runs(500));
  });

  it("escape as rapidjson does, and refuse data that is not the shape's elements", () => {
    const json = bytesToJsonBuffer("o", serializeElements([Buffer.from('a"\\\n\u0001'), Buffer.from([0xff, 0])]), 2);
    expect(json.toString("latin1")).toBe('["a\\"\\\\\\n\\u0001","\xff\\u0000"]');
    expect(() => bytesToJsonBuffer("o", serializeElements([Buffer.from("a")]), 2)).toThrow(/output tensor shape does not match/);
  });

  it("leave the response body byte-exact (no U+FFFD for invalid UTF-8)", () => {
    const data = serializeElements([Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xff])]);
    const enc = encodeInferResponse({
      model: "m", version: "1", id: "", parameters: {}, release: () => {},
      outputs: [{ name: "o", datatype: "BYTES", shape: [2], data }, { name: "f", datatype: "INT8", shape: [1], data: new Uint8Array([3]) }],
    }, { defaultBinary: false, binary: new Map() });
    const body = Buffer.isBuffer(enc.json) ? enc.json : Buffer.from(enc.json);
    expect(enc.jsonBytes).toBe(body.byteLength);
    expect(body.includes(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22, 0x2c, 0x22, 0xff, 0x22]))).toBe(true);
    const parsed = JSON.parse(body.toString("latin1"));
    expect(parsed.outputs[1]).toEqual({ name: "f", datatype: "INT8", shape: [1], data: [3] });
  });
});
