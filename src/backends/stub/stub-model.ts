/**
 * The stub instances of one model version: instance_group.count processes per group (summed over
 * groups), started together, each replaced with back-off when it dies while the others serve on.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  handlerFileNotFound, instancesRestarting, modelFileNotFound, noInstancesToStart, restartFailed, type ServerError,
} from "../../errors/index.js";
import { configToJson, type ModelConfig } from "../../config/schema.js";
import type { ResponseStream } from "../../core/response-stream.js";
import type { CoreRequest } from "../../core/types.js";
import type { LogLevel, ModelArgs } from "../../ipc/protocol.js";
import { customMetrics } from "../../metrics/custom.js";
import type { ModelInstance } from "../backend.js";
import { warmUp, warmupSamples, type WarmupSample } from "../warmup.js";
import { prepareBuiltinModule, prepareHandlerModule } from "./handler-module.js";
import type { ModelControl } from "./model-control-service.js";
import { StubInstance, type StubOptions } from "./stub-instance.js";

export interface StubBackendOptions {
  arenaBytes: number;
  growthBytes: number;
  queueCapacity: number;
  heartbeatMs: number;
  stubTimeoutMs: number;
  /** Where handlers' BLS calls go (the server); without it they fail as unsupported. */
  bls?(request: CoreRequest): ResponseStream;
  /** Where handlers' loadModel / unloadModel / isModelReady go (the server's repository API). */
  modelControl?: ModelControl;
}

export const DEFAULT_STUB_OPTIONS: StubBackendOptions = {
  arenaBytes: 1 << 20, // Triton's shm-default-byte-size
  growthBytes: 1 << 20, // Triton's shm-growth-byte-size
  queueCapacity: 1024,
  heartbeatMs: 1000,
  stubTimeoutMs: 30_000, // Triton's stub-timeout-seconds
};

const HANDLER_FILES = ["model.ts", "model.mts", "model.js", "model.mjs"];
// A dead instance is replaced after 100 ms, doubling with each consecutive death up to 10 s; an
// instance that stayed up 30 s starts again from 100 ms.
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 10_000;
const STABLE_MS = 30_000;
/** While no instance lives, queued requests wait this long for a replacement, then fail. */
export const NO_INSTANCE_GRACE_MS = 1000;

interface Slot {
  name: string;
  kind: "CPU" | "GPU";
  deviceId: number;
  /** The onnxruntime execution provider(s) its sessions reported, in order. */
  executionProviders: string[];
  instance: StubInstance | null;
  failures: number;
  startedAt: number;
  timer?: NodeJS.Timeout;
}

export type ModelLog = (level: LogLevel, source: string, message: string) => void;

/**
 * The config parameter in which a loaded model reports its instances' execution providers:
 * "<instance>:<ep>[+<ep>...]" joined by ",", e.g. "m_0:cpu,m_1:cpu". It is what GET
 * /v2/models/<m>/config shows; set by tessera, ignored (and not passed to handlers) as input.
 */
export const EXECUTION_PROVIDERS_PARAMETER = "execution_providers";

/** The handler file of a version folder: default_model_filename, else model.ts/.mts/.js/.mjs. */
export function handlerFile(modelDir: string, version: number, cfg: ModelConfig): string {
  const dir = join(modelDir, String(version));
  const candidates = cfg.default_model_filename ? [cfg.default_model_filename] : HANDLER_FILES;
  for (const c of candidates) if (existsSync(join(dir, c))) return join(dir, c);
  throw handlerFileNotFound(cfg.name, version, dir, candidates);
}

/** The model file of an onnxruntime version folder (default_model_filename, else model.onnx). */
export function onnxFile(modelDir: string, version: number, cfg: ModelConfig): string {
  const file = join(modelDir, String(version), cfg.default_model_filename || "model.onnx");
  if (!existsSync(file)) throw modelFileNotFound(cfg.name, version, file);
  return file;
}

/**
 * The instances of a config, as Triton creates them: `count` per group, and for KIND_GPU `count`
 * on each of the group's GPUs (Triton's "one instance per GPU" default). Names are
 * "<group>_<k>", k running over the group (Triton repeats "<group>_<c>" on each GPU; tessera's
 * names must be unique: they name logs, restarts and errors).
 */
export function instanceSlots(cfg: Pick<ModelConfig, "instance_group">): { name: string; kind: "CPU" | "GPU"; deviceId: number }[] {
  const slots: { name: string; kind: "CPU" | "GPU"; deviceId: number }[] = [];
  for (const group of cfg.instance_group) {
    const gpu = group.kind === "KIND_GPU";
    // A KIND_GPU group with no gpus is one the server could not check (no GPU found): device 0.
    const devices = gpu && group.gpus.length > 0 ? group.gpus : [0];
    let k = 0;
    for (let c = 0; c < group.count; c++) {
      for (const deviceId of devices) slots.push({ name: `${group.name}_${k++}`, kind: gpu ? "GPU" : "CPU", deviceId });
    }
  }
  return slots;
}

