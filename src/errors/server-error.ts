/**
 * The error type with Triton's codes, and the one table that maps each code to an HTTP and a gRPC
 * status. Errors cross process boundaries as `{ code, message }`; the texts the server raises
 * itself are named factories in texts.ts.
 */

export const ERROR_CODES = [
  "UNKNOWN",
  "INTERNAL",
  "NOT_FOUND",
  "INVALID_ARG",
  "UNAVAILABLE",
  "UNSUPPORTED",
  "ALREADY_EXISTS",
  "CANCELLED",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Triton's HTTP mapping (http_server.cc): everything not listed is a client error, 400. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  UNKNOWN: 400,
  INTERNAL: 500,
  NOT_FOUND: 404,
  INVALID_ARG: 400,
  UNAVAILABLE: 503,
  UNSUPPORTED: 501,
  ALREADY_EXISTS: 400,
  CANCELLED: 400,
};

/** gRPC status numbers (grpc/status.h), as Triton maps its codes. */
export const GRPC_STATUS: Readonly<Record<ErrorCode, number>> = {
  UNKNOWN: 2,
  INTERNAL: 13,
  NOT_FOUND: 5,
  INVALID_ARG: 3,
  UNAVAILABLE: 14,
  UNSUPPORTED: 12,
  ALREADY_EXISTS: 6,
  CANCELLED: 1,
};

/**
 * A restricted API called without its header (core/restricted.ts). Triton answers it outside its
 * error codes, with a status of the transport's: 403 Forbidden over HTTP, UNAVAILABLE over gRPC.
 */
export const RESTRICTED_STATUS = { http: 403, grpc: 14 } as const;

/** The wire form of an error, as it crosses processes and protocols. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
}

/**
 * Shared-memory segment names as src/ipc/segments.ts makes them: "/tessera-<server pid>-<random
 * hex>". A name is a capability (whoever knows it can map the segment until it is unlinked), so it
 * must never reach a client: naming one in an error text was the first link of Triton's 2025 CVE
 * chain. At least 16 hex digits, so that a model named like "tessera-1-ab" is left alone.
 */
const SEGMENT_NAME = /\/?tessera-\d+-[0-9a-f]{16,}/g;

/** What a text shows in place of each segment name it contained. */
export const SEGMENT_PLACEHOLDER = "<shared-memory segment>";

/** `text` with every shared-memory segment name replaced by SEGMENT_PLACEHOLDER. */
export function redactSegmentNames(text: string): string {
  return text.includes("tessera-") ? text.replace(SEGMENT_NAME, SEGMENT_PLACEHOLDER) : text;
}

/**
 * The one error type. Its message is what clients see (front ends send it as is), so segment
 * names are taken out here, once, whatever produced the text: a native errno message, a stub's
 * stderr, a handler's own error.
 */
export class ServerError extends Error {
  readonly code: ErrorCode;

  /**
   * `options.cause` (ES2022) keeps what went wrong underneath, for logs and debuggers. Only the
   * message reaches a client: a cause's text is neither redacted nor sent (toJSON leaves it out).
   */
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(redactSegmentNames(message), options);
    this.name = "ServerError";
    this.code = code;
  }

  toJSON(): ErrorInfo {
    return { code: this.code, message: this.message };
  }

  static from(info: ErrorInfo): ServerError {
    return new ServerError(isErrorCode(info.code) ? info.code : "INTERNAL", info.message);
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
}

/**
 * Any thrown value as a ServerError; unknown failures are INTERNAL, keep their message, and keep
 * the value itself as the cause.
 */
export function toServerError(err: unknown): ServerError {
  if (err instanceof ServerError) return err;
  if (err instanceof Error) return new ServerError("INTERNAL", err.message, { cause: err });
  return new ServerError("INTERNAL", String(err), { cause: err });
}

/** The text of a thrown value, as a message quotes it. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Triton's names of its codes, as its Status strings print them ("Internal: ..."). */
export const STATUS_NAME: Readonly<Record<ErrorCode, string>> = {
  UNKNOWN: "Unknown",
  INTERNAL: "Internal",
  NOT_FOUND: "Not found",
  INVALID_ARG: "Invalid argument",
  UNAVAILABLE: "Unavailable",
  UNSUPPORTED: "Unsupported",
  ALREADY_EXISTS: "Already exists",
  CANCELLED: "Cancelled",
};
