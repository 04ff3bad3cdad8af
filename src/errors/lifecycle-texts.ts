/**
 * The texts of the model lifecycle's issue-14 pieces: warmup (backends/warmup.ts), poll mode
 * (repository/poller.ts), load overrides (repository/file-overrides.ts) and model control from
 * handlers (backends/stub/model-control-service.ts). Re-exported by texts.ts; listed in
 * docs/errors.md like the others. Texts quoted from Triton say so.
 */
import { define, last } from "./factory.js";
import { type ServerError, messageOf } from "./server-error.js";

// ---------------------------------------------------------------------------------------------
// Warmup (Triton's backend_model_instance.cc texts).

/** A warmup sample whose run failed: every response error, joined (Triton's text, INVALID_ARG). */
export const warmupSampleFailed = define("INVALID_ARG", (sample: string, errors: readonly string[]) =>
  `failed to run warmup sample '${sample}': ${errors.join("; ")}`);

/** A warmup input with a variable dimension (Triton's text). */
export const warmupVariableDims = define("INVALID_ARG", (input: string) =>
  `warmup setting expects all variable-size dimensions are specified for input '${input}'`);

/** A warmup input with none of zero_data, random_data, input_data_file (Triton's text). */
export const warmupNoDataType = define("INVALID_ARG", (input: string) =>
  `warmup setting expects input '${input}' to have input_data_type set`);

/** A warmup data file shorter than the input it feeds (Triton's text, with the space Triton's lacks). */
export const warmupFileTooShort = define("INVALID_ARG", (expected: number, file: string, actual: number) =>
  `warmup setting expects ${expected} bytes, but the data provided from ${file} only has ${actual} bytes`);

/** A BYTES warmup data file that is not Triton's layout (a 4-byte length before each element). */
export const warmupFileNotBytes = define("INVALID_ARG", (file: string, input: string, count: number) =>
  `warmup data file '${file}' for input '${input}' does not hold ${count} BYTES element(s), each a 4-byte little-endian length then its bytes`);

/** A warmup data file that cannot be read. */
export const warmupFileUnreadable = define("INVALID_ARG", (file: string, input: string, err: unknown) =>
  `unable to read warmup data file '${file}' for input '${input}': ${messageOf(err)}`, last);

/** A warmup input that is not a datatype (TYPE_INVALID). */
export const warmupBadDatatype = define("INVALID_ARG", (input: string, dataType: string) =>
  `warmup input '${input}' has no valid data_type (got '${dataType}')`);

// ---------------------------------------------------------------------------------------------
// Load overrides and model control from handlers.

/** A handler's loadModel / unloadModel naming the handler's own model (it would wait on itself). */
export const modelControlSelf = define("INVALID_ARG", (model: string, what: "load" | "unload") =>
  `a handler of model '${model}' cannot ${what} its own model`);

/** A handler's model control request that does not decode (a protocol bug). */
export const modelControlMalformed = define("INVALID_ARG", (detail: string) => `model control request is malformed: ${detail}`);

/** A poll whose repository listing failed: the poll is skipped, the models keep serving. */
export const pollSkipped = define("INTERNAL", (cause: ServerError) =>
  `model repository poll skipped: ${cause.message}`, last);
