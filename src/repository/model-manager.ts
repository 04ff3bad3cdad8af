/**
 * Model lifecycle: load → READY, reload (new instances start while the old serve, then swap, then
 * the old drain and finalize), unload, and failures (UNAVAILABLE with the reason). Loads of one
 * model are serialized; different models load in parallel.
 */
import { readdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  type ServerError, VersionLoadError, backendUnsupported, ensembleDependencyFailed, ensembleNeedsInferPath, ensembleUsesItself,
  modelNotFound, noAvailableVersions, pollFailed, responseCacheUnsupported, retold, serverShuttingDown, strictConfigRequired, toServerError,
  versionLoadFailed, versionNotFound, versionNotReady, versionUnparsable, versionsFailed,
} from "../errors/index.js";
import { parseConfigJson } from "../config/parse.js";
import { localizeOverrides, type FileOverride } from "./file-overrides.js";
import { configToJson, isStubBackend, validateModelConfig, type ModelConfig, type ValidateOptions } from "../config/schema.js";
import { createScheduler, type ComposingInfer, type ComposingStream, type Scheduler } from "../scheduler/index.js";
import { ensembleDecoupling, withDecoupling } from "../config/ensemble-decoupling.js";
import type { ModelInstance } from "../backends/backend.js";
import { StubModel, type ModelLog, type StubBackendOptions } from "../backends/stub/stub-model.js";
import { systemGpus, type GpuDiscovery } from "../backends/gpus.js";
import { ModelStatistics } from "../core/statistics.js";
import type { ModelIndexEntry } from "../core/types.js";
import { findModelDir, inferBackendFromFiles, listModelDirs, readRawModelConfig, versionsToLoad } from "./scan.js";
import { ClientPaths } from "./client-paths.js";
import { checkModelFiles } from "./model-files.js";
import { checkLoadModelName } from "./model-name.js";

export type ModelState = "LOADING" | "READY" | "UNLOADING" | "UNAVAILABLE";

export interface LoadedVersion {
  version: number;
  modelDir: string;
  config: ModelConfig;
  /** The stubs behind this version; null for an ensemble, whose steps run on other models. */
  backend: StubModel | null;
  scheduler: Scheduler;
  /** This version's statistics: a reload starts from zero, as in Triton (they live with the model). */
  stats: ModelStatistics;
  /** How long the load that brought this version up took (nv_model_load_duration_secs). */
  loadSeconds?: number;
  /** The private temp folder a load with `file:` overrides localized; removed once the version retires. */
  scratch?: string;
}

/** An ensemble (no stubs) can serve when it is loaded; a stub-backed version needs a live instance. */
function canServe(v: LoadedVersion): boolean {
  // handlerReady: the instances' isReady() at the last readiness check (python_backend's is_ready).
  return v.backend === null || (v.backend.instances.length > 0 && v.backend.handlerReady);
}

interface ModelRecord {
  name: string;
  state: ModelState;
  reason: string;
  versions: Map<number, LoadedVersion>;
  /** Versions an unload or a reload retired: Triton keeps listing them (UNAVAILABLE, "unloaded"). */
  unloadedVersions: number[];
  /** Serializes loads and unloads of this model. */
  busy: Promise<unknown>;
  loadSeconds?: number;
  /**
   * The `config` of the last load that gave one and succeeded, and when (ms since the epoch): a
   * later load without `config` keeps it, as Triton's does (qa/L0_lifecycle test_config_override),
   * unless the model's files changed since (Triton then reloads from the repository). An unload
   * forgets it: the next load reads config.pbtxt again.
   */
  override?: { config: string; atMs: number };
}

export interface ModelManagerOptions {
  repositories: string[];
  /** --strict-model-config / --disable-auto-complete-config: no auto-complete, config.pbtxt required. */
  strictModelConfig: boolean;
  stub: StubBackendOptions;
  log: ModelLog;
  /**
   * The GPUs KIND_AUTO and KIND_GPU groups may use; default: discovered once (backends/gpus.ts).
   * Injected in tests.
   */
  gpus?: GpuDiscovery;
  /** Runs an ensemble's steps on their composing models (the server's own inference path). */
  composingInfer?: ComposingInfer;
  /** The same, streamed: a decoupled ensemble's steps. */
  composingStream?: ComposingStream;
  /** --exit-timeout-secs: how long an unload lets open sequences go on (sequence batching). */
  exitTimeoutMs?: number;
  /** --model-config-name: <model>/configs/<name>.pbtxt over config.pbtxt, where it exists. */
  modelConfigName?: string;
}

