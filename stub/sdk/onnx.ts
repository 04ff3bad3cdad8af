/**
 * Beyond pb_utils: an onnxruntime session placed where the instance was told to run. Triton's
 * onnxruntime backend picks the execution provider from the instance kind and the config's
 * execution_accelerators; createSession() does the same for handlers (and the built-in
 * onnxruntime backend), so instance_group and the config decide placement, not the handler.
 *
 * Policy, per instance:
 * - KIND_CPU → the CPU provider.
 * - KIND_GPU → the config's gpu_execution_accelerator names ("cuda", "webgpu") in order, else
 *   CUDA, then WebGPU. None starts → a load error naming each missing piece; never a silent CPU.
 * - KIND_AUTO (a handler may pass it) → as GPU, but falls back to CPU with a log line.
 * The provider chosen is logged once per session; main shows it in the model's config, as the
 * parameter "execution_providers".
 *
 * Threads spinning: by default a session's intra-op threads stop spinning as soon as a run
 * returns (onnxruntime's session.force_spinning_stop "1"); they still spin during a run. Between
 * the calls a stub serves, onnxruntime's default spin-wait burns a core that main needs to
 * answer the next request (the MLP at batch 8: 953 → 671 µs per request). See spinningEntries
 * for the config parameters that bring spinning back.
 */
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ModelArgs } from "../../src/ipc/protocol.js";
import { TritonError } from "./errors.js";
import { Logger } from "./logger.js";

type Ort = typeof import("onnxruntime-node");
type Session = import("onnxruntime-node").InferenceSession;
type SessionOptions = import("onnxruntime-node").InferenceSession.SessionOptions;

export type ExecutionProviderName = "cpu" | "cuda" | "webgpu";
export type InstanceKind = "CPU" | "GPU" | "AUTO";

const GPU_PROVIDERS: readonly ExecutionProviderName[] = ["cuda", "webgpu"];

/**
 * Tries one provider: resolves null when it works (createSession keeps that session), or the
 * reason it cannot run here. Injected in tests; the real one creates the session.
 */
export type ProviderProbe = (ep: ExecutionProviderName) => Promise<string | null>;

export interface ProviderChoice {
  executionProvider: ExecutionProviderName;
  /** Why the choice was made, for the log (includes the reasons GPU providers were passed over). */
  reason: string;
}

/** The GPU accelerator names a config asks for (optimization.execution_accelerators), lower-cased. */
export function configuredGpuAccelerators(config: Record<string, unknown>): string[] {
  const opt = config.optimization as { execution_accelerators?: { gpu_execution_accelerator?: { name?: string }[] } } | undefined;
  return (opt?.execution_accelerators?.gpu_execution_accelerator ?? []).map((a) => String(a.name ?? "").toLowerCase());
}

/**
 * The provider policy above, with availability injected through `probe`. Throws a TritonError
 * (UNAVAILABLE) naming what is missing when a GPU instance has no GPU provider.
 */
export async function chooseExecutionProvider(
  kind: InstanceKind, gpuAccelerators: readonly string[], probe: ProviderProbe,
): Promise<ProviderChoice> {
  if (kind === "CPU") {
    if ((await probe("cpu")) === null) return { executionProvider: "cpu", reason: "KIND_CPU" };
    throw new TritonError("the CPU execution provider failed to start", TritonError.INTERNAL);
  }
  for (const name of gpuAccelerators) {
    if (!GPU_PROVIDERS.includes(name as ExecutionProviderName)) {
      throw new TritonError(`gpu_execution_accelerator '${name}' is not supported (supported: ${GPU_PROVIDERS.join(", ")})`, TritonError.INVALID_ARG);
    }
  }
  const candidates = (gpuAccelerators.length > 0 ? gpuAccelerators : GPU_PROVIDERS) as ExecutionProviderName[];
  const missing: string[] = [];
  for (const ep of candidates) {
    const why = await probe(ep);
    if (why === null) {
      const source = gpuAccelerators.length > 0 ? "gpu_execution_accelerator" : `KIND_${kind}`;
      return { executionProvider: ep, reason: missing.length ? `${source}; ${missing.join("; ")}` : source };
    }
    missing.push(`${ep}: ${why}`);
  }
  if (kind === "AUTO" && (await probe("cpu")) === null) {
    return { executionProvider: "cpu", reason: `KIND_AUTO found no GPU provider (${missing.join("; ")}), using CPU` };
  }
  throw new TritonError(
    `KIND_${kind} instance: no GPU execution provider could start (${missing.join("; ")}); ` +
      "use KIND_CPU, or install the missing GPU runtime", TritonError.UNAVAILABLE);
}

