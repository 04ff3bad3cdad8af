/**
 * pb_utils' model loading API (load_model, unload_model, is_model_ready), camelCased: a handler
 * loads, unloads or checks another model of the server. Each goes through the server's repository
 * API, so its rules apply: loading and unloading work in explicit model control mode only (Triton's
 * "explicit model load / unload is not allowed if polling is enabled" otherwise), `config` replaces
 * the model's config.pbtxt, `files` ("file:<path>" keys, as pb_utils' dict) form the model folder
 * the model loads from, confined to it. Each returns a promise: a failure rejects with a
 * TritonError carrying the server's code and text. A handler cannot load or unload its own model.
 */
import { TritonError } from "./errors.js";

export interface LoadModelOptions {
  /** A JSON model config that replaces config.pbtxt (pb_utils' `config`). */
  config?: string;
  /** `file:<path>` → contents: the model loads from a folder of just these files; needs `config`. */
  files?: Record<string, Uint8Array | string>;
}

export interface UnloadModelOptions {
  /** pb_utils' unload_dependents; true is refused as unsupported, as the repository API does. */
  unloadDependents?: boolean;
}

/** @internal What the stub sends main. */
export type ModelControlCall =
  | { op: "load"; model: string; config?: string; files: { key: string; data: Uint8Array }[] }
  | { op: "unload"; model: string; unloadDependents?: boolean }
  | { op: "ready"; model: string; version?: string };

type Transport = (call: ModelControlCall) => Promise<{ ready?: boolean }>;
let transport: Transport | null = null;

/** @internal The stub wires model control to main; outside a stub there is nowhere to go. */
export function setModelControlTransport(t: Transport | null): void {
  transport = t;
}

function send(call: ModelControlCall): Promise<{ ready?: boolean }> {
  if (!transport) {
    return Promise.reject(new TritonError("model control needs the server: loadModel() and friends work in a model that tessera serves", TritonError.UNSUPPORTED));
  }
  return transport(call);
}

function name(modelName: unknown): string {
  if (typeof modelName !== "string" || modelName === "") throw new TritonError("model_name must be a non-empty string", TritonError.INVALID_ARG);
  return modelName;
}

/** pb_utils.load_model: loads (or reloads) `modelName`; resolves once it is ready. */
export async function loadModel(modelName: string, options: LoadModelOptions = {}): Promise<void> {
  const files = Object.entries(options.files ?? {}).map(([key, value]) => {
    if (!key.startsWith("file:")) throw new TritonError(`files key '${key}' must start with "file:"`, TritonError.INVALID_ARG);
    if (typeof value === "string") return { key, data: new TextEncoder().encode(value) };
    if (!(value instanceof Uint8Array)) throw new TritonError(`files['${key}'] must be a Uint8Array or a string`, TritonError.INVALID_ARG);
    return { key, data: value };
  });
  if (options.config !== undefined && typeof options.config !== "string") {
    throw new TritonError("config must be a JSON string", TritonError.INVALID_ARG);
  }
  await send({ op: "load", model: name(modelName), config: options.config, files });
}

/** pb_utils.unload_model: unloads `modelName` (its in-flight requests finish first). */
export async function unloadModel(modelName: string, options: UnloadModelOptions = {}): Promise<void> {
  await send({ op: "unload", model: name(modelName), unloadDependents: options.unloadDependents === true });
}

/** pb_utils.is_model_ready: whether `modelName` (the given version, else the model) can serve now. */
export async function isModelReady(modelName: string, modelVersion: string | number = ""): Promise<boolean> {
  const answer = await send({ op: "ready", model: name(modelName), version: String(modelVersion) });
  return answer.ready === true;
}
