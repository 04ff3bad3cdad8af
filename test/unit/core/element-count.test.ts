import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { INT64_MAX, exactElementCount } from "../../../src/core/element-count.js";
import { runs } from "../fuzz.js";

/** Triton's GetElementCount, literally, in bigint. */
function reference(dims: bigint[]): bigint | "invalid" | "overflow" {
  let cnt = 0n;
  let first = true;
  for (const d of dims) {
    if (d < 0n) return "invalid";
    if (d === 0n) return 0n;
    if (first) {
      cnt = d;
      first = false;
    } else {
      if (cnt > INT64_MAX / d) return "overflow";
      cnt *= d;
    }
  }
  return first ? 1n : cnt;
}

describe("exactElementCount", () => {
  it("matches GetElementCount for numbers and bigints alike", () => {
    const dim = fc.oneof(fc.bigInt({ min: -2n, max: 40n }), fc.bigInt({ min: 0n, max: INT64_MAX }), fc.constantFrom(0n, 1n << 32n, 1n << 60n, (1n << 60n) + 1n));
    fc.assert(fc.property(fc.array(dim, { maxLength: 6 }), fc.boolean(), (dims, asNumbers) => {
      const given = dims.map((d) => (asNumbers && d <= BigInt(Number.MAX_SAFE_INTEGER) && d >= -2n ? Number(d) : d));
      expect(exactElementCount(given)).toBe(reference(dims));
    }), runs(500));
  });

  it("is exact where doubles are not, and keeps Triton's order of checks", () => {
    expect(exactElementCount([(1n << 60n) + 1n, 3n])).toBe(((1n << 60n) + 1n) * 3n);
    expect(exactElementCount([16, 1n << 60n])).toBe("overflow");
    expect(exactElementCount([1n << 40n, 1n << 40n, 0])).toBe("overflow");
    expect(exactElementCount([0, 1n << 62n, 1n << 62n])).toBe(0n);
    expect(exactElementCount([2, -5])).toBe("invalid");
    expect(exactElementCount([])).toBe(1n);
  });
});