export class StubModel {
  readonly #name: string;
  readonly #version: number;
  readonly #modelDir: string;
  readonly #o: StubBackendOptions;
  readonly #log: ModelLog;
  readonly #onChange: (instances: ModelInstance[]) => void;
  readonly #onRestartFailed: (error: ServerError) => void;
  #config: ModelConfig;
  #modulePath = "";
  #slots: Slot[] = [];
  /** model_warmup's samples, made once per version: every instance runs them before it serves. */
  #samples: WarmupSample[] = [];
  #stopping = false;
  /** Runs while no instance lives: fails what waits in the queue, every grace period. */
  #noInstanceTimer: NodeJS.Timeout | null = null;
  /** Replacements started after a stub died, since load; never reset (a metrics counter). */
  #restartsTotal = 0;

  constructor(args: {
    name: string; version: number; modelDir: string; config: ModelConfig; options: StubBackendOptions;
    log: ModelLog; onInstancesChanged: (instances: ModelInstance[]) => void;
    /** A replacement could not start and no instance is alive: queued requests cannot be served. */
    onRestartFailed: (error: ServerError) => void;
  }) {
    this.#name = args.name;
    this.#version = args.version;
    this.#modelDir = args.modelDir;
    this.#config = args.config;
    this.#o = args.options;
    this.#log = args.log;
    this.#onChange = args.onInstancesChanged;
    this.#onRestartFailed = args.onRestartFailed;
  }

  get config(): ModelConfig {
    return this.#config;
  }

  get instances(): StubInstance[] {
    return this.#slots.flatMap((s) => (s.instance && s.instance.state !== "dead" ? [s.instance] : []));
  }

  get restartsTotal(): number {
    return this.#restartsTotal;
  }

