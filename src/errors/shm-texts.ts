/**
 * The system shared-memory extension's texts (src/shm/). Triton's, byte for byte, where Triton has
 * one: server src/common.h and common.cc (the flag, the reserved prefix), src/shared_memory_manager.cc
 * (register, lookups, windows), src/http_server.cc and src/grpc/infer_handler.cc (infer
 * parameters, output sizes). Re-exported by texts.ts.
 */
import { define, last } from "./factory.js";

/** Any shared-memory call while --allow-client-shm is off (Triton's text, our flag). */
export const shmDisabled = define("UNSUPPORTED", () =>
  "Client shared memory is disabled. Start the server with '--allow-client-shm=true' to enable.");

/** A register call without a region name (gRPC's empty name). */
export const shmRegionNameMissing = define("INVALID_ARG", (kind: "system" | "cuda") =>
  `'region name' is necessary to register ${kind} shared memory region`);

/** A key that names tessera's own segments: its reserved prefix, also after leading slashes. */
export const shmKeyReserved = define("INVALID_ARG", (name: string, key: string, prefix: string) =>
  `cannot register shared memory region '${name}' with key '${key}' as the key contains the reserved prefix '${prefix}'`);

export const shmAlreadyRegistered = define("ALREADY_EXISTS", (name: string) =>
  `shared memory region '${name}' already in manager`);

/** shm_open of the client's key failed (no such segment, no permission, a malformed key). */
export const shmOpenFailed = define("INTERNAL", (key: string, _cause?: unknown) =>
  `Unable to open shared memory region: '${key}'`, last);

/** fstat of the client's segment failed. */
export const shmInvalidRegion = define("INTERNAL", (key: string) =>
  `Invalid shared memory region: '${key}'`);

/** offset + byte_size past the segment's real size (fstat), or not a uint64. */
export const shmRegisterInvalidArgs = define("INVALID_ARG", (name: string) =>
  `failed to register shared memory region '${name}': invalid args`);

/** Mapping the segment failed (the detail is the system's). */
export const shmRegisterFailed = define("INVALID_ARG", (name: string, detail: string, _cause?: unknown) =>
  `failed to register shared memory region '${name}': ${detail}`, last);

/** An infer input or output naming a region that is not registered. */
export const shmRegionNotFound = define("NOT_FOUND", (name: string) =>
  `Unable to find shared memory region: '${name}'`);

/** Status of a region that is not registered. */
export const shmStatusNotFound = define("NOT_FOUND", (kind: "system" | "cuda", name: string) =>
  `Unable to find ${kind} shared memory region: '${name}'`);

/** A per-request offset at or past the end of the registered window. */
export const shmInvalidOffset = define("INVALID_ARG", (name: string) =>
  `Invalid offset for shared memory region: '${name}'`);

/** offset + byte_size overflows a uint64. */
export const shmSizeOverflow = define("INVALID_ARG", (name: string, byteSize: bigint, offset: bigint) =>
  `Integer overflow detected: byte_size (${byteSize}) + offset (${offset}) exceeds maximum value (18446744073709551615) for region '${name}'`);

/** A per-request window that does not fit in the registered one. */
export const shmWindowOutOfRange = define("INVALID_ARG", (name: string) =>
  `Invalid offset + byte size for shared memory region: '${name}'`);

/** An output larger than the window the request gave it. */
export const shmOutputTooSmall = define("INTERNAL", (output: string, window: number, needed: number) =>
  `shared memory size specified with the request for output '${output}' (${window} bytes) should be at least ${needed} bytes to hold the results`);

/** An HTTP input with shared_memory_region and also data or binary_data_size. */
export const shmInputDataChoice = define("INVALID_ARG", (data: boolean, binary: boolean) =>
  "Input must set only one of the following fields: 'data', 'binary_data_size' in 'parameters', " +
  `'shared_memory_region' in 'parameters'. But set${data ? " 'data'" : ""}${binary ? " 'binary_data_size'" : ""} 'shared_memory_region'`);

/** A gRPC input with shared_memory_region and also typed contents or raw contents. */
export const shmInputWithContents = define("INVALID_ARG", (input: string, model: string) =>
  `unexpected 'content' provided when using shared memory for input tensor '${input}' for model '${model}'`);

/** An output with shared_memory_region and binary_data: true, or classification. */
export const shmOutputConflict = define("INVALID_ARG", (other: "binary_data" | "classification") =>
  `Output can't set both 'shared_memory_region' and '${other}'`);

/** A shared_memory_* parameter of the wrong type. */
export const shmParameterUnparsable = define("INVALID_ARG", (key: string) =>
  `Unable to parse '${key}'`);

/** CUDA shared memory: tessera has no GPU memory to share (Triton's text without GPU support). */
export const cudaShmUnsupported = define("INVALID_ARG", (name: string) =>
  `failed to register CUDA shared memory region: '${name}', GPUs not supported`);

/** The client's segment is now smaller than a window in use (it was truncated): refused, not read (ours). */
export const shmRegionShrunk = define("INVALID_ARG", (name: string, size: number, needed: number) =>
  `shared memory region '${name}' is now ${size} bytes, smaller than the ${needed} bytes its registration covers: the segment was truncated`);