/** onnxruntime session config keys (onnxruntime_session_options_config_keys.h). */
const FORCE_SPINNING_STOP = "session.force_spinning_stop";
const INTRA_OP_ALLOW_SPINNING = "session.intra_op.allow_spinning";

const TRUE = new Set(["1", "true", "on", "yes"]);
const FALSE = new Set(["0", "false", "off", "no"]);

/**
 * The session config entries for thread spinning that a model config asks for, as flat
 * onnxruntime keys. Triton's onnxruntime backend has no parameter of its own for spinning; it
 * passes session config entries under onnxruntime's own key names (its
 * "session.use_device_allocator_for_initializers"), so tessera does the same:
 * - `allow_spinning` (tessera's short name) or `session.intra_op.allow_spinning`: "1" spins as
 *   onnxruntime's default does, also between runs (no forced stop); "0" never spins.
 * - `session.force_spinning_stop`: "1" or "0", and it wins over the above for the stop.
 * - none of them: `session.force_spinning_stop` "1".
 * Values as Triton's ParseBoolValue reads them (1/0, true/false, on/off); anything else is an
 * INVALID_ARG naming the parameter.
 */
export function spinningEntries(config: Record<string, unknown>): Record<string, string> {
  const params = (config.parameters ?? {}) as Record<string, { string_value?: string } | undefined>;
  const flag = (key: string): boolean | undefined => {
    const raw = params[key]?.string_value;
    if (raw === undefined) return undefined;
    const v = raw.trim().toLowerCase();
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
    throw new TritonError(`model '${String(config.name ?? "")}': parameter '${key}' must be "1" or "0" (or true/false), got "${raw}"`, TritonError.INVALID_ARG);
  };
  const allow = flag(INTRA_OP_ALLOW_SPINNING) ?? flag("allow_spinning");
  const stop = flag(FORCE_SPINNING_STOP) ?? allow !== true;
  const entries: Record<string, string> = {};
  if (allow !== undefined) entries[INTRA_OP_ALLOW_SPINNING] = allow ? "1" : "0";
  entries[FORCE_SPINNING_STOP] = stop ? "1" : "0";
  return entries;
}

/** `extra` as onnxruntime-node hands it to onnxruntime: nested keys joined with ".". */
function flatExtra(extra: unknown, prefix = "", out = new Map<string, unknown>()): Map<string, unknown> {
  if (extra === null || typeof extra !== "object") return out;
  for (const [k, v] of Object.entries(extra)) {
    if (v !== null && typeof v === "object") flatExtra(v, `${prefix}${k}.`, out);
    else out.set(prefix + k, v);
  }
  return out;
}

/** `entries` (flat keys) added to `extra`, nested as onnxruntime-node's typings show them. */
function mergeExtra(extra: Record<string, unknown> | undefined, entries: Record<string, string>): Record<string, unknown> {
  const out = structuredClone(extra ?? {});
  for (const [key, value] of Object.entries(entries)) {
    const parts = key.split(".");
    let at: Record<string, unknown> | null = out;
    for (const part of parts.slice(0, -1)) {
      const next: unknown = at[part] ?? (at[part] = {});
      if (typeof next !== "object" || next === null) {
        at = null;
        break;
      }
      at = next as Record<string, unknown>;
    }
    if (at) at[parts[parts.length - 1]] ??= value;
    else out[key] ??= value; // a value where a branch would go: the flat key means the same
  }
  return out;
}

