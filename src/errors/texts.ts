/**
 * Every text the server raises itself, as a named factory (fastify's lib/errors.js, undici's
 * lib/core/errors.js): one factory per distinct text, its code fixed here, the cause kept where
 * there is one. Texts are Triton's where Triton has one and must stay byte-identical: clients and
 * tests match on them. Each factory is listed in docs/errors.md (test/unit/errors/texts.test.ts
 * fails on a missing or mismatched row). Status mapping stays in server-error.ts alone. The
 * config rules' texts are in config-texts.ts, serving's in runtime-texts.ts; both re-exported here.
 */
import { define, last, named } from "./factory.js";
import { type ErrorCode, STATUS_NAME, ServerError, messageOf, redactSegmentNames } from "./server-error.js";

export type { Factory } from "./factory.js";
export * from "./config-texts.js";
export * from "./runtime-texts.js";
export * from "./sequence-texts.js";
export * from "./lifecycle-texts.js";
export * from "./observability-texts.js";
export * from "./shm-texts.js";
export * from "./trace-texts.js";

/** Triton's request prefix in infer_request.cc texts. */
const requestPrefix = (id: string) => `[request id: ${id || "<id_unknown>"}] `;
const fmtShape = (shape: readonly number[]) => `[${shape.join(",")}]`;

// ---------------------------------------------------------------------------------------------
// Loads: the two error types that carry their model, and the factories that make them.

/**
 * A model that failed to load: the message is "failed to load '<model>': <detail>", and `model`
 * and `detail` are kept as fields so that no one reads them back out of the text.
 */
export class ModelLoadError extends ServerError {
  readonly model: string;
  /** The text after "failed to load '<model>': ", redacted as the message is. */
  readonly detail: string;

  constructor(model: string, detail: string, code: ErrorCode, options?: { cause?: unknown }) {
    super(code, `failed to load '${model}': ${detail}`, options);
    this.model = model;
    this.detail = redactSegmentNames(detail);
  }
}

/**
 * A handler module that failed to import in its stub: "failed to load '<module path>': <detail>".
 * The stub sends the detail alone (a "failed" control message marked `during: "import"`); main
 * names the module it asked the stub to load, and keeps `detail` for the model's own text. (Not
 * exported: handlerImportFailed makes it.)
 */
class HandlerImportError extends ServerError {
  readonly modulePath: string;
  /** The text after "failed to load '<module path>': ", redacted as the message is. */
  readonly detail: string;

  constructor(modulePath: string, detail: string, code: ErrorCode) {
    super(code, `failed to load '${modulePath}': ${detail}`);
    this.modulePath = modulePath;
    this.detail = redactSegmentNames(detail);
  }
}

/** A handler module that failed to import in its stub, with the stub's code; the model's load failure quotes the detail. */
export const handlerImportFailed = named("given", (modulePath: string, detail: string, code: ErrorCode) =>
  new HandlerImportError(modulePath, detail, code));

/**
 * The detail of a failure that happened while loading, as the model's own text quotes it: the
 * field of a load or import failure (built from fields, never read back out of a text); else the
 * whole message.
 */
function loadDetail(e: ServerError): string {
  return e instanceof ModelLoadError || e instanceof HandlerImportError ? e.detail : e.message;
}

/** A model version that failed to start (its handler's initialize threw, its stub died, ...). */
export class VersionLoadError extends ServerError {
  readonly model: string;
  readonly version: number;
  /** The cause as the repository API quotes it: its code, and its text without the model's prefix. */
  readonly reason: ServerError;

  constructor(model: string, version: number, cause: ServerError) {
    const detail = loadDetail(cause);
    super(cause.code, `failed to load '${model}': ${detail}`, { cause });
    this.model = model;
    this.version = version;
    this.reason = new ServerError(cause.code, detail, { cause });
  }

  /** What Triton's repository load answers: INVALID_ARG (400) naming the version and the cause. */
  forRepositoryApi(): ServerError {
    return versionUnavailableAfterLoad(this.model, this.version, this.reason);
  }
}

/** A model failed to load, with the caller's code; the detail names what went wrong. */
export const loadFailed = named("given", (model: string, detail: string, code: ErrorCode, cause?: unknown) =>
  new ModelLoadError(model, detail, code, cause === undefined ? undefined : { cause }));

/** A model's versions failed to start for a reason outside any one version; code and detail are the cause's. */
export const versionsFailed = named("given", (model: string, cause: ServerError) =>
  new ModelLoadError(model, loadDetail(cause), cause.code, { cause }));

/** A version of a model failed to start; the message is the model's, the detail the cause's. */
export const versionLoadFailed = named("given", (model: string, version: number, cause: ServerError) =>
  new VersionLoadError(model, version, cause));

