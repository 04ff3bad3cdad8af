/**
 * Properties of the config parsers (config.pbtxt text and the load API's JSON override), seeded
 * and bounded: a config printed in any of the text format's spellings parses to the same plain
 * object as its JSON form, and any other text is refused with INVALID_ARG naming the file — never
 * a TypeError or RangeError from the parser's insides.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ServerError } from "../../../src/errors/index.js";
import { parseConfigJson, parseConfigText } from "../../../src/config/parse.js";
import { runs, valueOrClientError } from "../fuzz.js";

const TYPES = ["TYPE_BOOL", "TYPE_UINT8", "TYPE_INT32", "TYPE_INT64", "TYPE_FP16", "TYPE_FP32", "TYPE_FP64", "TYPE_STRING", "TYPE_BF16"];
const KINDS = ["KIND_CPU", "KIND_GPU", "KIND_MODEL"];

// Printable ASCII, quotes and backslashes included (the printer escapes them).
const textArb = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 8 });
const tensorArb = fc.record({
  name: textArb,
  data_type: fc.constantFrom(...TYPES),
  dims: fc.array(fc.integer({ min: -1, max: 16 }), { minLength: 1, maxLength: 3 }),
  optional: fc.option(fc.constant(true), { nil: undefined }),
});

/** A config as toPlain gives it back: only fields with non-default values. */
const configArb = fc.record({
  name: textArb,
  backend: fc.option(fc.constantFrom("python", "onnxruntime", "typescript"), { nil: undefined }),
  max_batch_size: fc.option(fc.integer({ min: 1, max: 64 }), { nil: undefined }),
  version_policy: fc.option(fc.oneof(
    fc.integer({ min: 1, max: 3 }).map((n) => ({ latest: { num_versions: n } })),
    fc.constant({ all: {} }),
    fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 }).map((v) => ({ specific: { versions: v } })),
  ), { nil: undefined }),
  input: fc.option(fc.array(tensorArb, { minLength: 1, maxLength: 3 }), { nil: undefined }),
  output: fc.option(fc.array(tensorArb.map(({ optional: _o, ...t }) => t), { minLength: 1, maxLength: 2 }), { nil: undefined }),
  instance_group: fc.option(fc.array(fc.record({
    count: fc.integer({ min: 1, max: 4 }), kind: fc.constantFrom(...KINDS),
  }), { minLength: 1, maxLength: 2 }), { nil: undefined }),
  dynamic_batching: fc.option(fc.record({
    preferred_batch_size: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 3 }),
    max_queue_delay_microseconds: fc.integer({ min: 1, max: 1_000_000 }),
  }, { requiredKeys: [] }).filter((d) => Object.keys(d).length > 0), { nil: undefined }),
  parameters: fc.option(fc.dictionary(textArb, textArb.map((v) => ({ string_value: v })), { minKeys: 1, maxKeys: 2 }), { nil: undefined }),
}, { requiredKeys: ["name"] });
type Config = typeof configArb extends fc.Arbitrary<infer T> ? T : never;

/** How the text format lets a config be spelt: separators, list forms, comments, colons. */
const styleArb = fc.record({
  sep: fc.constantFrom(" ", "\n", ", ", "; ", "\n  # a comment\n"),
  listForm: fc.boolean(),
  scalarList: fc.boolean(),
  colonBeforeBrace: fc.boolean(),
});
type Style = typeof styleArb extends fc.Arbitrary<infer T> ? T : never;

const quote = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

