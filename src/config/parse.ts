/**
 * config.pbtxt (protobuf text format) and the load API's JSON config override → a plain object
 * with Triton's snake_case field names, enums as their names, int64 as numbers, and only the
 * fields the author wrote (defaults are the schema's business, not the parser's).
 *
 * The schema is model_config.proto, read once at first use. It is the single definition of the
 * config's shape; the zod schema and the JSON printer are checked against it.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import textformat from "protobufjs/ext/textformat.js";
import protojson from "protobufjs/ext/protojson.js";
import { configOverrideInvalid, configParseFailed, protoFileNotFound } from "../errors/index.js";

const PROTO_NAME = "model_config.proto";

/**
 * Where the .proto lives at run time. Under vitest this module runs from src/config/; once built
 * it runs from dist/src/config/, and tsc does not copy .proto files, so the source tree's copy is
 * found relative to dist/ (the repository ships src/ alongside dist/).
 */
const PROTO_CANDIDATES = [
  new URL(`./${PROTO_NAME}`, import.meta.url),
  new URL(`../../../src/config/${PROTO_NAME}`, import.meta.url),
];

let cachedRoot: protobuf.Root | undefined;

/** The reflected schema (package `inference`), parsed with Triton's snake_case names kept. */
export function configRoot(): protobuf.Root {
  if (cachedRoot) return cachedRoot;
  const found = PROTO_CANDIDATES.map((u) => fileURLToPath(u)).find((p) => existsSync(p));
  if (!found) {
    throw protoFileNotFound(PROTO_NAME, PROTO_CANDIDATES.map((u) => fileURLToPath(u)));
  }
  const root = protobuf.parse(readFileSync(found, "utf8"), { keepCase: true }).root;
  root.resolveAll();
  cachedRoot = root;
  return root;
}

/** The reflected type for a message of the schema, e.g. "ModelConfig" or "ModelInput". */
export function configType(name = "ModelConfig"): protobuf.Type {
  return configRoot().lookupType(`inference.${name}`);
}

/** Plain-object conversion shared by both parsers: the form every later stage consumes. */
function toPlain(type: protobuf.Type, message: protobuf.Message): Record<string, unknown> {
  // defaults:false keeps "absent" distinguishable from "zero"; arrays/objects false omits empty
  // repeated and map fields, which proto3 cannot tell from absent anyway.
  return type.toObject(message, { longs: Number, enums: String, defaults: false }) as Record<
    string,
    unknown
  >;
}

/**
 * Parses config.pbtxt text. Syntax errors, unknown fields and bad values throw INVALID_ARG whose
 * message names the file and line: `failed to parse <file>:<line>: <what>`.
 */
export function parseConfigText(text: string, file: string): Record<string, unknown> {
  const type = configType();
  let message: protobuf.Message;
  try {
    message = textformat.fromText(type, text);
  } catch (err) {
    const raw = err instanceof Error ? err.message : String(err);
    const line = lineOf(raw) ?? locateLine(type, text, raw);
    const where = line === undefined ? file : `${file}:${line}`;
    throw configParseFailed(where, describe(raw, text, line), err);
  }
  return toPlain(type, message);
}

/**
 * Parses the JSON form Triton accepts for a config override (repository load's "config"
 * parameter): snake_case or lowerCamel names, int64 as numbers or strings, enum names matched
 * case-insensitively (Triton sets case_insensitive_enum_parsing), unknown fields rejected.
 */
export function parseConfigJson(json: string): Record<string, unknown> {
  const type = configType();
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw configOverrideInvalid((err as Error).message, err);
  }
  try {
    const message = protojson.fromJson(type, upcaseEnums(type, value, 0));
    return toPlain(type, message);
  } catch (err) {
    const raw = err instanceof Error ? err.message : String(err);
    throw configOverrideInvalid(raw.replace(/^\.inference\./, "inference."), err);
  }
}

// ---- error reporting -------------------------------------------------------------------------

/** protobufjs's tokenizer errors end in " (line N)"; value errors carry no position. */
function lineOf(message: string): number | undefined {
  const m = / \(line (\d+)\)$/.exec(message);
  return m ? Number(m[1]) : undefined;
}