/** The repository load API's answer to a version that failed to start (Triton's text). */
export const versionUnavailableAfterLoad = define("INVALID_ARG", (model: string, version: number, reason: ServerError) =>
  `load failed for model '${model}': version ${version} is at UNAVAILABLE state: ${STATUS_NAME[reason.code]}: ${reason.message};`, last);

/** A load of a name that is in no model repository (Triton's text and code). */
export const pollFailed = define("INTERNAL", (model: string) => `failed to load '${model}', failed to poll from model repository`);

/** A model without config.pbtxt loaded under --strict-model-config. */
export const strictConfigRequired = named("INVALID_ARG", (model: string) =>
  loadFailed(model, "config.pbtxt is required with --strict-model-config", "INVALID_ARG"));

/** A model whose backend or platform this server cannot run. */
export const backendUnsupported = named("UNSUPPORTED", (model: string, what: string) =>
  loadFailed(model, `backend/platform '${what}' is not supported by this server yet`, "UNSUPPORTED"));

/** An ensemble loaded by a model manager that was given no inference path for its steps. */
export const ensembleNeedsInferPath = named("UNSUPPORTED", (model: string) =>
  loadFailed(model, "ensembles need the server's inference path", "UNSUPPORTED"));

/** An ensemble that names itself as one of its steps. */
export const ensembleUsesItself = named("INVALID_ARG", (model: string) =>
  loadFailed(model, `ensemble '${model}' uses itself as a step`, "INVALID_ARG"));

/** An ensemble whose composing model failed to load; the cause is that model's failure. */
export const ensembleDependencyFailed = named("INVALID_ARG", (model: string, dependency: string, cause: unknown) =>
  loadFailed(model, `ensemble '${model}' depends on '${dependency}', which failed to load: ${messageOf(cause)}`, "INVALID_ARG", cause));

/** `err` with its text rewritten (a client's view of it: paths relative to the repository). */
export const retold = named("given", (err: ServerError, text: string) => new ServerError(err.code, text, { cause: err }));

// ---------------------------------------------------------------------------------------------
// Model names, repositories, model folders.

/** A load of an empty or all-whitespace model name (Triton's ValidateModelName, verbatim). */
export const emptyModelName = define("INVALID_ARG", () => "Model name cannot be empty. Please enter a valid name to deploy.");

/** A load of a name that is "..", "." or holds a "/" (Triton's ValidateModelName, verbatim). */
export const traversalModelName = define("INVALID_ARG", (name: string) =>
  `invalid model name '${name}', model name must not contain path traversal characters`);

/**
 * A file a model's config names that does not resolve inside the model's folder; `what` names it
 * as the config gave it (Triton's model.cc wording for label files, INVALID_ARG for every kind).
 */
export const outsideModelDirectory = define("INVALID_ARG", (what: string) => `${what} is outside model directory`);

/** A --model-repository that is not a directory. */
export const repositoryNotDirectory = define("INVALID_ARG", (repository: string) =>
  `failed to poll model repository '${repository}': not a directory`);

/** A model folder name found in more than one repository. */
export const modelNotUnique = define("INVALID_ARG", (model: string) =>
  `failed to poll model '${model}': not unique across all model repositories`);

/** A model to load that is in no repository. */
export const modelNotInRepository = define("NOT_FOUND", (model: string) =>
  `failed to poll model '${model}': model not found in any model repository.`);

/** A version policy that selects none of the model's version folders. */
export const noVersionUnderPolicy = define("INVALID_ARG", (model: string) =>
  `at least one version must be available under the version policy of model '${model}'`);

/** A config.pbtxt that exists but cannot be read. */
export const configUnreadable = define("INVALID_ARG", (file: string, cause: unknown) =>
  `failed to read text proto from ${file}: ${messageOf(cause)}`, last);

/** A model folder without the config.pbtxt its reader requires. */
export const configFileMissing = define("INVALID_ARG", (file: string) => `failed to read text proto from ${file}: no such file`);

// ---------------------------------------------------------------------------------------------
// Model lookup (a request's model and version).

/** A request for a model that is not loaded (nor loading, nor failed). */
export const modelNotFound = define("NOT_FOUND", (model: string) => `Request for unknown model: '${model}' is not found`);

/** A request for a model with no ready version (NOT_FOUND, as Triton's ModelLifeCycle::GetModel). */
export const noAvailableVersions = define("NOT_FOUND", (model: string) =>
  `Request for unknown model: '${model}' has no available versions`);

/** A request for a version the model does not have. */
export const versionNotFound = define("NOT_FOUND", (model: string, version: string) =>
  `Request for unknown model: '${model}' version ${version} is not found`);

