/**
 * A request shape's element count as Triton's GetElementCount (src/common.cc) computes it, in
 * int64: dimensions in order, 0 ends the count at 0, a negative dimension is invalid, and a
 * product past INT64_MAX overflows. Exact for any dimension, where a product of doubles is not:
 * the front ends take dims as bigint when one is past 2^53.
 */
export const INT64_MAX = (1n << 63n) - 1n;

export type ElementCount = bigint | "invalid" | "overflow";

const SAFE = Number.MAX_SAFE_INTEGER;

/** The count, "invalid" (a negative dim) or "overflow"; dims are int64 values. */
export function exactElementCount(dims: readonly (number | bigint)[]): ElementCount {
  // Doubles while the running product is certainly exact; bigint from the first dim past that.
  let n = 1;
  let i = 0;
  for (; i < dims.length; i++) {
    const d = dims[i]!;
    if (typeof d !== "number" || d > SAFE) break;
    if (d < 0) return "invalid";
    if (d === 0) return 0n;
    if (n * d > SAFE) break;
    n *= d;
  }
  if (i === dims.length) return BigInt(n);
  let big = BigInt(n);
  for (; i < dims.length; i++) {
    const d = BigInt(dims[i]!);
    if (d < 0n) return "invalid";
    if (d === 0n) return 0n;
    if (big > INT64_MAX / d) return "overflow";
    big *= d;
  }
  return big;
}
