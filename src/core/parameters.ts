/**
 * Request and repository parameters, checked once for both front ends. Each front end decodes
 * its wire form into plain values (WireParameter: the value and the type the wire gave it); the
 * rules and Triton's texts live here.
 */
import {
  type ServerError, grpcClassificationTooSmall, grpcClassificationType, grpcLoadParameterType, grpcLoadParameterUnknown,
  grpcParameterNegative, grpcParameterType, jsonParameterType, loadParameterNotString, loadParameterUnrecognized,
  parameterTypeInvalid,
  repositoryNameUnsupported, reservedParameterKey, unloadDependentsNotBoolean, unloadDependentsUnsupported,
} from "../errors/index.js";
import { Buffer } from "node:buffer";
import type { LoadOptions, ParamValue } from "./types.js";

/** Triton reserves the `triton_` prefix and refuses it from clients. */
export function checkParameterKey(key: string): void {
  if (key.startsWith("triton_")) throw reservedParameterKey();
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
  | { kind: "int" | "uint" | "double"; value: number | bigint }
  | { kind: "string"; value: string }
  | { kind: "bytes" }
  | { kind: "other" };
type WireKind = WireParameter["kind"];

/** A decoded JSON value as a WireParameter. */
export function jsonParameter(value: unknown): WireParameter {
  if (typeof value === "boolean") return { kind: "bool", value };
  // An exact integer literal (json-scan's parseExactJson), as rapidjson reads it: uint64 or int64.
  if (typeof value === "bigint") {
    if (value >= -(1n << 63n) && value < 1n << 64n) return { kind: value < 0n ? "int" : "uint", value };
    return { kind: "double", value: Number(value) };
  }
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
  /** Triton's INVALID_ARG error for any other kind. */
  error: () => ServerError;
  /** gRPC's int64 may be negative where Triton wants a count or a level. */
  min?: number;
  minError?: () => ServerError;
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
      http: { kinds: ["uint", "string"], error: () => jsonParameterType("parse", "sequence_id", "string") },
      grpc: { kinds: ["int", "string"], error: () => grpcParameterType("sequence_id", "int64_param or string_param") },
    },
    sequence_start: {
      http: { kinds: ["bool"], error: () => jsonParameterType("parse", "sequence_start", "boolean") },
      grpc: { kinds: ["bool"], error: () => grpcParameterType("sequence_start", "bool_param") },
    },
    sequence_end: {
      http: { kinds: ["bool"], error: () => jsonParameterType("parse", "sequence_end", "boolean") },
      grpc: { kinds: ["bool"], error: () => grpcParameterType("sequence_end", "bool_param") },
    },
    priority: {
      http: { kinds: ["uint"], error: () => jsonParameterType("parse", "priority", "unsigned-integer") },
      grpc: {
        kinds: ["int", "uint"], error: () => grpcParameterType("priority", "int64_param or uint64_param"),
        min: 0, minError: () => grpcParameterNegative("priority"),
      },
    },
    timeout: {
      http: { kinds: ["uint"], error: () => jsonParameterType("parse", "timeout", "unsigned-integer") },
      grpc: {
        kinds: ["int"], error: () => grpcParameterType("timeout", "int64_param"),
        min: 0, minError: () => grpcParameterNegative("timeout"),
      },
    },
    binary_data_output: {
      http: { kinds: ["bool"], error: () => jsonParameterType("parse", "binary_data_output", "boolean") },
    },
  },
  input: {
    binary_data_size: {
      http: { kinds: ["uint"], error: () => jsonParameterType("parse", "binary_data_size", "unsigned-integer") },
    },
  },
  output: {
    binary_data: {
      http: { kinds: ["bool"], error: () => jsonParameterType("parse", "binary_data", "boolean") },
    },
    classification: {
      http: { kinds: ["uint"], error: () => jsonParameterType("set", "classification", "unsigned-integer") },
      // Triton's own text says ">= 0" for a check that refuses 0 too.
      grpc: { kinds: ["int"], error: grpcClassificationType, min: 1, minError: grpcClassificationTooSmall },
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
  if (!ORDINARY.includes(p.kind)) throw parameterTypeInvalid(key);
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
  if (!check.kinds.includes(p.kind)) throw check.error();
  const value = (p as { value: ParamValue }).value;
  if (check.min !== undefined && (value as number) < check.min) throw check.minError!();
  return value;
}

/**
 * Repository load parameters, with each front end's rules (http_server.cc HandleRepositoryControl,
 * grpc_server.cc RepositoryModelLoad): `config`, a string, replaces config.pbtxt; `file:<path>`
 * carries a model file (over HTTP its base64 text, over gRPC bytes_param); anything else is
 * refused. Over HTTP every value must be a JSON string, whatever its key. What the files may be
 * is the repository's business (repository/file-overrides.ts).
 */
export function loadOptionsFrom(protocol: Protocol, params: Record<string, unknown>): LoadOptions {
  const options: LoadOptions = {};
  for (const key of Object.keys(params)) {
    const value = params[key];
    const isFile = key.startsWith("file:");
    if (protocol === "http") {
      if (typeof value !== "string") throw loadParameterNotString();
      if (key === "config") options.config = value;
      else if (isFile) (options.files ??= []).push({ key, data: Buffer.from(value, "base64") });
      else throw loadParameterUnrecognized();
    } else if (key === "config") {
      if (typeof value !== "string") throw grpcLoadParameterType(key, "string_param");
      options.config = value;
    } else if (isFile) {
      if (!(value instanceof Uint8Array)) throw grpcLoadParameterType(key, "bytes_param");
      (options.files ??= []).push({ key, data: value });
    } else {
      throw grpcLoadParameterUnknown(key);
    }
  }
  return options;
}

/** Repository unload: `unload_dependents: true` is not supported (no ensembles yet). */
export function checkUnloadDependents(value: unknown): void {
  if (value === undefined || value === false) return;
  if (typeof value !== "boolean") throw unloadDependentsNotBoolean();
  throw unloadDependentsUnsupported();
}

/** Named repositories (Triton's repository_name) are not supported: there is one namespace. */
export function checkRepositoryName(name: string | undefined): void {
  if (name !== undefined) throw repositoryNameUnsupported();
}