/** A request for a version that is unloaded, or whose model is not ready. */
export const versionNotReady = define("UNAVAILABLE", (model: string, version: string) =>
  `Request for unknown model: '${model}' version ${version} is not at ready state`);

/** A model version that is not a number. */
export const versionUnparsable = define("INVALID_ARG", (version: string) => `failed to parse model version '${version}'`);

// ---------------------------------------------------------------------------------------------
// HTTP bodies and the infer request's JSON.

/** A Content-Encoding other than gzip, deflate or identity. */
export const compressionUnsupported = define("UNSUPPORTED", () => "Unsupported compression type");

/** A compressed body that does not inflate. */
export const decompressFailed = define("INVALID_ARG", (encoding: string, cause: unknown) =>
  `failed to decompress the request body (${encoding}): ${messageOf(cause)}`, last);

/** A body (or an infer request's JSON header) that is not JSON. */
export const jsonUnparsable = define("INVALID_ARG", (cause: unknown) =>
  `failed to parse the request JSON buffer: ${messageOf(cause)}`, last);

/** A JSON body that is not an object. */
export const jsonNotObject = define("INVALID_ARG", () => "Unable to parse the request JSON: expected an object");

/** An Inference-Header-Content-Length that is not a non-negative integer. */
export const headerLengthUnparsable = define("INVALID_ARG", (text: string) =>
  `Unable to parse Inference-Header-Content-Length, got: ${text}`);

/** An Inference-Header-Content-Length past the body's end. */
export const headerLengthOutOfRange = define("INVALID_ARG", (bodyLength: number, text: string) =>
  `inference header size should be in range (0, ${bodyLength}), got: ${text}`);

/** An infer request whose "id" is not a string. */
export const idNotString = define("INVALID_ARG", () => "Unable to parse 'id': expected a string");

/** An infer request whose "inputs" is not an array. */
export const inputsNotArray = define("INVALID_ARG", () => "Unable to parse 'inputs': expected an array");

/** An infer request's input that is not an object. */
export const inputNotObject = define("INVALID_ARG", (index: number) => `Unable to parse input ${index}: expected an object`);

/** An infer request's input without a string name. */
export const inputNameMissing = define("INVALID_ARG", (index: number) => `Unable to parse 'name' of input ${index}`);

/** An input whose datatype is none of the protocol's; `shown` is the value as the wire gave it. */
export const datatypeInvalid = define("INVALID_ARG", (shown: string, input: string) => `invalid datatype ${shown} for input '${input}'`);

/** An input whose "parameters" is not an object. */
export const inputParametersNotObject = define("INVALID_ARG", (input: string) =>
  `Unable to parse 'parameters' of input '${input}': expected an object`);

/** An input or output that names a shared-memory region (not supported). */
export const sharedMemoryUnsupported = define("UNSUPPORTED", (kind: "input" | "output", name: string) =>
  `${kind} '${name}': shared memory is not supported by this server`);

/** An input with both, or neither, of JSON data and binary_data_size. */
export const inputDataChoice = define("INVALID_ARG", (input: string, both: boolean) =>
  `Input '${input}' must set exactly one of 'data' or 'binary_data_size' in 'parameters', ` +
  `but ${both ? "set both" : "set neither"}`);

/** Binary input data in a request that has no Inference-Header-Content-Length. */
export const binaryWithoutHeader = define("INVALID_ARG", (input: string) =>
  `input '${input}' sets 'binary_data_size' but the request has no Inference-Header-Content-Length header`);

/** Binary input data that runs past the body's end. */
export const binaryDataShort = define("INVALID_ARG", (input: string, missing: number, model: string) =>
  `unexpected size for input '${input}', expecting ${missing} additional bytes for model '${model}'`);

/** Bytes left after the last binary input. */
export const binaryDataLeftOver = define("INVALID_ARG", (model: string, extra: number) =>
  `unexpected additional input data for model '${model}': ${extra} bytes after the last binary input`);

/** An infer request whose "outputs" is not an array. */
export const outputsNotArray = define("INVALID_ARG", () => "Unable to parse 'outputs': expected an array");

/** An input without a shape array. */
export const shapeMissing = define("INVALID_ARG", (input: string) => `Unable to parse 'shape' of input '${input}'`);

/** A shape with a negative, fractional or huge dimension; `shown` is the shape as sent. */
export const shapeInvalid = define("INVALID_ARG", (input: string, shown: string) =>
  `Unable to parse 'shape' of input '${input}': dimensions must be non-negative integers, got ${shown}`);

/**
 * An input whose data is not its shape's size (infer_request.cc); `requestId`, where given, is
 * quoted in Triton's "[request id: ...]" prefix.
 */
