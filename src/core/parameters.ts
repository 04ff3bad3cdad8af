/**
 * Request and repository parameters, checked once for both front ends. Each front end decodes
 * its wire form into plain values (WireParameter: the value and the type the wire gave it); the
 * rules and Triton's texts live here.
 */
import { invalidArg, unsupported } from "../errors/index.js";
import type { LoadOptions, ParamValue } from "./types.js";

/** Triton reserves the `triton_` prefix and refuses it from clients. */
export function checkParameterKey(key: string): void {
  if (key.startsWith("triton_")) {
    throw invalidArg(
      "parameter keys starting with 'triton_' are reserved for Triton usage and should not be " +
      "specified.",
    );
  }
}

export function invalidParameterType(key: string) {
  return invalidArg(`parameter '${key}' has invalid type. It should be either 'int', 'bool', or 'string'.`);
}

/** The wire a parameter came over: Triton checks each with its own texts. */
export type Protocol = "http" | "grpc";

/**
 * A parameter value as its wire typed it, in the terms of Triton's checks. JSON, as rapidjson sees
 * it: a non-negative integer is "uint", a negative one "int", any other number "double" (JSON.parse
 * cannot tell `1.0` from `1`, so both are "uint"). gRPC: the InferParameter choice that was set.
 * "other" is what no rule accepts (a JSON object, array or null; a gRPC choice left unset).
 */
export type WireParameter =
  | { kind: "bool"; value: boolean }
  | { kind: "int" | "uint" | "double"; value: number }
  | { kind: "string"; value: string }
  | { kind: "bytes" }
  | { kind: "other" };
type WireKind = WireParameter["kind"];

/** A decoded JSON value as a WireParameter. */
export function jsonParameter(value: unknown): WireParameter {
  if (typeof value === "boolean") return { kind: "bool", value };
  if (typeof value === "string") return { kind: "string", value };
  if (typeof value === "number" && Number.isFinite(value)) {
    // Past 2^53 an integer has lost its value: a double, which no integer rule accepts.
    if (!Number.isSafeInteger(value)) return { kind: "double", value };
    return { kind: value < 0 ? "int" : "uint", value };
  }
  return { kind: "other" };
}

interface Check {
  kinds: readonly WireKind[];
  /** Triton's INVALID_ARG text for any other kind. */
  text: string;
  /** gRPC's int64 may be negative where Triton wants a count or a level. */
  min?: number;
  minText?: string;
}

/**
 * Parameters Triton gives a meaning of its own, per scope and protocol, with Triton's texts:
 * http_server.cc (ParseJsonTritonParams, CheckBinaryInputData, CheckBinaryOutputData,
 * CheckClassificationOutput, each message followed by TritonJson's) and grpc/infer_handler.cc
 * (SetInferenceRequestMetadata) with grpc_utils.cc (ParseClassificationParams). A protocol with no
 * entry treats the key as an ordinary parameter. Triton answers the JSON ones with INTERNAL (the
 * code TritonJson gives every access error); a wrong type is the client's fault: INVALID_ARG.
 * The gRPC timeout's lower bound is ours: Triton casts a negative int64 to a huge unsigned value.
 */
