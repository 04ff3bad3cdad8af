/**
 * Request and repository parameters, checked once for both front ends. Each front end decodes
 * its wire form into plain values; the rules and Triton's texts live here.
 */
import { invalidArg, unsupported } from "../errors/index.js";
import type { LoadOptions } from "./types.js";

/** Triton reserves the `triton_` prefix and refuses it from clients. */
export function checkParameterKey(key: string): void {
  if (key.startsWith("triton_")) {
    throw invalidArg(
      "parameter keys starting with 'triton_' are reserved for Triton usage and should not be " +
      "specified.",
    );
  }
}

export function invalidParameterType(key: string) {
  return invalidArg(`parameter '${key}' has invalid type. It should be either 'int', 'bool', or 'string'.`);
}

/**
 * Repository load parameters: `config` (a JSON string, or over HTTP a JSON object) replaces
 * config.pbtxt; `file:` overrides are not supported; anything else is refused.
 */
export function loadOptionsFrom(params: Record<string, unknown>): LoadOptions {
  const options: LoadOptions = {};
  for (const key of Object.keys(params)) {
    const value = params[key];
    if (key === "config") {
      if (typeof value === "string") options.config = value;
      else if (typeof value === "object" && value !== null && !ArrayBuffer.isView(value)) options.config = JSON.stringify(value);
      else throw invalidArg("Unable to parse 'config': expected a JSON string");
    } else if (key.startsWith("file:")) {
      throw unsupported(`load parameter '${key}': model file overrides are not supported`);
    } else {
      throw invalidArg(`unknown load parameter '${key}'; expected 'config'`);
    }
  }
  return options;
}

/** Repository unload: `unload_dependents: true` is not supported (no ensembles yet). */
export function checkUnloadDependents(value: unknown): void {
  if (value === undefined || value === false) return;
  if (typeof value !== "boolean") throw invalidArg("Unable to parse 'unload_dependents'");
  throw unsupported("unloading dependent models ('unload_dependents': true) is not supported");
}

/** Named repositories (Triton's repository_name) are not supported: there is one namespace. */
export function checkRepositoryName(name: string | undefined): void {
  if (name !== undefined) throw unsupported("'repository_name' specification is not supported");
}