export const inputByteSizeMismatch = define("INVALID_ARG", (input: string, model: string, expected: number | bigint, got: number, requestId?: string) =>
  `${requestId === undefined ? "" : requestPrefix(requestId)}input byte size mismatch for input '${input}' for model '${model}'. ` +
  `Expected ${expected}, got ${got}`);

/** A raw binary request (header length 0) to a model with other than one input (Triton's text). */
export const rawInputCount = define("INVALID_ARG", (model: string, count: number) =>
  `Raw request must only have 1 input (found 1) to be deduced but got ${count} inputs in '${model}' model configuration`);

/** A raw binary request to an input with more than one variable dimension (Triton's text). */
export const rawShapeNotDeducible = define("INVALID_ARG", (input: string) =>
  `The shape of the raw input '${input}' can not be deduced because there are more than one variable-sized dimension`);

/** A raw binary request to a BYTES input whose shape is not [1] (Triton's text). */
export const rawBytesShape = define("INVALID_ARG", (input: string) =>
  `For BYTE datatype raw input '${input}', the model must have input shape [1]`);

/** A request's (or a repository call's) "parameters" that is not an object. */
export const parametersNotObject = define("INVALID_ARG", () => "Unable to parse 'parameters': expected an object");

/** A requested output that is not an object. */
export const outputNotObject = define("INVALID_ARG", (index: number) => `Unable to parse output ${index}: expected an object`);

/** A requested output without a string name. */
export const outputNameMissing = define("INVALID_ARG", (index: number) => `Unable to parse 'name' of output ${index}`);

/** A requested output whose "parameters" is not an object. */
export const outputParametersNotObject = define("INVALID_ARG", (output: string) =>
  `Unable to parse 'parameters' of output '${output}': expected an object`);

// JSON tensor data (http/json-tensor.ts).

/** FP16 or BF16 input data sent as JSON (Triton refuses it). */
export const jsonHalfInput = define("INVALID_ARG", (datatype: string, input: string) =>
  `receiving ${datatype} data via JSON is not supported. Please use the binary data format for input ${input}`);

/** FP16 or BF16 output data asked for as JSON (Triton refuses it). */
export const jsonHalfOutput = define("INVALID_ARG", (datatype: string, output: string) =>
  `sending ${datatype} data via JSON is not supported. Please use the binary data format for output '${output}'`);

/** An input's JSON "data" that is not an array. */
export const jsonDataNotArray = define("INVALID_ARG", (input: string) =>
  `Unable to parse 'data' for input '${input}': expected a JSON array`);

/** An input's JSON "data" with another element count than its shape's. */
export const jsonDataCount = define("INVALID_ARG", (input: string, shape: readonly number[], count: number, got: number) =>
  `Unable to parse 'data' for input '${input}': shape ${fmtShape(shape)} needs ${count} elements, got ${got}`);

/** An element of an input's JSON "data" that is not a value of its datatype; `shown` as sent. */
export const jsonElementInvalid = define("INVALID_ARG", (input: string, index: number, shown: string, datatype: string) =>
  `Unable to parse 'data' for input '${input}': element ${index} (${shown}) is not a valid ${datatype} value`);

/** An output whose bytes do not fill its shape (a handler's fault: INTERNAL). */
export const outputSizeMismatch = define("INTERNAL", (output: string) =>
  `output tensor shape does not match size of output for '${output}'`);

// The generate extension (http/generate.ts).

/** A generate request's "parameters" key that is also an input's name (Triton's text). */
export const parametersKeywordClash = define("INVALID_ARG", () =>
  "Keyword 'parameters' for nested schema also given as input tensor name");

/** A generate request's "parameters" that is not an object (Triton's text). */
export const parametersKeywordNotObject = define("INVALID_ARG", () => "Expected JSON object for keyword: 'parameters'");

/** A failure inside a generate request's "parameters", with its code, in Triton's prefix. */
export const inParametersKeyword = named("given", (err: ServerError) =>
  new ServerError(err.code, `Converting keyword: 'parameters': ${err.message}`, { cause: err }));

/** A generate value that does not fit its input's shape (Triton's text). */
export const generateShapeUnfit = define("INVALID_ARG", (input: string) =>
  `The schema can not convert input '${input}' to tensor with proper shape`);

/** A generate (not stream) request whose model answered with other than one response (Triton's text). */
export const generateNotSingleResponse = define("INTERNAL", () =>
  "generate expects model to produce exactly 1 response, use generate stream for model that generates various number of responses");

// HTTP and gRPC front ends.

/** An HTTP client that closed its connection before its response. */
export const clientClosedConnection = define("CANCELLED", () => "the client closed the connection before the response");

