/**
 * The texts of serving, as opposed to parsing and validation (texts.ts) and config rules
 * (config-texts.ts): the request pipeline (core/), the schedulers (scheduler/), the stub backend
 * and its processes (backends/stub/), and the server's start-up (server.ts). One factory per
 * text; listed in docs/errors.md like texts.ts's. Texts quoted from Triton say so.
 */
import { define, last, named } from "./factory.js";
import { ServerError, messageOf } from "./server-error.js";

// ---------------------------------------------------------------------------------------------
// Start-up (server.ts).

/** A start-up load that failed under --exit-on-error (Triton's text; the log shows "Internal - ..."). */
export const startupLoadFailed = define("INTERNAL", () => "failed to load all models");

// ---------------------------------------------------------------------------------------------
// The request pipeline (core/).

/** A client request while the server drains (Triton's text); BLS calls and ensemble steps still pass. */
export const serverShuttingDown = define("UNAVAILABLE", () => "Server is shutting down");

/** A one-response client call to a decoupled model (the front ends refuse it first, with Triton's texts). */
export const decoupledNeedsStream = define("UNSUPPORTED", (model: string) =>
  `model '${model}' is decoupled: its responses stream (gRPC ModelStreamInfer, HTTP generate_stream)`);

/** An ensemble step whose model is decoupled. */
export const decoupledEnsembleStep = define("UNSUPPORTED", (model: string) =>
  `model '${model}' is decoupled: an ensemble step takes exactly one response`);

/** A request no stage answered or passed on (a pipeline bug). */
export const noStageTook = define("INTERNAL", (model: string) =>
  `no stage of the pipeline took the request for model '${model}'`);

/** A one-response call whose model sent its final flag without any response. */
export const endedWithoutResponse = define("INTERNAL", (model: string) =>
  `model '${model}' ended the request without a response`);

/** A requested output that the model's response lacks. */
export const outputNotProduced = define("INTERNAL", (model: string, output: string) =>
  `model '${model}' did not produce the requested output '${output}'`);

/** A model-wide query (metadata, config) for a model with no ready version (Triton's text). */
export const requestedModelUnavailable = define("INVALID_ARG", (model: string) =>
  `requested model '${model}' is not available`);

/** A query for a version that is not ready (Triton's text). */
export const requestedVersionUnavailable = define("INVALID_ARG", (model: string) =>
  `requested model version is not available for model '${model}'`);

/** A repository load or unload in a control mode that does not allow it (Triton's text). */
export const explicitLoadNotAllowed = define("UNAVAILABLE", () =>
  "explicit model load / unload is not allowed if polling is enabled");

// ---------------------------------------------------------------------------------------------
// Schedulers (scheduler/).

/** A request to a model version that is unloading. */
export const modelUnloading = define("UNAVAILABLE", (model: string) => `model '${model}' is unloading`);

/** A request past the dynamic batcher's max_queue_size (Triton's text). */
export const queueFull = define("UNAVAILABLE", () => "Exceeds maximum queue size");

/** A request (or BLS call) whose timeout passed before it ran or finished (Triton's text). */
export const requestTimeoutExpired = define("UNAVAILABLE", () => "Request timeout expired");

/** A request cancelled before it reached an instance, or an ensemble's between its steps (Triton's text). */
export const requestCancelled = define("CANCELLED", (model: string) => `request for model '${model}' was cancelled`);

/** An instance whose execute answered fewer results than it was given requests. */
export const instanceNoResult = define("INTERNAL", (instance: string) =>
  `instance '${instance}' returned no result for a request`);

/** An ensemble built without the server's inference path for its steps (a server bug). */
export const ensembleWithoutInferPath = define("INTERNAL", (ensemble: string) =>
  `ensemble '${ensemble}' needs the server's inference path`);

/** A step's failure, with its code, in Triton's ensemble prefix. */
export const inEnsemble = named("given", (err: ServerError, ensemble: string) =>
  new ServerError(err.code, `in ensemble '${ensemble}', ${err.message}`, { cause: err }));

/** Steps that cannot produce every output (Triton's text). */
export const ensembleDeadlock = define("INTERNAL", (ensemble: string) =>
  `in ensemble '${ensemble}', unexpected deadlock, at least one output is not set while no more ensemble steps can be made`);

