/**
 * Two passes over JSON text that JSON.parse cannot do for us.
 *
 * - `jsonDepthExceeds`: a linear scan of the bytes that tracks [ and { nesting outside strings,
 *   run before JSON.parse on every body the HTTP front end parses. Triton refuses JSON nested past
 *   HTTP_MAX_JSON_NESTING_DEPTH (100); checking the bytes first means no recursive walk (ours, or
 *   JSON.stringify's in an error text) ever meets a client-chosen depth.
 * - `parseExactJson`: a second, non-recursive parse of text JSON.parse has already accepted, in
 *   which integer literals a double cannot hold stay exact (as bigint). Only the rare request that
 *   carries such a literal where exactness matters (a shape dimension past 2^53) pays for it.
 */

/** Triton's HTTP_MAX_JSON_NESTING_DEPTH (src/common.h). */
export const MAX_JSON_DEPTH = 100;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * True when `bytes[start, end)` opens more than `limit` arrays/objects inside one another. It
 * never fails on malformed text (JSON.parse, run next, reports that); brackets inside strings do
 * not count. Cost: one pass, strings skipped with indexOf (memchr).
 */
export function jsonDepthExceeds(bytes: Uint8Array, limit: number, start = 0, end = bytes.byteLength): boolean {
  // The hot path: a body with at most `limit` opening brackets in all (strings included) cannot
  // nest deeper. Counting them is a few memchr calls for a typical request, where a byte loop in
  // JS costs some ns per byte; only bodies with many brackets (JSON tensors with nested rows) pay
  // for the exact scan below.
  if (fewOpenings(bytes, OPEN_ARRAY, limit, start, end, fewOpenings(bytes, OPEN_OBJECT, limit, start, end, 0)) <= limit) {
    return false;
  }
  let depth = 0;
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      i = stringEnd(bytes, i, end);
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/** `count` plus the occurrences of `byte` in [start, end), counting no further than limit + 1. */
function fewOpenings(bytes: Uint8Array, byte: number, limit: number, start: number, end: number, count: number): number {
  let at = start - 1;
  while (count <= limit) {
    at = bytes.indexOf(byte, at + 1);
    if (at < 0 || at >= end) break;
    count++;
  }
  return count;
}

/** Index of the quote that closes the string opened at `open`, or `end` when there is none. */
function stringEnd(bytes: Uint8Array, open: number, end: number): number {
  let at = open;
  for (;;) {
    at = bytes.indexOf(QUOTE, at + 1);
    if (at < 0 || at >= end) return end;
    // Escaped when an odd number of backslashes precede it.
    let slashes = 0;
    for (let j = at - 1; j > open && bytes[j] === BACKSLASH; j--) slashes++;
    if ((slashes & 1) === 0) return at;
  }
}

/** A JSON value as parseExactJson gives it: JSON.parse's, but unsafe integer literals are bigint. */
export type ExactJson = null | boolean | number | bigint | string | ExactJson[] | { [key: string]: ExactJson };

/**
 * Parses `text`, which JSON.parse has already accepted (its errors are the ones clients see), into
 * the same values JSON.parse gives, except that an integer literal (no fraction, no exponent)
 * outside the safe range is a bigint. Objects keep JSON.parse's semantics: the last duplicate key
 * wins and "__proto__" is an own property. An explicit stack, no recursion.
 */
export function parseExactJson(text: string): ExactJson {
  type Frame = { container: ExactJson[] | Record<string, ExactJson>; key: string | null };
  const stack: Frame[] = [];
  let i = 0;
  let result: ExactJson = null;
  const skipSpace = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      i++;
    }
  };
  const put = (value: ExactJson) => {
    const top = stack[stack.length - 1];
    if (top === undefined) {
      result = value;
    } else if (Array.isArray(top.container)) {
      top.container.push(value);
    } else {
      Object.defineProperty(top.container, top.key!, { value, writable: true, enumerable: true, configurable: true });
    }
  };
  for (;;) {
    skipSpace();
    const top = stack[stack.length - 1];
    // Where a value may end its container, or a member's key comes next.
    if (top !== undefined) {
      const c = text[i];
      if (c === "]" || c === "}") {
        i++;
        stack.pop();
        put(top.container);
        if (stack.length === 0) return result;
        continue;
      }
      if (c === ",") {
        i++;
        skipSpace();
      }
      if (!Array.isArray(top.container)) {
        const close = stringClose(text, i);
        top.key = JSON.parse(text.slice(i, close + 1)) as string;
        i = close + 1;
        skipSpace();
        i++; // ':'
        skipSpace();
      }
    }
    const c = text[i];
    if (c === "[" || c === "{") {
      i++;
      stack.push({ container: c === "[" ? [] : Object.create(Object.prototype) as Record<string, ExactJson>, key: null });
      continue;
    }
    let value: ExactJson;
    if (c === '"') {
      const close = stringClose(text, i);
      value = JSON.parse(text.slice(i, close + 1)) as string;
      i = close + 1;
    } else if (c === "t") {
      value = true;
      i += 4;
    } else if (c === "f") {
      value = false;
      i += 5;
    } else if (c === "n") {
      value = null;
      i += 4;
    } else {
      const from = i;
      let integer = true;
      while (i < text.length) {
        const d = text[i]!;
        if (d === "." || d === "e" || d === "E") integer = false;
        else if (!(d === "-" || d === "+" || (d >= "0" && d <= "9"))) break;
        i++;
      }
      const literal = text.slice(from, i);
      const n = Number(literal);
      value = integer && !Number.isSafeInteger(n) ? BigInt(literal) : n;
    }
    put(value);
    if (stack.length === 0) return result;
  }
}

/** Index of the quote closing the string literal that opens at `open`. */
function stringClose(text: string, open: number): number {
  let at = open;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at < 0) throw new SyntaxError("unterminated string (text was not checked by JSON.parse)");
    let slashes = 0;
    for (let j = at - 1; j > open && text.charCodeAt(j) === 0x5c; j--) slashes++;
    if ((slashes & 1) === 0) return at;
  }
}