/**
 * HTTP infer to a decoupled model: Triton's CheckTransactionPolicy text and code, UNSUPPORTED, so
 * 501 (Triton answers each error's own status since 2.42 / 24.01; older releases answered 400).
 */
export const httpDecoupled = define("UNSUPPORTED", () =>
  "HTTP end point doesn't support models with decoupled transaction policy");

/** A repository index request whose "ready" is not a boolean. */
export const readyNotBoolean = define("INVALID_ARG", () => "Invalid value for 'ready': expected a boolean");

/** A gRPC message that does not deserialize (INVALID_ARG, not grpc-js's INTERNAL). */
export const undecodableRequest = define("INVALID_ARG", (cause: unknown) =>
  `Error deserializing request: ${messageOf(cause)}`, last);

/** The gRPC ModelStatistics RPC (not implemented yet). */
export const statisticsUnsupported = define("UNSUPPORTED", () => "model statistics are not available in this server yet");

/** A gRPC client that cancelled its unary call. */
export const clientCancelledRequest = define("CANCELLED", () => "the client cancelled the request");

/** A gRPC client that cancelled its stream. */
export const clientCancelledStream = define("CANCELLED", () => "the client cancelled the stream");

/** gRPC ModelInfer to a decoupled model (Triton's text). */
export const grpcDecoupled = define("UNSUPPORTED", () =>
  "ModelInfer RPC doesn't support models with decoupled transaction policy");

/** A .proto file this server ships that is missing from both places it is looked for. */
export const protoFileNotFound = define("INTERNAL", (name: string, candidates: readonly string[]) =>
  `${name} not found; looked in: ${candidates.join(", ")}`);

// gRPC tensors (grpc/infer-codec.ts).

/** raw_input_contents with another count than the inputs. */
export const rawContentsCount = define("INVALID_ARG", (model: string, inputs: number, raw: number) =>
  `expected ${inputs} inputs but got ${raw} raw input contents for model '${model}'`);

/** An input with typed contents in a request that uses raw_input_contents. */
export const contentsWithRaw = define("INVALID_ARG", (input: string, model: string) =>
  `contents field must not be specified when using raw_input_contents for '${input}' for model '${model}'`);

/** Typed contents for a datatype that has no typed contents field (FP16, BF16). */
export const contentsNoTypedField = define("INVALID_ARG", (input: string, model: string, datatype: string) =>
  `input '${input}' for model '${model}': ${datatype} data must be sent in raw_input_contents, it has no typed contents field`);

/** Typed contents in another field than the datatype's. */
export const contentsWrongField = define("INVALID_ARG", (input: string, model: string, datatype: string, field: string, got: string) =>
  `input '${input}' for model '${model}' has datatype ${datatype}: its contents must be in '${field}', got '${got}'`);

/** Typed contents with another element count than the shape's. */
export const contentsCount = define("INVALID_ARG", (input: string, model: string, shape: readonly number[], count: number, got: number) =>
  `unexpected number of elements in 'contents' of input '${input}' for model '${model}': shape ${fmtShape(shape)} needs ${count}, got ${got}`);

/** An int64/uint64 parameter past ±2^53. */
export const parameterOutOfRange = define("INVALID_ARG", (key: string) =>
  `parameter '${key}' is out of the range this server accepts (±2^53)`);

// ---------------------------------------------------------------------------------------------
// Request and repository parameters (core/parameters.ts), Triton's texts.

/** A client parameter key with the reserved `triton_` prefix. */
export const reservedParameterKey = define("INVALID_ARG", () =>
  "parameter keys starting with 'triton_' are reserved for Triton usage and should not be specified.");

/** An ordinary parameter that is not a scalar. */
export const parameterTypeInvalid = define("INVALID_ARG", (key: string) =>
  `parameter '${key}' has invalid type. It should be either 'int', 'bool', or 'string'.`);

/** A reserved JSON parameter of the wrong type (http_server.cc, TritonJson's text after it). */
export const jsonParameterType = define("INVALID_ARG", (verb: "parse" | "set", key: string, wanted: string) =>
  `Unable to ${verb} '${key}': attempt to access JSON non-${wanted} as ${wanted}`);

/** A reserved gRPC parameter of the wrong type (grpc/infer_handler.cc). */
export const grpcParameterType = define("INVALID_ARG", (key: string, expected: string) =>
  `invalid value type for '${key}' parameter, expected ${expected}.`);

/** A gRPC "classification" parameter that is not int64 (grpc_utils.cc: no final period). */
export const grpcClassificationType = define("INVALID_ARG", () =>
  "invalid value type for 'classification' parameter, expected int64_param");

