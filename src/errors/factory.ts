/**
 * How a named error factory is made (texts.ts, config-texts.ts, runtime-texts.ts): the factory
 * carries the code of every error it makes, so that docs/errors.md can be checked against it.
 * Not re-exported from index.ts: factories are defined in src/errors only.
 */
import { type ErrorCode, ServerError } from "./server-error.js";

/** A named error factory; `code` is the code of every error it makes, or "given" (the caller's). */
export type Factory<A extends unknown[], E extends ServerError = ServerError> = ((...args: A) => E) & {
  readonly code: ErrorCode | "given";
};

export function named<A extends unknown[], E extends ServerError>(code: ErrorCode | "given", make: (...args: A) => E): Factory<A, E> {
  return Object.assign(make, { code });
}

/** A factory of `code` errors whose message is `text(...args)`, and whose cause is `cause(...args)`. */
export function define<A extends unknown[]>(
  code: ErrorCode, text: (...args: A) => string, cause?: (...args: A) => unknown,
): Factory<A> {
  return named(code, (...args: A) => new ServerError(code, text(...args), cause ? { cause: cause(...args) } : undefined));
}

/** The last argument, where a factory takes the error it reports as its last parameter. */
export const last = (...args: unknown[]) => args[args.length - 1];
