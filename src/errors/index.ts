/**
 * The error registry: one error type with Triton's codes, and the one table that maps each code to
 * an HTTP and a gRPC status. Errors cross process boundaries as `{ code, message }`.
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

/** The wire form of an error, as it crosses processes and protocols. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
}

export class ServerError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
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

/** Any thrown value as a ServerError; unknown failures are INTERNAL and keep their message. */
export function toServerError(err: unknown): ServerError {
  if (err instanceof ServerError) return err;
  if (err instanceof Error) return new ServerError("INTERNAL", err.message);
  return new ServerError("INTERNAL", String(err));
}

// Constructors for the errors the server raises itself, so texts stay Triton's and in one place.
export const invalidArg = (message: string) => new ServerError("INVALID_ARG", message);
export const notFound = (message: string) => new ServerError("NOT_FOUND", message);
export const unavailable = (message: string) => new ServerError("UNAVAILABLE", message);
export const unsupported = (message: string) => new ServerError("UNSUPPORTED", message);
export const internal = (message: string) => new ServerError("INTERNAL", message);
export const cancelled = (message: string) => new ServerError("CANCELLED", message);

/** Triton's names of its codes, as its Status strings print them ("Internal: ..."). */
const STATUS_NAME: Readonly<Record<ErrorCode, string>> = {
  UNKNOWN: "Unknown",
  INTERNAL: "Internal",
  NOT_FOUND: "Not found",
  INVALID_ARG: "Invalid argument",
  UNAVAILABLE: "Unavailable",
  UNSUPPORTED: "Unsupported",
  ALREADY_EXISTS: "Already exists",
  CANCELLED: "Cancelled",
};

/** A model version that failed to start (its handler's initialize threw, its stub died, ...). */
export class VersionLoadError extends ServerError {
  readonly model: string;
  readonly version: number;
  readonly reason: ServerError;

  constructor(model: string, version: number, cause: ServerError) {
    const detail = cause.message.replace(/^failed to load '[^']*': /, "");
    super(cause.code, `failed to load '${model}': ${detail}`);
    this.model = model;
    this.version = version;
    this.reason = new ServerError(cause.code, detail);
  }

  /** What Triton's repository load answers: INVALID_ARG (400) naming the version and the cause. */
  forRepositoryApi(): ServerError {
    const c = this.reason;
    return invalidArg(`load failed for model '${this.model}': version ${this.version} is at UNAVAILABLE state: ${STATUS_NAME[c.code]}: ${c.message};`);
  }
}