/** A negative gRPC "priority" or "timeout". */
export const grpcParameterNegative = define("INVALID_ARG", (key: string) => `invalid value for '${key}', expected value >= 0.`);

/** A gRPC "classification" below 1 (Triton's text says ">= 0" for a check that refuses 0 too). */
export const grpcClassificationTooSmall = define("INVALID_ARG", () =>
  "invalid value for 'classification' parameter, expected >= 0");

/** A repository unload whose "unload_dependents" is not a boolean. */
export const unloadDependentsNotBoolean = define("INTERNAL", () =>
  "Unable to parse 'unload_dependents': attempt to access JSON non-boolean as boolean");

/** A repository unload with "unload_dependents": true (not supported). */
export const unloadDependentsUnsupported = define("UNSUPPORTED", () =>
  "unloading dependent models ('unload_dependents': true) is not supported");

/** A repository call that names a repository (one namespace here). */
export const repositoryNameUnsupported = define("UNSUPPORTED", () => "'repository_name' specification is not supported");

// ---------------------------------------------------------------------------------------------
// Requests against the model's config (core/validate.ts, Triton's infer_request.cc texts, each
// after the "[request id: ...]" prefix).

/** An input named twice in one request. */
export const inputDuplicated = define("INVALID_ARG", (requestId: string, input: string) =>
  `${requestPrefix(requestId)}input '${input}' already exists in request`);

/** An input the model does not have. */
export const inputUnexpected = define("INVALID_ARG", (requestId: string, input: string, model: string) =>
  `${requestPrefix(requestId)}unexpected inference input '${input}' for model '${model}'`);

/** An input of another datatype than the model's. */
export const inputDatatypeMismatch = define("INVALID_ARG", (requestId: string, input: string, got: string, model: string, expected: string | null) =>
  `${requestPrefix(requestId)}inference input '${input}' data-type is '${got}', but model '${model}' expects '${expected}'`);

/** An input without the batch dimension its batching model needs. */
export const batchDimensionMissing = define("INVALID_ARG", (requestId: string, input: string, model: string, maxBatchSize: number) =>
  `${requestPrefix(requestId)}inference input '${input}' for model '${model}' must have a batch dimension, the model has max_batch_size ${maxBatchSize}`);

/** Inputs of one request with different batch sizes. */
export const batchSizeDiffers = define("INVALID_ARG", (requestId: string, input: string, model: string) =>
  `${requestPrefix(requestId)}input '${input}' batch size does not match other inputs for '${model}'`);

/** An input whose shape does not match the model's dims. */
export const shapeMismatch = define("INVALID_ARG", (requestId: string, input: string, model: string, expected: readonly number[], got: readonly number[]) =>
  `${requestPrefix(requestId)}unexpected shape for input '${input}' for model '${model}'. Expected ${fmtShape(expected)}, got ${fmtShape(got)}`);

/**
 * A request without every required input: the total count, or the range when some are optional;
 * names joined by "," without spaces (Triton's text).
 */
export const inputMissing = define("INVALID_ARG", (
  requestId: string, model: string, required: number, total: number, given: readonly string[], missing: readonly string[],
) => {
  const expected = required === total ? `expected ${total} inputs` : `expected number of inputs between ${required} and ${total}`;
  return `${requestPrefix(requestId)}${expected} but got ${given.length} inputs for model '${model}'. ` +
    `Got input(s) [${given.map((n) => `'${n}'`).join(",")}], but missing required input(s) ` +
    `[${missing.map((n) => `'${n}'`).join(",")}]. Please provide all required input(s).`;
});

/** A batch larger than the model's max_batch_size (or smaller than 1). */
export const batchSizeTooLarge = define("INVALID_ARG", (requestId: string, maxBatchSize: number, model: string) =>
  `${requestPrefix(requestId)}inference request batch-size must be <= ${maxBatchSize} for '${model}'`);

/** An output asked for twice in one request. */
export const outputDuplicated = define("INVALID_ARG", (requestId: string, output: string) =>
  `${requestPrefix(requestId)}output '${output}' already exists in request`);

/** A requested output the model does not have. */
export const outputUnexpected = define("INVALID_ARG", (requestId: string, output: string, model: string) =>
  `${requestPrefix(requestId)}unexpected inference output '${output}' for model '${model}'`);

/** A classification count that is not a positive integer. */
export const classificationCountInvalid = define("INVALID_ARG", (requestId: string, output: string) =>
  `${requestPrefix(requestId)}classification count for output '${output}' must be a positive integer`);

/** Classification asked of an output whose datatype Triton does not classify (classification.cc). */
export const classificationUnsupportedType = define("INVALID_ARG", (datatype: string) =>
  `class result not available for output due to unsupported type '${datatype}'`);

