/**
 * The texts the stub itself sends main as wire errors ({ code, message }), one function per text.
 * They live here, not in src/errors: the stub takes only types from src/errors (main and worker
 * share src/ipc and nothing that runs); main turns each into a ServerError (ServerError.from), and
 * the texts reach clients and the log as written here. (The SDK's TritonError is sdk/errors.ts.)
 */
import type { ErrorInfo } from "../src/errors/index.js";

const textOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** A shared-memory message from main that this stub cannot read; main replaces the stub. */
export const messageUnreadable = (err: unknown): ErrorInfo =>
  ({ code: "INTERNAL", message: `the stub could not read its message: ${textOf(err)}` });

/**
 * The handler module failed to import: the detail alone, sent with `during: "import"`; main's
 * handlerImportFailed names the module ("failed to load '<module path>': <detail>").
 */
export const importFailed = (detail: string): ErrorInfo => ({ code: "INTERNAL", message: detail });

/** The handler's static autoCompleteConfig threw or returned something else; `detail` names where. */
export const autoCompleteFailed = (detail: string): ErrorInfo =>
  ({ code: "INVALID_ARG", message: `autoCompleteConfig failed: ${detail}` });

/** The handler's constructor or initialize threw; `detail` names where. */
export const initializeFailed = (detail: string): ErrorInfo => ({ code: "INTERNAL", message: `initialize failed: ${detail}` });

/** A final response that could not be written: the request ends with this error instead. */
export const finalResponseUnsent = (err: unknown): ErrorInfo =>
  ({ code: "INTERNAL", message: `could not send the final response: ${textOf(err)}` });