function printValue(v: unknown, style: Style): string {
  if (typeof v === "string") return /^(TYPE|KIND)_/.test(v) ? v : quote(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return `${style.colonBeforeBrace ? ": " : " "}{ ${printFields(v as Record<string, unknown>, style)} }`;
}

function printField(key: string, v: unknown, style: Style): string {
  const scalar = (x: unknown) => typeof x !== "object";
  const print = (x: unknown) => (scalar(x) ? `${key}: ${printValue(x, style)}` : `${key}${printValue(x, style)}`);
  if (!Array.isArray(v)) return print(v);
  if (v.every(scalar) ? style.scalarList : style.listForm) {
    const items = v.map((x) => (scalar(x) ? printValue(x, style) : `{ ${printFields(x as Record<string, unknown>, style)} }`));
    return `${key}: [ ${items.join(", ")} ]`;
  }
  return v.map(print).join(style.sep);
}

function printFields(obj: Record<string, unknown>, style: Style): string {
  return Object.entries(obj).map(([k, v]) => {
    if (k === "parameters") {
      return Object.entries(v as Record<string, unknown>)
        .map(([pk, pv]) => `parameters { key: ${quote(pk)} value${printValue(pv, style)} }`).join(style.sep);
    }
    return printField(k, v, style);
  }).join(style.sep);
}

/** Drops the option fields fast-check left undefined. */
const defined = (c: Config) => JSON.parse(JSON.stringify(c)) as Record<string, unknown>;

function expectInvalidArg(fn: () => unknown, file: string): void {
  const got = valueOrClientError(fn);
  if (got !== undefined) return;
  try {
    fn();
  } catch (err) {
    expect((err as ServerError).code).toBe("INVALID_ARG");
    expect((err as ServerError).message.startsWith(`failed to parse ${file}`)).toBe(true);
  }
}

describe("parseConfigText", () => {
  it("parses a config printed in any spelling to its plain object", () => {
    fc.assert(fc.property(configArb, styleArb, (config, style) => {
      const text = printFields(defined(config), style);
      expect(parseConfigText(text, "config.pbtxt")).toEqual(defined(config));
    }), runs(100));
  });

  it("refuses a valid config with a character changed, dropped or added with INVALID_ARG, or parses it", () => {
    const mutated = fc.record({ config: configArb, style: styleArb }).chain(({ config, style }) => {
      const text = printFields(defined(config), style);
      return fc.record({
        text: fc.constant(text),
        at: fc.nat({ max: text.length }),
        op: fc.constantFrom("replace", "drop", "insert"),
        char: fc.oneof(fc.constantFrom("{", "}", "[", "]", ":", '"', "\\", "#", "-", "0", "\n", "e", "x", "\u0000", "\ud800"), fc.string({ maxLength: 1 })),
      });
    });
    fc.assert(fc.property(mutated, ({ text, at, op, char }) => {
      const t = text.slice(0, at) + (op === "drop" ? "" : char) + text.slice(op === "insert" ? at : at + 1);
      expectInvalidArg(() => parseConfigText(t, "m/config.pbtxt"), "m/config.pbtxt");
    }), runs(150));
  });

  it("refuses token soup and arbitrary text with INVALID_ARG", () => {
    const token = fc.oneof(
      fc.constantFrom(
        "name", "input", "output", "dims", "data_type", "max_batch_size", "instance_group", "kind", "count",
        "parameters", "key", "value", "string_value", "dynamic_batching", "version_policy", "latest", "all",
        "ensemble_scheduling", "step", "input_map", "model_warmup", "sequence_batching", "unknown_field",
        ":", "{", "}", "[", "]", "<", ">", ",", ";", "\n", "#x\n", '"s"', "'s'", '"\\x4"', '"\\777"', "TYPE_FP32", "KIND_GPU",
        "-1", "0", "1.5", "1e99", "99999999999999999999", "-9223372036854775809", "0x7f", "inf", "nan", "true", "false",
      ),
      fc.string({ maxLength: 4 }),
    );
    const textArb2 = fc.oneof(fc.array(token, { maxLength: 30 }).map((t) => t.join(" ")), fc.string({ unit: "binary", maxLength: 40 }));
    fc.assert(fc.property(textArb2, (text) => {
      expectInvalidArg(() => parseConfigText(text, "config.pbtxt"), "config.pbtxt");
    }), runs(500));
  });

  it("survives nesting far deeper than the schema", () => {
    for (const depth of [10, 1000, 20_000]) {
      const text = "ensemble_scheduling { step { " + "input_map { ".repeat(depth) + "}".repeat(depth) + " } }";
      expectInvalidArg(() => parseConfigText(text, "config.pbtxt"), "config.pbtxt");
      expectInvalidArg(() => parseConfigText("[".repeat(depth), "config.pbtxt"), "config.pbtxt");
    }
  });
});

const FIELD_KEY = /"(max_batch_size|version_policy|num_versions|data_type|instance_group|dynamic_batching|preferred_batch_size|max_queue_delay_microseconds|string_value)":/g;

describe("parseConfigJson", () => {
  it("parses a config's JSON form, snake_case or lowerCamel, enums in any case, to the same object", () => {
    fc.assert(fc.property(configArb, fc.boolean(), fc.boolean(), (config, camel, lower) => {
      const plain = defined(config);
      const json = JSON.stringify(plain, (key, v: unknown) => (lower && typeof v === "string" && /^(TYPE|KIND)_/.test(v) ? v.toLowerCase() : v));
      // Field names only: a parameters key is the author's text and keeps its spelling.
      const spelt = camel ? json.replace(FIELD_KEY, (_m, k: string) => `"${k.replace(/_([a-z])/g, (_x, c: string) => c.toUpperCase())}":`) : json;
      expect(parseConfigJson(spelt)).toEqual(plain);
    }), runs(200));
  });

  it("refuses any other JSON with INVALID_ARG", () => {
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.dictionary(fc.constantFrom("name", "input", "max_batch_size", "dims", "instance_group", "version_policy", "__proto__", "toString"), fc.jsonValue({ maxDepth: 2 })),
      fc.record({ input: fc.array(fc.dictionary(fc.constantFrom("name", "data_type", "dims", "dataType", "reshape"), fc.jsonValue({ maxDepth: 2 })), { maxLength: 2 }) }),
    );
    fc.assert(fc.property(fc.oneof(value.map((v) => JSON.stringify(v) ?? ""), fc.string({ maxLength: 20 })), (text) => {
      const got = valueOrClientError(() => parseConfigJson(text));
      if (got !== undefined) expect(typeof got).toBe("object");
    }), runs(500));
  });
});