  /**
   * Starts every instance. With `autoComplete`, the first instance runs the handler's
   * autoCompleteConfig and `complete` validates the result into the final config.
   */
  async start(autoComplete?: (raw: Record<string, unknown>) => ModelConfig): Promise<ModelConfig> {
    const key = `${this.#name}-${this.#version}`;
    this.#modulePath = this.#config.backend === "onnxruntime"
      ? prepareBuiltinModule("onnxruntime", onnxFile(this.#modelDir, this.#version, this.#config), key)
      : await prepareHandlerModule(handlerFile(this.#modelDir, this.#version, this.#config), key);
    this.#slots = instanceSlots(this.#config).map((s) => ({ ...s, executionProviders: [], instance: null, failures: 0, startedAt: 0 }));
    if (this.#slots.length === 0) throw noInstancesToStart(this.#name);
    try {
      const first = this.#slots[0];
      first.instance = this.#newInstance(first);
      if (autoComplete) {
        const raw = await first.instance.start(configToJson(this.#config));
        this.#config = autoComplete(raw!);
      } else {
        await first.instance.start();
      }
      this.#samples = warmupSamples(this.#config, this.#modelDir);
      await Promise.all(this.#slots.map(async (slot) => {
        if (!slot.instance) {
          slot.instance = this.#newInstance(slot);
          await slot.instance.start();
        }
        await this.#bringUp(slot, slot.instance);
      }));
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.#reportExecutionProviders();
    this.#onChange(this.instances);
    return this.#config;
  }

  /**
   * Poll mode's in-place change of the instance count (only instance_group changed): slots are
   * kept by name; new ones start, initialize and warm up before they join; removed ones leave the
   * scheduler first, then finish what they hold and finalize.
   */
  async resize(config: ModelConfig): Promise<void> {
    const wanted = new Set(instanceSlots(config).map((s) => s.name));
    const added: Slot[] = instanceSlots(config).filter((s) => !this.#slots.some((x) => x.name === s.name))
      .map((s) => ({ ...s, executionProviders: [], instance: null, failures: 0, startedAt: 0 }));
    try {
      await Promise.all(added.map(async (slot) => {
        slot.instance = this.#newInstance(slot);
        await slot.instance.start();
        await this.#bringUp(slot, slot.instance);
      }));
    } catch (err) {
      await Promise.all(added.map((s) => s.instance?.stop()));
      throw err;
    }
    const removed = this.#slots.filter((s) => !wanted.has(s.name));
    this.#slots = [...this.#slots.filter((s) => wanted.has(s.name)), ...added];
    this.#config = { ...this.#config, instance_group: config.instance_group };
    this.#reportExecutionProviders();
    this.#onChange(this.instances);
    for (const s of removed) if (s.timer) clearTimeout(s.timer);
    await Promise.all(removed.map((s) => s.instance?.stop()));
  }

  /**
   * Finalizes every instance (in parallel) and stops restarting them. `streamsWaitMs` bounds the
   * wait for open decoupled requests (the server's shutdown has already waited its exit timeout).
   */
  async stop(streamsWaitMs?: number): Promise<void> {
    this.#stopping = true;
    this.#instancesBack();
    for (const s of this.#slots) if (s.timer) clearTimeout(s.timer);
    await Promise.all(this.#slots.map((s) => s.instance?.stop(undefined, streamsWaitMs)));
    this.#onChange([]);
    customMetrics.release(this); // the version's custom metrics go with it
  }

  /** Every live instance's handler says ready at its last isReady() check (true without one). */
  get handlerReady(): boolean {
    return this.instances.every((i) => i.handlerReady);
  }

  /** Asks every live instance's isReady() now; true when all say ready. */
  async checkReady(): Promise<boolean> {
    const answers = await Promise.all(this.instances.map((i) => i.checkReady()));
    return answers.every(Boolean);
  }

  /** Writes the slots' providers into the config's parameters (once an instance reported one). */
  #reportExecutionProviders(): void {
    if (!this.#slots.some((s) => s.executionProviders.length > 0)) return;
    const value = this.#slots.map((s) => `${s.name}:${s.executionProviders.join("+") || "none"}`).join(",");
    this.#config.parameters = { ...this.#config.parameters, [EXECUTION_PROVIDERS_PARAMETER]: { string_value: value } };
  }

  #args(slot: Slot): ModelArgs {
    const config = configToJson(this.#config) as { parameters?: Record<string, unknown> };
    if (config.parameters && EXECUTION_PROVIDERS_PARAMETER in config.parameters) {
      config.parameters = { ...config.parameters };
      delete config.parameters[EXECUTION_PROVIDERS_PARAMETER];
    }
    return {
      model_config: JSON.stringify(config),
      model_instance_kind: slot.kind,
      model_instance_name: slot.name,
      model_instance_device_id: String(slot.deviceId),
      model_repository: this.#modelDir,
      model_version: String(this.#version),
      model_name: this.#name,
    };
  }

  #newInstance(slot: Slot): StubInstance {
    slot.executionProviders = []; // a replacement chooses again
    const options: StubOptions = {
      ...this.#o,
      modelName: this.#name,
      modelVersion: String(this.#version),
      instanceName: slot.name,
      modulePath: this.#modulePath,
      serverPid: process.pid,
      log: (level, message) => this.#log(level, `${this.#name}:${this.#version}:${slot.name}`, message),
      onExecutionProvider: (provider) => slot.executionProviders.push(provider),
      onDeath: (instance, reason) => this.#onDeath(slot, instance, reason),
      metricsOwner: this,
    };
    return new StubInstance(options);
  }

  /** initialize, then warmup: an instance serves only after both (a failed warmup kills it). */
  async #bringUp(slot: Slot, instance: StubInstance): Promise<void> {
    await instance.initialize(this.#args(slot));
    try {
      await warmUp(instance, this.#samples, this.#name, this.#config.model_transaction_policy.decoupled);
    } catch (err) {
      instance.kill();
      throw err;
    }
    slot.startedAt = Date.now();
  }

  #onDeath(slot: Slot, instance: StubInstance, reason: string): void {
    // A slot a resize removed is not replaced.
    if (this.#stopping || slot.instance !== instance || slot.timer || !this.#slots.includes(slot)) return;
    this.#onChange(this.instances);
    if (slot.startedAt === 0) return; // failed during start(): start() or #replace() reports it
    if (this.instances.length === 0) this.#noInstances();
    if (Date.now() - slot.startedAt > STABLE_MS) slot.failures = 0;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** slot.failures);
    slot.failures++;
    this.#restartsTotal++;
    this.#log("ERROR", `${this.#name}:${this.#version}:${slot.name}`, `stub process ${reason}; starting a replacement in ${delay} ms`);
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      void this.#replace(slot);
    }, delay);
  }

  async #replace(slot: Slot): Promise<void> {
    if (this.#stopping) return;
    const instance = this.#newInstance(slot);
    slot.instance = instance;
    slot.startedAt = 0;
    try {
      await instance.start();
      await this.#bringUp(slot, instance);
    } catch (err) {
      if (this.#stopping) return;
      if (this.instances.length === 0) {
        this.#onRestartFailed(restartFailed(this.#name, this.#version, slot.name, err));
      }
      slot.startedAt = Date.now(); // not stable: the back-off keeps growing
      this.#onDeath(slot, instance, `could not be restarted: ${(err as Error).message}`);
      return;
    }
    if (this.#stopping) return void instance.stop();
    slot.startedAt = Date.now();
    this.#reportExecutionProviders();
    this.#log("INFO", `${this.#name}:${this.#version}:${slot.name}`, `replacement stub ready (pid ${instance.pid})`);
    this.#instancesBack();
    this.#onChange(this.instances);
  }

  /**
   * No instance can serve (the model reports not ready meanwhile): requests that have waited a
   * grace period fail with UNAVAILABLE instead of waiting out the back-off.
   */
  #noInstances(): void {
    if (this.#noInstanceTimer) return;
    this.#noInstanceTimer = setInterval(() => {
      if (this.instances.length > 0) return this.#instancesBack();
      const next = Math.min(...this.#slots.map((s) => s.failures));
      this.#onRestartFailed(instancesRestarting(this.#name, this.#version, next));
    }, NO_INSTANCE_GRACE_MS);
    this.#noInstanceTimer.unref();
  }

  #instancesBack(): void {
    if (this.#noInstanceTimer) clearInterval(this.#noInstanceTimer);
    this.#noInstanceTimer = null;
  }
}