// ---------------------------------------------------------------------------------------------
// Model configuration (config/).

/** A config.pbtxt that does not parse; `where` is the file (and line), `description` the parser's. */
export const configParseFailed = define("INVALID_ARG", (where: string, description: string, cause: unknown) =>
  `failed to parse ${where}: ${description}`, last);

/** A repository load's "config" override that is not valid JSON or not a ModelConfig. */
export const configOverrideInvalid = define("INVALID_ARG", (detail: string, cause: unknown) =>
  `Invalid config override: ${detail}`, last);

/** A config that fails the schema; `path` is the field, `message` zod's issue. */
export const configSchemaInvalid = define("INVALID_ARG", (model: string, file: string | undefined, path: string, message: string) =>
  `invalid model configuration for '${model}'${file ? ` (${file})` : ""}: ${path}: ${message}`);

/** An input/output rule's failure, with its code, ending in " for <model>" (ValidateModelIOConfig). */
export const forModelIo = named("given", (err: ServerError, model: string) =>
  new ServerError(err.code, `${err.message} for ${model}`, { cause: err }));

/** An instance group whose KIND_AUTO was not resolved before validation (a server bug). */
export const unexpectedKindAuto = define("INTERNAL", (who: string) => `${who} has unexpected kind KIND_AUTO`);

// ---------------------------------------------------------------------------------------------
// BYTES element counts (infer_request.cc, ValidateBytesInputs) and repository load parameters
// (http_server.cc HandleRepositoryControl, grpc_server.cc RepositoryModelLoad).

/** A BYTES input whose data ends inside an element's 4-byte length. */
export const bytesLengthIncomplete = define("INVALID_ARG", (requestId: string, input: string, model: string, left: number) =>
  `${requestPrefix(requestId)}incomplete string length indicator for inference input '${input}' for model '${model}', ` +
  `expecting 4 bytes but only ${left} bytes available. Please make sure the string length indicator is in one buffer.`);

/** A BYTES input with more elements than its shape's count (reported at the first extra one). */
export const bytesElementsTooMany = define("INVALID_ARG", (requestId: string, found: number, input: string, model: string, expected: number) =>
  `${requestPrefix(requestId)}unexpected number of string elements ${found} for inference input '${input}' for model '${model}', expecting ${expected}`);

/** A BYTES input with fewer elements than its shape's count. */
export const bytesElementsCount = define("INVALID_ARG", (requestId: string, expected: number, input: string, model: string, found: number) =>
  `${requestPrefix(requestId)}expected ${expected} string elements for inference input '${input}' for model '${model}', got ${found}`);

/** A BYTES element whose length runs past the input's data (ours: Triton lets the last one through). */
export const bytesElementTruncated = define("INVALID_ARG", (requestId: string, input: string, model: string, index: number) =>
  `${requestPrefix(requestId)}string element ${index} of inference input '${input}' for model '${model}' is longer than the data left for it`);

/** An HTTP load whose "parameters" is not an object (TritonJson's text and code). */
export const loadParametersNotObject = define("INTERNAL", () => "attempt to get members for non-object");

/** An HTTP load parameter whose value is not a JSON string (TritonJson's text and code). */
export const loadParameterNotString = define("INTERNAL", () => "attempt to access JSON non-string as string");

/** An HTTP load parameter other than "config" or "file:<path>" (Triton's text and code). */
export const loadParameterUnrecognized = define("INTERNAL", () => "unexpected error on creating Triton parameter");

/** A gRPC load parameter of the wrong choice: "config" wants string_param, "file:" bytes_param. */
export const grpcLoadParameterType = define("INVALID_ARG", (key: string, expected: string) =>
  `invalid value type for load parameter '${key}', expected ${expected}.`);

/** A gRPC load parameter other than "config" or "file:<path>". */
export const grpcLoadParameterUnknown = define("INVALID_ARG", (key: string) => `unrecognized load parameter '${key}'.`);

// ---------------------------------------------------------------------------------------------
// HTTP bodies: nesting depth, exact shapes, encodings (Triton's http_server.cc and common.cc texts).

/** A JSON body (or an input's `data`) nested past Triton's HTTP_MAX_JSON_NESTING_DEPTH. */
export const jsonNestingTooDeep = define("INVALID_ARG", (limit: number) =>
  `JSON nesting depth exceeds maximum allowed limit (${limit})`);

/**
 * A shape dimension that is not an unsigned integer (negative, fractional, not a number, past
 * 2^64-1): TritonJson's IndexAsUInt error behind RETURN_MSG_IF_ERR, INTERNAL as Triton has it.
 */