export class ModelManager {
  readonly #o: ModelManagerOptions;
  readonly #models = new Map<string, ModelRecord>();
  /** Old versions finishing their requests after a swap (shutdown waits for them). */
  readonly #retiring = new Set<Promise<unknown>>();
  readonly #gpus: GpuDiscovery;
  readonly #clientPaths: ClientPaths;
  /** Set by shutdown(): a load asked for later (a handler's loadModel, a poll) is refused. */
  #closing = false;

  constructor(options: ModelManagerOptions) {
    // Absolute paths: stubs run elsewhere, and handlers receive the model folder in ModelArgs.
    this.#o = { ...options, repositories: options.repositories.map((r) => resolve(r)) };
    this.#gpus = options.gpus ?? systemGpus();
    this.#clientPaths = new ClientPaths(this.#o.repositories);
  }

  /** The repositories, as absolute paths. */
  get repositories(): readonly string[] {
    return this.#o.repositories;
  }

  /**
   * Every model folder in the repositories (for --load-model=* and the index). A name found in
   * two repositories is listed once: as in Triton, that model alone fails ("not unique across all
   * model repositories", from findModelDir when it loads) while the others serve.
   */
  available(): string[] {
    const names = new Set<string>();
    for (const repository of this.#o.repositories) {
      for (const d of listModelDirs([repository])) names.add(d.name);
    }
    return [...names].sort();
  }

  /**
   * Loads models at start-up; failures are recorded (UNAVAILABLE), not thrown. The errors returned
   * are the full ones, for the server log (absolute paths included); the index shows client texts.
   */
  async loadMany(names: readonly string[]): Promise<{ name: string; error?: ServerError }[]> {
    return Promise.all(names.map(async (name) => {
      try {
        await this.#loadNamed(name);
        return { name };
      } catch (err) {
        return { name, error: toServerError(err) };
      }
    }));
  }

