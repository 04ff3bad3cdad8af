/** Finds the handler class in the model module, and formats where a failure was thrown. */
import { fileURLToPath } from "node:url";
import type { TritonModelClass } from "./sdk/index.js";

export function findModelClass(module: Record<string, unknown>, file: string): TritonModelClass {
  for (const key of ["default", "TritonPythonModel", "TritonModel"]) {
    const candidate = module[key];
    if (typeof candidate === "function" && candidate.prototype !== undefined) return candidate as TritonModelClass;
  }
  throw new Error(`${file}: no model class found: export a class as default, or named TritonPythonModel or TritonModel`);
}

/** "message (at /path/model.ts:12:11)": where in the user's code an error was thrown. */
export function describeFailure(err: unknown, sourceFile: string): string {
  const message = err instanceof Error ? err.message : String(err);
  // Errors and TritonErrors (a value class that records a stack too) say where they were thrown.
  const stack = (err as { stack?: unknown } | null)?.stack;
  if (typeof stack !== "string") return message;
  for (const line of stack.split("\n")) {
    const m = /\(?((?:file:\/\/)?\/[^()\s]+):(\d+):(\d+)\)?\s*$/.exec(line.trim());
    if (!m) continue;
    const path = m[1].startsWith("file://") ? fileURLToPath(m[1]) : m[1];
    if (path === sourceFile || path.endsWith(sourceFile)) return `${message} (at ${path}:${m[2]}:${m[3]})`;
  }
  for (const line of stack.split("\n")) {
    const m = /\(?((?:file:\/\/)?\/[^()\s]+):(\d+):(\d+)\)?\s*$/.exec(line.trim());
    if (m && !m[1].includes("/node_modules/") && !m[1].includes("/dist/stub/") && !m[1].startsWith("node:")) {
      const path = m[1].startsWith("file://") ? fileURLToPath(m[1]) : m[1];
      return `${message} (at ${path}:${m[2]}:${m[3]})`;
    }
  }
  return message;
}