export const shapeNotUnsigned = define("INTERNAL", () =>
  "Unable to parse 'shape': attempt to access JSON non-unsigned-integer as unsigned-integer");

/** A shape with a dimension that is negative as int64 (GetElementCount's -2); `shape` as Triton prints it. */
export const shapeDimsInvalid = define("INVALID_ARG", (input: string, shape: string) =>
  `invalid shape for input '${input}': shape ${shape} contains one or more invalid dimensions`);

/** A shape whose element count overflows int64 (GetElementCount's -3). */
export const shapeCountOverflow = define("INVALID_ARG", (input: string, shape: string) =>
  `invalid shape for input '${input}': shape ${shape} causes total element count to exceed maximum size of 9223372036854775807`);

/** A JSON input whose element count times its datatype size overflows int64. */
export const byteSizeOverflow = define("INVALID_ARG", (input: string, count: string, size: number) =>
  `byte size overflow for input '${input}': element count (${count}) * data type size (${size}) ` +
  "exceeds maximum allowed size (9223372036854775807)");

/**
 * A gRPC unload whose "unload_dependents" is not a bool_param: Triton's gRPC front end refuses it
 * (INVALID_ARG) and unloads nothing.
 */
export const grpcUnloadDependentsType = define("INVALID_ARG", () =>
  "invalid value type for 'unload_dependents' parameter, expected bool_param.");

// ---------------------------------------------------------------------------------------------
// Header forwarding (http_server.cc ForEachHeader, grpc infer_handler.h ForwardHeadersAsParameters)
// and classification limits (classification.cc TopkClassifications).

/** A forwarded header whose name is a reserved parameter or starts with "triton_" (Triton's text). */
export const headerReserved = define("INVALID_ARG", (header: string) =>
  `Header '${header}' is reserved for Triton usage and cannot be forwarded.`);

/** A --http/--grpc-header-forward-pattern that is not a regular expression (ours: RE2 would log it). */
export const headerForwardPatternInvalid = define("INVALID_ARG", (option: string, pattern: string, cause: unknown) =>
  `--${option}: invalid regular expression '${pattern}': ${(cause as Error)?.message ?? String(cause)}`, last);

/** Classification asked of an output of more than kMaxClassificationElements (1 000 000) elements. */
export const classificationTooLarge = define("INVALID_ARG", () => "classification output tensor too large");

// The OpenAI-compatible front end (openai/). Each field error carries `param`, the request field
// it names (OpenAI's error object sends it); the texts are OpenAI's where it has one.

/** An error that names the request field at fault (OpenAI's `param`). */
export type FieldError = ServerError & { readonly param: string };

const withParam = (err: ServerError, param: string): FieldError => Object.assign(err, { param });

/** A required field left out (OpenAI's text). */
export const openaiFieldMissing = named("INVALID_ARG", (field: string) =>
  withParam(new ServerError("INVALID_ARG", `Missing required parameter: '${field}'.`), field));

/** A field of the wrong type or out of range; `requirement` says what it must be. */
export const openaiFieldInvalid = named("INVALID_ARG", (field: string, requirement: string) =>
  withParam(new ServerError("INVALID_ARG", `Invalid value for '${field}': ${requirement}.`), field));

/** A field whose value asks for something this server does not do (n > 1, logprobs, token prompts). */
export const openaiFieldUnsupported = named("INVALID_ARG", (field: string, detail: string) =>
  withParam(new ServerError("INVALID_ARG", `Unsupported value for '${field}': ${detail}.`), field));

/** A model that is not loaded, or does not follow the text-generation convention (docs/openai.md). */
export const openaiModelNotFound = named("NOT_FOUND", (model: string, reason: string) =>
  withParam(new ServerError("NOT_FOUND", `The model '${model}' does not exist or you do not have access to it (${reason}).`), "model"));

/** A chat template that failed to render the messages (a template's raise_exception, or a bad template). */
export const openaiChatTemplateFailed = named("INVALID_ARG", (model: string, cause: unknown) =>
  withParam(new ServerError("INVALID_ARG", `the chat template of model '${model}' could not render the messages: ${messageOf(cause)}`, { cause }), "messages"));

/** A model whose chat template (config parameter or tokenizer_config.json) does not parse. */
export const openaiChatTemplateInvalid = define("INTERNAL", (model: string, source: string, cause: unknown) =>
  `the chat template of model '${model}' (${source}) is not valid Jinja: ${messageOf(cause)}`, last);

/** A response of the model whose text_output is not one BYTES element of UTF-8 text. */
export const openaiOutputUnreadable = define("INTERNAL", (model: string) =>
  `model '${model}' answered without a readable 'text_output' (one BYTES element of UTF-8 text)`);