  /**
   * Loads (or reloads) a model, for a client: a failure is logged in full, and thrown as the
   * client sees it, its paths relative to the repository (a VersionLoadError stays one).
   */
  load(name: string, configOverride?: string, files: readonly FileOverride[] = []): Promise<void> {
    let scratch: string | undefined;
    try {
      // Before anything touches the file system: the name becomes a folder path. A refused name
      // is the client's mistake, not news for the log.
      checkLoadModelName(name);
      // `file:` overrides: the model loads from a private temp folder holding just those files.
      if (files.length > 0) {
        scratch = localizeOverrides(name, files, configOverride !== undefined, (m) => this.#o.log("ERROR", "model_manager", m));
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#loadNamed(name, configOverride, scratch).catch((err: unknown) => {
      const e = toServerError(err);
      this.#o.log("ERROR", "model_manager", e.message);
      throw this.#forClient(e);
    });
  }

  /** A load with the full error (start-up logs it so); the model's index reason is the client text. */
  #loadNamed(name: string, configOverride?: string, scratch?: string, keep: ReadonlySet<number> = new Set()): Promise<void> {
    try {
      if (this.#closing) throw serverShuttingDown();
      checkLoadModelName(name);
      if (scratch === undefined && !this.#models.has(name) && !this.available().includes(name)) {
        // Triton's text and code; a name in no repository gets no index entry either.
        throw pollFailed(name);
      }
    } catch (err) {
      if (scratch !== undefined) removeScratch(scratch);
      return Promise.reject(err);
    }
    const record = this.#record(name);
    const run = record.busy.then(() => this.#load(record, scratch === undefined ? configOverride ?? this.#keptOverride(record) : configOverride, scratch, keep));
    record.busy = run.catch(() => {});
    return run;
  }

  /** The override a load without `config` keeps: the last one, while the model's files are unchanged since. */
  #keptOverride(record: ModelRecord): string | undefined {
    const kept = record.override;
    if (!kept) return undefined;
    let changed: boolean;
    try {
      changed = modifiedSince(findModelDir(this.#o.repositories, record.name).path, kept.atMs);
    } catch {
      changed = true; // the folder is gone or unreadable: the load reports that itself
    }
    if (changed) record.override = undefined;
    return changed ? undefined : kept.config;
  }

  /** `e` as a client may see it: paths relative to the repository, the error's kind kept. */
  #forClient(e: ServerError): ServerError {
    if (e instanceof VersionLoadError) {
      return versionLoadFailed(e.model, e.version, retold(e.reason, this.#clientPaths.text(e.reason.message)));
    }
    const text = this.#clientPaths.text(e.message);
    return text === e.message ? e : retold(e, text);
  }

  unload(name: string): Promise<void> {
    const record = this.#models.get(name);
    // Triton: unloading a model that was never loaded (or is in no repository) succeeds.
    if (!record) return Promise.resolve();
    const run = record.busy.then(() => this.#unload(record));
    record.busy = run.catch(() => {});
    return run;
  }

  /**
   * Loads (or reloads) a model for the repository poller: the full error is logged and thrown; a
   * failed reload keeps the serving versions, as every reload does. Versions in `keep` (their
   * folders and the config unchanged, Triton's IsModelVersionModified) serve on as they are, when
   * they are still selected; the others start beside them.
   */
  reload(name: string, keep: ReadonlySet<number> = new Set()): Promise<void> {
    return this.#loadNamed(name, undefined, undefined, keep).catch((err: unknown) => {
      const e = toServerError(err);
      this.#o.log("ERROR", "model_manager", `poll: '${name}' keeps its serving versions: ${e.message}`);
      throw e;
    });
  }

  /**
   * Poll mode, when only instance_group changed in a loaded model's config (Triton's
   * ConfigChangeRequiresReload is false): each version's instances are added or removed in
   * place, while it serves on. A failure (a new instance that does not start) leaves the old ones.
   */
  updateInstances(name: string): Promise<void> {
    const record = this.#models.get(name);
    if (!record) return Promise.resolve();
    const run = record.busy.then(async () => {
      const dir = findModelDir(this.#o.repositories, name);
      const { raw, file } = readRawModelConfig(dir.path, this.#o.modelConfigName);
      for (const v of record.versions.values()) {
        if (!v.backend) continue;
        // The serving (auto-completed) config with the file's instance groups: a config.pbtxt that
        // leaves inputs to the handler's autoCompleteConfig validates as the load did.
        const serving = parseConfigJson(JSON.stringify(configToJson(v.config)));
        const next = validateModelConfig({ ...serving, instance_group: raw.instance_group ?? [] }, { modelName: name, file, ...kindResolution(name, this.#gpus, this.#o.log) });
        await v.backend.resize(next);
        v.config = v.backend.config;
      }
      this.#o.log("INFO", "model_manager", `updated the instance groups of '${name}' in place`);
    });
    record.busy = run.catch(() => {});
    return run;
  }

  /** The version a request goes to: the given one, or the highest ready one. */
  resolve(name: string, version?: string): LoadedVersion {
    const record = this.#models.get(name);
    if (!record || (record.versions.size === 0 && record.state !== "LOADING" && record.state !== "UNAVAILABLE")) {
      throw modelNotFound(name);
    }
    if (version !== undefined && version !== "" && version !== "-1") {
      if (!/^\d+$/.test(version)) throw versionUnparsable(version);
      const v = record.versions.get(Number(version));
      if (!v && record.unloadedVersions.includes(Number(version))) {
        throw versionNotReady(name, version);
      }
      if (!v) throw versionNotFound(name, version);
      if (record.state !== "READY") throw versionNotReady(name, version);
      return v;
    }
    if (record.versions.size === 0 || record.state !== "READY") {
      // NOT_FOUND, as Triton's ModelLifeCycle::GetModel says it (HTTP 404).
      throw noAvailableVersions(name);
    }
    return record.versions.get(Math.max(...record.versions.keys()))!;
  }

  /** Loaded, and able to serve now: a version whose every instance is dead (restarting) is not. */
  isModelReady(name: string, version?: string): boolean {
    try {
      return canServe(this.resolve(name, version));
    } catch {
      return false;
    }
  }

  /**
   * Asks the handlers' isReady() of a model's version (none: of every loaded version) now, so that
   * isModelReady and allReady answer with it. Never throws: an unknown model simply has none.
   */
  async checkReadiness(name?: string, version?: string): Promise<void> {
    let versions: LoadedVersion[];
    if (name === undefined) versions = [...this.#models.values()].flatMap((r) => (r.state === "READY" ? [...r.versions.values()] : []));
    else {
      try {
        versions = [this.resolve(name, version)];
      } catch {
        return;
      }
    }
    await Promise.all(versions.map((v) => v.backend?.checkReady()));
  }

  /** All models that were asked to load are READY, with a live instance. */
  allReady(): boolean {
    return [...this.#models.values()].every((r) =>
      (r.state === "READY" && [...r.versions.values()].every(canServe)) || (r.state === "UNAVAILABLE" && r.reason === "unloaded"));
  }

  index(readyOnly: boolean): ModelIndexEntry[] {
    let available: string[];
    try {
      available = this.available();
    } catch (err) {
      throw this.#forClient(toServerError(err)); // a repository gone since start names its path
    }
    const names = new Set([...available, ...this.#models.keys()]);
    const out: ModelIndexEntry[] = [];
    for (const name of [...names].sort()) {
      const r = this.#models.get(name);
      if (!r) {
        if (!readyOnly) out.push({ name });
        continue;
      }
      const serving = r.versions.size > 0;
      const all = [...new Set([...r.unloadedVersions, ...r.versions.keys()])].sort((a, b) => a - b);
      const entries: ModelIndexEntry[] = all.length === 0 ? [{ name, state: r.state, reason: r.reason }] : all.map((v) =>
        r.versions.has(v) || !serving
          ? { name, version: String(v), state: r.state, reason: r.reason }
          : { name, version: String(v), state: "UNAVAILABLE", reason: "unloaded" });
      out.push(...entries.filter((e) => !readyOnly || e.state === "READY"));
    }
    return out;
  }

  /** For the start-up table: every model that was asked for, with its state. */
  states(): { name: string; versions: number[]; state: ModelState; reason: string }[] {
    return [...this.#models.values()].map((r) => ({ name: r.name, versions: [...r.versions.keys()], state: r.state, reason: r.reason }));
  }

  async shutdown(): Promise<void> {
    this.#closing = true;
    // The server waited its exit timeout for in-flight requests: open streams end now, with an error.
    await Promise.all([...this.#models.values()].map((r) => r.busy.then(() => this.#unload(r, 0)).catch(() => {})));
    await Promise.all(this.#retiring);
  }

  #record(name: string): ModelRecord {
    let r = this.#models.get(name);
    if (!r) {
      r = { name, state: "UNAVAILABLE", reason: "", versions: new Map(), unloadedVersions: [], busy: Promise.resolve() };
      this.#models.set(name, r);
    }
    return r;
  }

  async #load(record: ModelRecord, configOverride?: string, scratch?: string, keep: ReadonlySet<number> = new Set()): Promise<void> {
    const { name } = record;
    const started = Date.now();
    const hadVersions = record.versions.size > 0;
    if (!hadVersions) {
      record.state = "LOADING";
      record.reason = "";
    }
    let loaded: LoadedVersion[] = [];
    try {
      const reusable = new Map([...record.versions].filter(([v, lv]) => keep.has(v) && lv.backend !== null));
      loaded = await this.#start(name, configOverride, scratch, reusable);
    } catch (err) {
      if (scratch !== undefined) removeScratch(scratch);
      const e = toServerError(err);
      // A failed reload leaves the versions that were serving in place, as Triton does.
      if (!hadVersions) {
        record.state = "UNAVAILABLE";
        record.reason = this.#forClient(e).message; // the index is client-visible
      }
      throw e;
    }
    // A later load without `config` keeps a config override; one with files goes back to the repository.
    record.override = configOverride !== undefined && scratch === undefined ? { config: configOverride, atMs: started } : undefined;
    const old = [...record.versions.values()].filter((v) => !loaded.includes(v));
    const fresh = loaded.filter((v) => record.versions.get(v.version) !== v);
    for (const v of fresh) v.scratch = scratch;
    record.versions = new Map(loaded.map((v) => [v.version, v]));
    record.unloadedVersions = [...new Set([...record.unloadedVersions, ...old.map((v) => v.version)])]
      .filter((v) => !record.versions.has(v));
    record.state = "READY";
    record.reason = "";
    record.loadSeconds = (Date.now() - started) / 1000;
    for (const v of fresh) v.loadSeconds = record.loadSeconds;
    const list = (vs: LoadedVersion[]) => `version${vs.length > 1 ? "s" : ""} ${vs.map((v) => v.version).join(", ")}`;
    if (fresh.length > 0) this.#o.log("INFO", "model_manager", `successfully loaded '${name}' ${list(fresh)}`);
    if (fresh.length < loaded.length) this.#o.log("INFO", "model_manager", `'${name}' ${list(loaded.filter((v) => !fresh.includes(v)))} unchanged: serving on`);
    // The swap is done: requests now go to the new instances. The load answers now, as Triton's
    // does; the old versions finish what they hold in the background.
    const retiring = this.#retireAll(old, loaded).catch((err) =>
      this.#o.log("ERROR", "model_manager", `retiring old versions of '${name}': ${(err as Error).message}`));
    this.#retiring.add(retiring);
    void retiring.finally(() => this.#retiring.delete(retiring));
  }

  async #start(name: string, configOverride?: string, scratch?: string, reusable: ReadonlyMap<number, LoadedVersion> = new Map()): Promise<LoadedVersion[]> {
    const dir = scratch !== undefined ? { name, path: scratch } : findModelDir(this.#o.repositories, name);
    const { raw: fileRaw, file } = configOverride !== undefined
      ? { raw: parseConfigJson(configOverride), file: undefined }
      : readRawModelConfig(dir.path, this.#o.modelConfigName);
    if (!file && configOverride === undefined && this.#o.strictModelConfig) {
      throw strictConfigRequired(name);
    }
    const raw = inferBackendFromFiles(fileRaw, dir.path);
    const config = validateModelConfig(raw, { modelName: name, file, ...kindResolution(name, this.#gpus, this.#o.log) });
    if (config.platform === "ensemble") return this.#startEnsemble(name, dir.path, config);
    // onnxruntime models run in stubs too, through the built-in handler (stub/builtin/).
    if (!isStubBackend(config) && config.backend !== "onnxruntime") {
      const what = config.platform || config.backend || "(none)";
      throw backendUnsupported(name, what);
    }
    const versions = versionsToLoad(config, dir.path, (m) => this.#o.log("WARNING", "model_manager", m));
    // A config may come from the client: the files it names must be this model's (model-files.ts).
    checkModelFiles(config, dir.path, versions);
    const autoComplete = this.#o.strictModelConfig
      ? undefined
      : (completed: Record<string, unknown>) => {
        const final = validateModelConfig(withDefaultBatching(completed), { modelName: name, file, gpus: kindResolution(name, this.#gpus, this.#o.log).gpus });
        checkModelFiles(final, dir.path, versions); // a handler may add label files
        return final;
      };
    const started: LoadedVersion[] = [];
    const reused = versions.flatMap((v) => reusable.get(v) ?? []);
    try {
      await Promise.all(versions.filter((v) => !reusable.has(v)).map(async (version) => {
        // The scheduler depends on the final (auto-completed) config, known once the stubs start.
        let scheduler: Scheduler | null = null;
        let live: ModelInstance[] = [];
        const backend = new StubModel({
          name, version, modelDir: dir.path, config, options: this.#o.stub, log: this.#o.log,
          onInstancesChanged: (instances) => {
            live = instances;
            scheduler?.setInstances(instances);
          },
          onRestartFailed: (error) => scheduler?.failQueued(error),
        });
        const v = { version, modelDir: dir.path, config, backend, stats: new ModelStatistics() } as LoadedVersion;
        started.push(v);
        try {
          v.config = await backend.start(autoComplete);
        } catch (err) {
          throw versionLoadFailed(name, version, toServerError(err));
        }
        scheduler = createScheduler(v.config, { name, exitTimeoutMs: this.#o.exitTimeoutMs });
        scheduler.setInstances(live);
        v.scheduler = scheduler;
      }));
    } catch (err) {
      await Promise.all(started.map((v) => v.backend?.stop()));
      if (err instanceof VersionLoadError) throw err;
      throw versionsFailed(name, toServerError(err));
    }
    return [...started, ...reused].sort((a, b) => a.version - b.version);
  }

  /**
   * An ensemble has no stubs: its scheduler runs the steps on the composing models, which load
   * first if they are not loaded yet (as Triton loads an ensemble's dependencies).
   */
  async #startEnsemble(name: string, modelDir: string, config: ModelConfig): Promise<LoadedVersion[]> {
    const infer = this.#o.composingInfer;
    if (!infer) throw ensembleNeedsInferPath(name);
    for (const model of new Set(config.ensemble_scheduling!.step.map((s) => s.model_name))) {
      if (model === name) throw ensembleUsesItself(name);
      const record = this.#models.get(model);
      if (record) await record.busy;
      if (this.isModelReady(model)) continue;
      try {
        await this.load(model);
      } catch (err) {
        throw ensembleDependencyFailed(name, model, toServerError(err));
      }
    }
    // With its steps loaded, whether it is decoupled (Triton's check of the decoupled data flow).
    const decoupling = ensembleDecoupling(config, (model) => (this.isModelReady(model) ? this.resolve(model).config : undefined));
    const final = withDecoupling(config, decoupling);
    // A decoupled step makes the ensemble decoupled, and then its response cache is refused (Triton's rule).
    if (final.model_transaction_policy.decoupled && final.response_cache?.enable) {
      throw responseCacheUnsupported(name, "'decoupled' transaction policy");
    }
    const versions = versionsToLoad(final, modelDir, (m) => this.#o.log("WARNING", "model_manager", m));
    checkModelFiles(final, modelDir, versions);
    const context = { name, composingInfer: infer, composingStream: this.#o.composingStream, decoupledSteps: decoupling.steps };
    return versions.map((version) => ({
      version, modelDir, config: final, backend: null, stats: new ModelStatistics(), scheduler: createScheduler(final, context),
    }));
  }

  async #unload(record: ModelRecord, streamsWaitMs?: number): Promise<void> {
    record.override = undefined;
    if (record.versions.size === 0) {
      record.state = "UNAVAILABLE";
      record.reason = "unloaded";
      return;
    }
    record.state = "UNLOADING";
    const old = [...record.versions.values()];
    await this.#retireAll(old, [], streamsWaitMs);
    record.unloadedVersions = [...new Set([...record.unloadedVersions, ...record.versions.keys()])];
    record.versions = new Map();
    record.state = "UNAVAILABLE";
    record.reason = "unloaded";
    this.#o.log("INFO", "model_manager", `successfully unloaded '${record.name}'`);
  }

  /** Retires `old`, then removes their override folders that none of `kept` still uses. */
  async #retireAll(old: readonly LoadedVersion[], kept: readonly LoadedVersion[], streamsWaitMs?: number): Promise<void> {
    try {
      await Promise.all(old.map((v) => this.#retire(v, streamsWaitMs)));
    } finally {
      const inUse = new Set(kept.map((v) => v.scratch));
      for (const dir of new Set(old.map((v) => v.scratch))) if (dir !== undefined && !inUse.has(dir)) removeScratch(dir);
    }
  }

  async #retire(v: LoadedVersion, streamsWaitMs?: number): Promise<void> {
    await v.scheduler?.close(streamsWaitMs);
    await v.backend?.stop(streamsWaitMs);
  }
}

function removeScratch(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Whether anything in a model folder (the folder, its files, its version folders and theirs) was
 * modified after `ms`: Triton's ModelTimestamp, the newest mtime of the model's files.
 */
function modifiedSince(path: string, ms: number, depth = 2): boolean {
  const st = statSync(path);
  if (st.mtimeMs > ms) return true;
  if (!st.isDirectory() || depth === 0) return false;
  return readdirSync(path).some((entry) => modifiedSince(join(path, entry), ms, depth - 1));
}

/**
 * Instance-kind resolution, as Triton's: KIND_AUTO → KIND_GPU on every GPU found (one instance
 * per GPU per count), else KIND_CPU, with one INFO line per group saying which and why. With no
 * GPU found no list is passed, so KIND_GPU groups are left to the stub's provider check (see
 * config/rules.ts).
 */
export function kindResolution(model: string, found: GpuDiscovery, log: ModelLog): Pick<ValidateOptions, "gpus" | "onKindAuto"> {
  return {
    gpus: found.ids.length > 0 ? found.ids : undefined,
    onKindAuto: (group) => log("INFO", "model_manager", group.kind === "KIND_GPU"
      ? `'${model}' instance group '${group.name}': KIND_AUTO → KIND_GPU on GPU${group.gpus.length > 1 ? "s" : ""} ${group.gpus.join(", ")} (${found.source})`
      : `'${model}' instance group '${group.name}': KIND_AUTO → KIND_CPU (${found.source})`),
  };
}

/**
 * Triton's auto-complete default: a model that batches (max_batch_size > 1) and names no scheduler
 * gets the dynamic batcher.
 */
export function withDefaultBatching(raw: Record<string, unknown>): Record<string, unknown> {
  const max = Number(raw.max_batch_size ?? 0);
  if (max > 1 && !raw.dynamic_batching && !raw.sequence_batching && !raw.ensemble_scheduling) {
    return { ...raw, dynamic_batching: {} };
  }
  return raw;
}
