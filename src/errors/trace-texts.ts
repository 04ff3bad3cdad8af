/**
 * The trace extension's and --trace-config's texts (src/trace/). Triton's, byte for byte, where
 * Triton has one: server src/http_server.cc HandleTrace, src/grpc/grpc_server.cc TraceSetting,
 * src/tracer.cc, src/command_line_parser.cc. Re-exported by texts.ts.
 */
import { define } from "./factory.js";

/** A trace setting request for a model that is not ready (Triton's text, its space before the colon). */
export const traceModelUnknown = define("INVALID_ARG", (model: string) => `Request for unknown model : ${model}`);

/** trace_file in an update: the file is a start-up setting only. */
export const traceFileNotUpdatable = define("UNSUPPORTED", () => "trace file location can not be updated through network protocol");

/** trace_level listing OFF with other levels. */
export const traceLevelOffAlone = define("INVALID_ARG", () => "Expect only one trace level 'OFF' is specified");

/** HTTP: trace_level that is not an array (TritonJson's MemberAsArray text). */
export const traceLevelNotArray = define("INVALID_ARG", () => "attempt to access JSON non-array as array");

/** HTTP: a setting value that is not a string (TritonJson's AsString text). */
export const traceSettingNotString = define("INVALID_ARG", () => "attempt to access JSON non-string as string");

/** gRPC: more than one value for a single-valued setting. */
export const traceSettingOneValue = define("INVALID_ARG", (name: string) => `expect only 1 value for '${name}'`);

/** A setting value that is not an integer. */
export const traceSettingUnparsable = define("INVALID_ARG", (name: string, got: string) => `Unable to parse '${name}', got: ${got}`);

/** A setting value outside its type's range. */
export const traceSettingOutOfRange = define("INVALID_ARG", (name: string, min: number, max: number, got: string) =>
  `Unable to parse '${name}', value is out of range [ ${min}, ${max} ], got: ${got}`);

/** trace_count below -1 (HTTP and gRPC spell it slightly differently in Triton). */
export const traceCountBelowMin = define("INVALID_ARG", (name: string, min: number, got: string, protocol: "http" | "grpc") =>
  protocol === "http" ? `Unable to parse '${name}'. Expecting value >= ${min}, got:${got}` : `Unable to parse '${name}'. Expecting value >= ${min}, got: ${got}`);

/** An update that leaves a setting that cannot trace, other than OFF (tracer.cc). */
export const traceSettingInvalid = define("INVALID_ARG", (reason: string) => `Attempting to set invalid trace setting :${reason}`);

/** A --trace-config (or deprecated --trace-*) flag that does not parse (command_line_parser.cc's shapes). */
export const traceConfigInvalid = define("INVALID_ARG", (message: string) => message);

/** The trace extension on a server built without tracing (Triton's text). */
export const tracingUnsupported = define("UNAVAILABLE", () => "the server does not support tracing");
