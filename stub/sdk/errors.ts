import type { ErrorCode } from "../../src/errors/index.js";

export type TritonErrorCode = ErrorCode;

/**
 * pb_utils.TritonError: a value class (message() is a method), not an Error subclass. A handler
 * returns it in a response or throws it from execute().
 */
export class TritonError {
  static readonly UNKNOWN = "UNKNOWN" as const;
  static readonly INTERNAL = "INTERNAL" as const;
  static readonly NOT_FOUND = "NOT_FOUND" as const;
  static readonly INVALID_ARG = "INVALID_ARG" as const;
  static readonly UNAVAILABLE = "UNAVAILABLE" as const;
  static readonly UNSUPPORTED = "UNSUPPORTED" as const;
  static readonly ALREADY_EXISTS = "ALREADY_EXISTS" as const;
  static readonly CANCELLED = "CANCELLED" as const;

  readonly #message: string;
  readonly #code: TritonErrorCode;

  /** Where it was constructed, as Error.stack: load errors name the handler's file:line with it. */
  declare readonly stack?: string;

  constructor(message: string, code: TritonErrorCode = TritonError.INTERNAL) {
    this.#message = String(message);
    this.#code = code;
    Error.captureStackTrace(this, TritonError);
  }

  message(): string {
    return this.#message;
  }

  code(): TritonErrorCode {
    return this.#code;
  }

  toString(): string {
    return this.#message;
  }
}