/**
 * `options` with the config's spinning entries (spinningEntries) added, unless `options.extra`
 * already decides spinning itself (either key, nested or flat): a handler's own choice wins,
 * then the config's parameters, then the default (no spinning between runs).
 */
export function withSpinningDefault(options: SessionOptions, config: Record<string, unknown>): SessionOptions {
  const given = flatExtra(options.extra);
  if (given.has(FORCE_SPINNING_STOP) || given.has(INTRA_OP_ALLOW_SPINNING)) return options;
  return { ...options, extra: mergeExtra(options.extra, spinningEntries(config)) };
}

let ort: Ort | null = null;
function loadOrt(): Ort {
  ort ??= createRequire(import.meta.url)("onnxruntime-node") as Ort;
  return ort;
}

/** Why CUDA cannot load, checked before onnxruntime tries (its failure is a bare "failed to load"). */
export function cudaUnavailableReason(): string | null {
  let binDir: string;
  try {
    const req = createRequire(import.meta.url);
    const pkg = dirname(req.resolve("onnxruntime-node/package.json"));
    binDir = join(pkg, "bin", "napi-v6", process.platform, process.arch);
  } catch {
    return "onnxruntime-node is not installed";
  }
  if (!existsSync(join(binDir, "libonnxruntime_providers_cuda.so"))) {
    return `libonnxruntime_providers_cuda.so is not installed in ${binDir} (onnxruntime-node installs it with its install script and CUDA 12)`;
  }
  if (!existsSync("/proc/driver/nvidia/version")) return "no NVIDIA driver (/proc/driver/nvidia/version is missing)";
  return null;
}

function shortError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const adapter = /Failed to get a WebGPU adapter[^\n]*/.exec(msg);
  return (adapter ? adapter[0] : msg.split("\n")[0]).slice(0, 300);
}

/**
 * An onnxruntime-node InferenceSession for `path`, on the execution provider this instance's
 * kind, device and config ask for (see the policy above). `options` are passed to onnxruntime
 * (its executionProviders are ignored: placement is the config's). Unless `options.extra` sets
 * spinning itself, threads stop spinning when a run returns, or as the config's parameters say
 * (see spinningEntries). Logs the provider chosen.
 */
export async function createSession(args: ModelArgs, path: string, options: SessionOptions = {}): Promise<Session> {
  const { InferenceSession } = loadOrt();
  const config = JSON.parse(args.model_config || "{}") as Record<string, unknown>;
  options = withSpinningDefault(options, config);
  const kind = (args.model_instance_kind || "CPU").toUpperCase() as InstanceKind;
  const deviceId = Number(args.model_instance_device_id || 0);
  let session: Session | null = null;
  const probe: ProviderProbe = async (ep) => {
    if (ep === "cuda") {
      const why = cudaUnavailableReason();
      if (why) return why;
    }
    const provider = ep === "cuda" ? { name: "cuda", deviceId } : ep;
    try {
      session = await InferenceSession.create(path, { ...options, executionProviders: [provider] });
      return null;
    } catch (err) {
      return shortError(err);
    }
  };
  const choice = await chooseExecutionProvider(kind, kind === "CPU" ? [] : configuredGpuAccelerators(config), probe);
  Logger.logInfo(`onnxruntime session for ${path}: instance '${args.model_instance_name}' (${kind} device ${deviceId}) ` +
    `uses execution provider ${choice.executionProvider} (${choice.reason})`);
  providerSink(choice.executionProvider);
  return session!;
}

let providerSink: (provider: ExecutionProviderName) => void = () => {};

/** @internal The stub reports each session's provider to main, which shows it in the config. */
export function setProviderSink(sink: (provider: ExecutionProviderName) => void): void {
  providerSink = sink;
}
