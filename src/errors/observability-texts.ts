/**
 * The texts of the logging extension (/v2/logging, gRPC LogSettings), of handlers' custom metrics
 * and of handlers' readiness checks, Triton's (http_server.cc, grpc_server.cc, TritonJson,
 * python_be.cc) where Triton has one. Re-exported by texts.ts; listed in docs/errors.md.
 */
import { define } from "./factory.js";

/** Per CVE-2024-0087's fix, Triton refuses to move its log file at a client's request. */
export const logFileNotSettable = define("UNSUPPORTED", () => "log file location can not be updated through network protocol");

/** HTTP: an unknown log_format (Triton's HTTP answers UNAVAILABLE and names the flag). */
export const logFormatInvalidHttp = define("UNAVAILABLE", (format: string) => `invalid argument for --log_format, got: ${format}`);

/** gRPC: an unknown log_format. */
export const logFormatInvalidGrpc = define("INVALID_ARG", (format: string) => `invalid argument for log_format, got: ${format}`);

/** gRPC: a setting given with the wrong SettingValue choice. */
export const logSettingWrongType = define("INVALID_ARG", (expected: "boolean" | "int32" | "string", setting: string) =>
  `expect ${expected} for '${setting}'`);

/** HTTP: TritonJson's texts for a JSON value of the wrong type (AsBool, AsUInt, AsString). */
export const jsonNotBoolean = define("INTERNAL", () => "attempt to access JSON non-boolean as boolean");
export const jsonNotUnsigned = define("INTERNAL", () => "attempt to access JSON non-unsigned-integer as unsigned-integer");
export const jsonNotString = define("INTERNAL", () => "attempt to access JSON non-string as string");
