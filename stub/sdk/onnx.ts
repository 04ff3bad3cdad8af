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
 * (its executionProviders are ignored: placement is the config's). Logs the provider chosen.
 */
export async function createSession(args: ModelArgs, path: string, options: SessionOptions = {}): Promise<Session> {
  const { InferenceSession } = loadOrt();
  const config = JSON.parse(args.model_config || "{}") as Record<string, unknown>;
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
