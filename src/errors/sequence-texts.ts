/**
 * The sequence batcher's texts (scheduler/sequence-batcher.ts). Triton's, byte for byte, where
 * Triton has one: core src/sequence_batch_scheduler/sequence_batch_scheduler.cc and
 * sequence_utils.h, src/infer_request.cc (the CORRID data-type check). Re-exported by texts.ts.
 */
import { define } from "./factory.js";

/** Triton's LogRequest() prefix. */
const requestPrefix = (id: string) => `[request id: ${id || "<id_unknown>"}] `;

/** A request to a sequence model without a sequence id, or with 0 or "" (sequence_utils.h). */
export const sequenceIdMissing = define("INVALID_ARG", (model: string) =>
  `inference request to model '${model}' must specify a non-zero or non-empty correlation ID`);

/** A request without START for a sequence the batcher does not know (ended, timed out, never started). */
export const sequenceStartMissing = define("INVALID_ARG", (sequence: string, model: string) =>
  `inference request for sequence ${sequence} to model '${model}' must specify the START flag on the first request of the sequence`);

/** A sequence id whose type is not the CORRID control's (infer_request.cc); types as protocol strings. */
export const sequenceIdType = define("INVALID_ARG", (requestId: string, control: string, given: string, model: string, expected: string) =>
  `${requestPrefix(requestId)}sequence batching control '${control}' data-type is '${given}', but model '${model}' expects '${expected}'`);

/** A request of more than one row to a sequence model (Triton's batcher takes batch-size 1 only). */
export const sequenceBatchSizeNotOne = define("INVALID_ARG", (model: string) =>
  `inference request to model '${model}' must specify batch-size 1 due to requirements of sequence batcher`);

/** A new sequence (START) while the model's scheduler is stopping (unload, shutdown). */
export const sequenceSchedulerStopping = define("UNAVAILABLE", () =>
  "Server is stopping, scheduler for model has stopped accepting new inference requests");

/** A string sequence id past Triton's limit (tritonserver.cc). */
export const sequenceIdTooLong = define("UNSUPPORTED", () =>
  "string correlation ID cannot be longer than 128 characters");

/** An open sequence whose instance died: its requests fail, its implicit state is gone (ours). */
export const sequenceInstanceDied = define("UNAVAILABLE", (sequence: string, model: string, instance: string) =>
  `sequence ${sequence} of model '${model}' ended: its instance '${instance}' died and the sequence's state is lost; start the sequence again with the START flag`);

/** An open sequence ended by an unload or shutdown after the exit timeout (ours). */
export const sequenceEndedByUnload = define("UNAVAILABLE", (sequence: string, model: string) =>
  `sequence ${sequence} of model '${model}' ended: the model is unloading`);

/** A backlogged sequence whose requests' timeout ran out before it got a slot (Triton's reaper). */
export const sequenceBacklogExpired = define("UNAVAILABLE", () => "timeout of the corresponding sequence has been expired");