const RESERVED: Readonly<Record<"request" | "input" | "output", Readonly<Record<string, Partial<Record<Protocol, Check>>>>>> = {
  request: {
    sequence_id: {
      http: { kinds: ["uint", "string"], text: "Unable to parse 'sequence_id': attempt to access JSON non-string as string" },
      grpc: { kinds: ["int", "string"], text: "invalid value type for 'sequence_id' parameter, expected int64_param or string_param." },
    },
    sequence_start: {
      http: { kinds: ["bool"], text: "Unable to parse 'sequence_start': attempt to access JSON non-boolean as boolean" },
      grpc: { kinds: ["bool"], text: "invalid value type for 'sequence_start' parameter, expected bool_param." },
    },
    sequence_end: {
      http: { kinds: ["bool"], text: "Unable to parse 'sequence_end': attempt to access JSON non-boolean as boolean" },
      grpc: { kinds: ["bool"], text: "invalid value type for 'sequence_end' parameter, expected bool_param." },
    },
    priority: {
      http: { kinds: ["uint"], text: "Unable to parse 'priority': attempt to access JSON non-unsigned-integer as unsigned-integer" },
      grpc: {
        kinds: ["int", "uint"], text: "invalid value type for 'priority' parameter, expected int64_param or uint64_param.",
        min: 0, minText: "invalid value for 'priority', expected value >= 0.",
      },
    },
    timeout: {
      http: { kinds: ["uint"], text: "Unable to parse 'timeout': attempt to access JSON non-unsigned-integer as unsigned-integer" },
      grpc: {
        kinds: ["int"], text: "invalid value type for 'timeout' parameter, expected int64_param.",
        min: 0, minText: "invalid value for 'timeout', expected value >= 0.",
      },
    },
    binary_data_output: {
      http: { kinds: ["bool"], text: "Unable to parse 'binary_data_output': attempt to access JSON non-boolean as boolean" },
    },
  },
  input: {
    binary_data_size: {
      http: { kinds: ["uint"], text: "Unable to parse 'binary_data_size': attempt to access JSON non-unsigned-integer as unsigned-integer" },
    },
  },
  output: {
    binary_data: {
      http: { kinds: ["bool"], text: "Unable to parse 'binary_data': attempt to access JSON non-boolean as boolean" },
    },
    classification: {
      http: { kinds: ["uint"], text: "Unable to set 'classification': attempt to access JSON non-unsigned-integer as unsigned-integer" },
      // Triton's own text says ">= 0" for a check that refuses 0 too.
      grpc: {
        kinds: ["int"], text: "invalid value type for 'classification' parameter, expected int64_param",
        min: 1, minText: "invalid value for 'classification' parameter, expected >= 0",
      },
    },
  },
};

const ORDINARY: readonly WireKind[] = ["bool", "int", "uint", "double", "string"];

/**
 * One request-level parameter, checked: a reserved key against Triton's rule for the protocol,
 * any other as an ordinary parameter (a scalar; `triton_` keys refused). Returns the value the
 * core keeps.
 */
export function requestParameter(protocol: Protocol, key: string, p: WireParameter): ParamValue {
  const check = reservedCheck("request", key, protocol);
  if (check) return checked(check, p);
  checkParameterKey(key);
  if (!ORDINARY.includes(p.kind)) throw invalidParameterType(key);
  return (p as { value: ParamValue }).value;
}

/**
 * An input's or a requested output's reserved parameter (binary_data_size; binary_data,
 * classification), checked; undefined when the protocol gives the key no meaning.
 */
export function tensorParameter(
  protocol: Protocol, scope: "input" | "output", key: string, p: WireParameter,
): ParamValue | undefined {
  const check = reservedCheck(scope, key, protocol);
  return check ? checked(check, p) : undefined;
}

// Own keys only: a client's "constructor" or "__proto__" is an ordinary parameter.
function reservedCheck(scope: keyof typeof RESERVED, key: string, protocol: Protocol): Check | undefined {
  const rules = RESERVED[scope];
  return Object.hasOwn(rules, key) ? rules[key]![protocol] : undefined;
}

function checked(check: Check, p: WireParameter): ParamValue {
  if (!check.kinds.includes(p.kind)) throw invalidArg(check.text);
  const value = (p as { value: ParamValue }).value;
  if (check.min !== undefined && (value as number) < check.min) throw invalidArg(check.minText!);
  return value;
}

/**
 * Repository load parameters: `config` (a JSON string, or over HTTP a JSON object) replaces
 * config.pbtxt; `file:` overrides are not supported; anything else is refused.
 */
export function loadOptionsFrom(params: Record<string, unknown>): LoadOptions {
  const options: LoadOptions = {};
  for (const key of Object.keys(params)) {
    const value = params[key];
    if (key === "config") {
      if (typeof value === "string") options.config = value;
      else if (typeof value === "object" && value !== null && !ArrayBuffer.isView(value)) options.config = JSON.stringify(value);
      else throw invalidArg("Unable to parse 'config': expected a JSON string");
    } else if (key.startsWith("file:")) {
      throw unsupported(`load parameter '${key}': model file overrides are not supported`);
    } else {
      throw invalidArg(`unknown load parameter '${key}'; expected 'config'`);
    }
  }
  return options;
}

/** Repository unload: `unload_dependents: true` is not supported (no ensembles yet). */
export function checkUnloadDependents(value: unknown): void {
  if (value === undefined || value === false) return;
  if (typeof value !== "boolean") throw invalidArg("Unable to parse 'unload_dependents'");
  throw unsupported("unloading dependent models ('unload_dependents': true) is not supported");
}

/** Named repositories (Triton's repository_name) are not supported: there is one namespace. */
export function checkRepositoryName(name: string | undefined): void {
  if (name !== undefined) throw unsupported("'repository_name' specification is not supported");
}
