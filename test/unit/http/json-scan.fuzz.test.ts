/**
 * The JSON depth pre-scan and the exact parse (src/http/json-scan.ts), against a reference: the
 * depth a recursive walk of JSON.parse's value finds, and JSON.parse's own values.
 */
import { Buffer } from "node:buffer";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH, jsonDepthExceeds, parseExactJson, type ExactJson } from "../../../src/http/json-scan.js";
import { runs } from "../fuzz.js";

/** Nesting depth of a parsed value (arrays and objects count 1 each). */
function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + v.reduce((m: number, e) => Math.max(m, depthOf(e)), 0);
  if (typeof v === "object" && v !== null) return 1 + Object.values(v).reduce((m: number, e) => Math.max(m, depthOf(e)), 0);
  return 0;
}

/** Strings full of brackets, quotes and backslashes: what a scanner must not count. */
const trickyString = fc.array(fc.constantFrom("[", "]", "{", "}", "\"", "\\", "a", "é", "\n"), { maxLength: 8 }).map((cs) => cs.join(""));
const valueArb = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small" },
    trickyString, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(trickyString, tie("value"), { maxKeys: 3 })),
})).value;

describe("jsonDepthExceeds", () => {
  it("agrees with the depth of the parsed value, strings and escapes included", () => {
    fc.assert(fc.property(valueArb, fc.nat({ max: 6 }), fc.nat({ max: 120 }), (v, limit, wrap) => {
      let text = JSON.stringify(v);
      // Wrapping in arrays pushes some cases past both the small limits and the real one.
      text = "[".repeat(wrap) + text + "]".repeat(wrap);
      const depth = depthOf(JSON.parse(text));
      const bytes = Buffer.from(text);
      expect(jsonDepthExceeds(bytes, limit)).toBe(depth > limit);
      expect(jsonDepthExceeds(bytes, MAX_JSON_DEPTH)).toBe(depth > MAX_JSON_DEPTH);
    }), runs(400));
  });

  it("counts from `start` to `end` only, and never throws on arbitrary bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 5 }), (bytes, limit) => {
      expect(typeof jsonDepthExceeds(bytes, limit)).toBe("boolean");
    }), runs(300));
    const text = Buffer.from("[[[" + "]]]" + "[".repeat(200));
    expect(jsonDepthExceeds(text, 3, 0, 6)).toBe(false);
    expect(jsonDepthExceeds(text, 2, 0, 6)).toBe(true);
    expect(jsonDepthExceeds(text, 100)).toBe(true);
  });

  it("takes exactly 100 levels and refuses 101; brackets in strings do not count", () => {
    expect(jsonDepthExceeds(Buffer.from("[".repeat(100) + "]".repeat(100)), MAX_JSON_DEPTH)).toBe(false);
    expect(jsonDepthExceeds(Buffer.from("[".repeat(101) + "]".repeat(101)), MAX_JSON_DEPTH)).toBe(true);
    expect(jsonDepthExceeds(Buffer.from(JSON.stringify({ s: "[".repeat(500), t: "\\\"[[[" })), 1)).toBe(false);
    expect(jsonDepthExceeds(Buffer.from('{"a":"\\\\"' + ",\"b\":[[1]]}"), 2)).toBe(true);
  });
});

const show = (v: ExactJson | unknown) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x));

describe("parseExactJson", () => {
  it("gives JSON.parse's value for text without unsafe integers", () => {
    fc.assert(fc.property(valueArb, (v) => {
      const text = JSON.stringify(v, null, v === null ? 0 : 1);
      expect(show(parseExactJson(text))).toBe(show(JSON.parse(text)));
    }), runs(400));
  });

  it("keeps every digit of integer literals past 2^53, and only of those", () => {
    fc.assert(fc.property(fc.array(fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }), { maxLength: 6 }), (values) => {
      const text = `{"shape":[${values.join(", ")}]}`;
      const parsed = parseExactJson(text) as { shape: (number | bigint)[] };
      parsed.shape.forEach((d, i) => {
        const safe = values[i]! >= BigInt(Number.MIN_SAFE_INTEGER) && values[i]! <= BigInt(Number.MAX_SAFE_INTEGER);
        expect(typeof d).toBe(safe ? "number" : "bigint");
        expect(BigInt(d)).toBe(values[i]);
      });
    }), runs(300));
    expect(parseExactJson("[1152921504606846977, 1e20, 2.5]")).toEqual([1152921504606846977n, 1e20, 2.5]);
  });

  it("keeps JSON.parse's object semantics: last duplicate wins, __proto__ is an own key", () => {
    const v = parseExactJson('{"a":1,"a":2,"__proto__":{"x":1}}') as Record<string, unknown>;
    expect(v.a).toBe(2);
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(["a", "__proto__"]);
  });

  it("parses 100 000 levels without recursion", () => {
    const text = "[".repeat(100_000) + "]".repeat(100_000);
    let v = parseExactJson(text);
    let depth = 0;
    while (Array.isArray(v) && v.length <= 1) {
      depth++;
      v = (v[0] ?? null) as ExactJson;
    }
    expect(depth).toBe(100_000);
  });
});
