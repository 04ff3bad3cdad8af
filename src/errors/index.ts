/**
 * The error registry: the one error type with Triton's codes and the one table that maps each
 * code to an HTTP and a gRPC status (server-error.ts), and every text the server raises itself,
 * as a named factory that keeps its cause (texts.ts, which re-exports config-texts.ts and
 * runtime-texts.ts; listed in docs/errors.md).
 */
export * from "./server-error.js";
export * from "./texts.js";