/**
 * Finds the line of an error that protobufjs reports without one (a bad enum name, a duplicate
 * singular field, an out-of-range integer). The parser reads strictly left to right, so a prefix
 * of the text fails with the same message exactly when it contains the offending token: the
 * first line count that reproduces the message is the line. Truncation itself only ever yields
 * end-of-input errors ("expected ..."), which never equal a value error.
 */
function locateLine(type: protobuf.Type, text: string, message: string): number | undefined {
  const lines = text.split("\n");
  const failsSame = (n: number): boolean => {
    try {
      textformat.fromText(type, lines.slice(0, n).join("\n"));
      return false;
    } catch (err) {
      return err instanceof Error && err.message === message;
    }
  };
  if (!failsSame(lines.length)) return undefined;
  let lo = 1;
  let hi = lines.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (failsSame(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Rewrites protobufjs's wording into something a config author can act on. */
function describe(raw: string, text: string, line: number | undefined): string {
  const msg = raw.replace(/ \(line \d+\)$/, "").replace(/^\.inference\./, "inference.");
  const unknown = /^(inference\.[\w.]+): unknown field '(\w+)'$/.exec(msg);
  if (unknown) return `unknown field "${unknown[2]}" in ${unknown[1]}`;
  const badEnum = /^(inference\.[\w.]+): enum value expected$/.exec(msg);
  if (badEnum) {
    const field = lookupField(badEnum[1]!);
    const names = field?.resolvedType instanceof protobuf.Enum ? Object.keys(field.resolvedType.values) : [];
    const got = line === undefined ? undefined : enumTokenOnLine(text.split("\n")[line - 1] ?? "", field?.name);
    return (
      `invalid value${got ? ` "${got}"` : ""} for ${badEnum[1]}` +
      (names.length ? `, expected one of ${names.join(", ")}` : "")
    );
  }
  const multiple = /^(inference\.[\w.]+): multiple values$/.exec(msg);
  if (multiple) return `field ${multiple[1]} is specified more than once`;
  const oneof = /^(\w+): multiple values$/.exec(msg);
  if (oneof) return `only one of the fields in oneof '${oneof[1]}' may be set`;
  const fieldName = /^illegal field name '(.*)'$/.exec(msg);
  if (fieldName) return `expected a field name, got '${fieldName[1]}'`;
  return msg;
}

function lookupField(fullName: string): protobuf.Field | undefined {
  const dot = fullName.lastIndexOf(".");
  try {
    const type = configRoot().lookupType(fullName.slice(0, dot));
    return type.fields[fullName.slice(dot + 1)]?.resolve();
  } catch {
    return undefined;
  }
}

/** The word after `<field>:` on the line, i.e. the rejected enum name, for the error message. */
function enumTokenOnLine(lineText: string, fieldName: string | undefined): string | undefined {
  if (!fieldName) return undefined;
  const m = new RegExp(`\\b${fieldName}\\s*:\\s*\\[?\\s*(-?[\\w.]+)`).exec(lineText);
  return m?.[1];
}

// ---- JSON enum case folding --------------------------------------------------------------------

/**
 * Returns a copy of `value` in which enum strings that are not exact names but match one when
 * upper-cased are replaced by it, mirroring protobuf's case_insensitive_enum_parsing. Anything
 * else is left for protojson to accept or reject.
 */
function upcaseEnums(type: protobuf.Type, value: unknown, depth: number): unknown {
  if (depth > 64 || value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const field = type.fieldsArray.find((f) => f.name === key || jsonName(f) === key);
    out[key] = field ? upcaseField(field.resolve(), v, depth) : v;
  }
  return out;
}

function upcaseField(field: protobuf.Field, v: unknown, depth: number): unknown {
  const one = (x: unknown): unknown => {
    if (field.resolvedType instanceof protobuf.Enum && typeof x === "string") {
      const values = field.resolvedType.values;
      return x in values ? x : x.toUpperCase() in values ? x.toUpperCase() : x;
    }
    if (field.resolvedType instanceof protobuf.Type) return upcaseEnums(field.resolvedType, x, depth + 1);
    return x;
  };
  if (field.map && v && typeof v === "object" && !Array.isArray(v)) {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, one(x)]));
  }
  if (field.repeated && Array.isArray(v)) return v.map(one);
  return one(v);
}

function jsonName(field: protobuf.Field): string {
  return field.name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