// ---------------------------------------------------------------------------------------------
// The stub backend (backends/stub/).

/** A version folder without the handler file its config names (or any of the defaults). */
export const handlerFileNotFound = define("INVALID_ARG", (model: string, version: number, dir: string, candidates: readonly string[]) =>
  `model '${model}' version ${version}: no handler file found in ${dir} (looked for ${candidates.join(", ")})`);

/** An onnxruntime version folder without its model file. */
export const modelFileNotFound = define("INVALID_ARG", (model: string, version: number, file: string) =>
  `model '${model}' version ${version}: no model file ${file}`);

/** A handler that does not compile; `where` is "file:line:column: " or empty, `what` the compiler's text. */
export const handlerCompileFailed = define("INVALID_ARG", (file: string, where: string, what: string, cause: unknown) =>
  `failed to compile ${file}: ${where}${what}`, last);

/** A model whose instance groups add up to no instance. */
export const noInstancesToStart = define("INVALID_ARG", (model: string) => `model '${model}' has no instances to start`);

/** A request sent to an instance that is not (or no longer) ready. */
export const instanceNotReady = define("UNAVAILABLE", (instance: string) => `model instance '${instance}' is not ready`);

/** Requests in flight on an instance whose stub died (Triton's python backend text). */
export const instanceRequestsFailed = define("INTERNAL", (instance: string, cause: ServerError) =>
  `Failed to process the request(s) for model instance '${instance}', message: ${cause.message}`, last);

/** A model whose last instance failed to restart. */
export const restartFailed = define("UNAVAILABLE", (model: string, version: number, instance: string, cause: unknown) =>
  `model '${model}' version ${version} has no live instance: restarting '${instance}' failed: ${messageOf(cause)}`, last);

/** A model whose instances are all waiting out their restart back-off. */
export const instancesRestarting = define("UNAVAILABLE", (model: string, version: number, failures: number) =>
  `model '${model}' version ${version} has no live instance: its instances are restarting after ${failures} consecutive failure(s)`);

/** A stub that did not answer a control message in time. */
export const stubNoAnswer = define("INTERNAL", (instance: string, message: string, timeoutMs: number) =>
  `stub '${instance}' did not answer '${message}' within ${timeoutMs} ms`);

/** A call to a stub that has died; `stderr` is the tail of its stderr lines, possibly none. */
export const stubUnhealthy = define("INTERNAL", (instance: string, reason: string, stderr: readonly string[]) =>
  `Stub process '${instance}' is not healthy (${reason})${stderr.length > 0 ? `: ${stderr.join(" | ")}` : ""}`);

/** A request that could not be written to the stub's shared memory. */
export const requestNotPassed = define("INTERNAL", (instance: string, cause: unknown) =>
  `failed to pass the request to '${instance}': ${messageOf(cause)}`, last);

/** One execute call with both decoupled and other requests (a scheduler bug). */
export const mixedDecoupledCall = define("INTERNAL", (instance: string) =>
  `a call to '${instance}' mixes decoupled and other requests`);

/** A stub channel that cannot go on (a message it cannot read, or of a kind nobody handles). */
export const channelBroken = define("INTERNAL", (instance: string, reason: string) =>
  `the channel to '${instance}' is broken: ${reason}`);

/** A BLS call from a model that was given no inference path. */
export const blsUnavailable = define("UNSUPPORTED", () => "BLS calls are not available to this model");

/** A BLS call whose calling stub went away before it finished. */
export const callingStubGone = define("CANCELLED", () => "the calling stub is gone");

// ---------------------------------------------------------------------------------------------
// Decoupled models as ensemble steps (config/ensemble-decoupling.ts, scheduler/ensemble-stream.ts).

/**
 * An ensemble step (or the ensemble's outputs, `model` then the ensemble) fed by tensors that
 * come from different decoupled steps (Triton's text, its missing quotes around the ensemble).
 */
export const ensembleDecoupledBranching = define("INVALID_ARG", (ensemble: string, model: string) =>
  `in ensemble ${ensemble}, step of model '${model}' receives inputs originated from different decoupled models`);
