/**
 * The texts the stub itself sends main as wire errors ({ code, message }), one function per text.
 * They live here, not in src/errors: the stub takes only types from src/errors (main and worker
 * share src/ipc and nothing that runs); main turns each into a ServerError (ServerError.from), and
 * the texts reach clients and the log as written here. (The SDK's TritonError is sdk/errors.ts.)
 */
import { basename, dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
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

/**
 * execute() threw, or returned something that is not its answer: every request of the call still
 * open fails with this, INTERNAL, as pb_stub.cc's ProcessRequests words it. `detail` is
 * describeThrown(what the handler threw), or the stub's own text alone (Triton's
 * PythonBackendException: no exception type, no traceback).
 */
export const executeFailed = (instanceName: string, detail: string): ErrorInfo => ({
  code: "INTERNAL",
  message: `Failed to process the request(s) for model '${instanceName}', message: ${detail}`,
});

/**
 * A decoupled model's execute() returned something other than nothing: pb_stub.cc's text, "Python"
 * kept as Triton words it (the twin of Python's None is null or undefined), naming the instance.
 * It reaches the client inside executeFailed, like every error of ProcessRequests.
 */
export const decoupledMustReturnNone = (instanceName: string): ErrorInfo => ({
  code: "INTERNAL",
  message: `Python model '${instanceName}' is using the decoupled mode and the execute function must return None.`,
});

/**
 * The JavaScript twin of what pybind11 says of a Python exception (error_already_set::what()):
 * the class name and message, then the handler's frames, deepest first, in Python's "At:" block.
 * Only the handler's own frames are listed (not the stub's, node's or node_modules'), as Python's
 * traceback holds only Python frames; no "At:" block when none is left. A thrown value that is not
 * an object with a message (a bare string) is its text alone: Python can raise nothing like it.
 */
export function describeThrown(thrown: unknown, sourceRoot?: string): string {
  if (thrown === null || typeof thrown !== "object" || typeof (thrown as { message?: unknown }).message === "undefined") {
    return String(thrown);
  }
  const raw = (thrown as { message: unknown }).message;
  // TritonError's message() is a method (pb_utils); an Error's is a property.
  const message = typeof raw === "function" ? String((raw as () => unknown).call(thrown)) : String(raw);
  const name = typeof (thrown as { name?: unknown }).name === "string" && (thrown as { name: string }).name !== ""
    ? (thrown as { name: string }).name
    : (thrown.constructor?.name || "Error");
  const frames = handlerFrames((thrown as { stack?: unknown }).stack, sourceRoot);
  const at = frames.length > 0 ? `\n\nAt:\n${frames.map((f) => `  ${f}\n`).join("")}` : "";
  return `${name}: ${message === "" ? "<EMPTY MESSAGE>" : message}${at}`;
}

/**
 * tessera's own code (the stub, the SDK, src/ipc it uses): built, it runs from dist/, and source
 * maps name its frames by the sources in stub/ and src/. Frames there are not the handler's.
 */
const OWN_DIRS = (() => {
  const here = dirname(fileURLToPath(import.meta.url)); // <root>/stub or <root>/dist/stub
  const root = basename(dirname(here)) === "dist" ? dirname(dirname(here)) : dirname(here);
  return ["dist", "stub", "src"].map((d) => join(root, d) + sep);
})();
const isOwn = (path: string) => path.includes(`${sep}node_modules${sep}`) || OWN_DIRS.some((d) => path.startsWith(d));

/**
 * "path(line): function" for each frame of a V8 stack from where it was thrown up to the handler's
 * outermost frame: tessera's frames above it (an SDK constructor that threw) are skipped, and the
 * first one below it (the stub that called execute) ends the list, as a Python traceback ends at
 * the C++ that called into Python.
 */
function handlerFrames(stack: unknown, sourceRoot?: string): string[] {
  if (typeof stack !== "string") return [];
  const frames: string[] = [];
  for (const line of stack.split("\n")) {
    // "    at Model.execute (file:///m/1/model.ts:12:11)" or "    at file:///m/1/model.ts:12:11"
    const m = /^\s*at (?:(.+?) \()?((?:file:\/\/)?\/[^()\s]+):(\d+):\d+\)?\s*$/.exec(line);
    if (!m) continue;
    const path = m[2].startsWith("file://") ? fileURLToPath(m[2]) : m[2];
    if (isOwn(path)) {
      if (frames.length > 0) break;
      continue;
    }
    const fn = (m[1] ?? "<anonymous>").replace(/^async /, "");
    // Relative to the repository (the hardening rule: no server path reaches a client).
    const shown = sourceRoot && path.startsWith(sourceRoot + sep) ? relative(sourceRoot, path) : basename(path);
    frames.push(`${shown}(${m[3]}): ${fn}`);
  }
  return frames;
}
