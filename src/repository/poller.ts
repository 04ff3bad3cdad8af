/**
 * --model-control-mode=poll: every --repository-poll-secs the repositories are read again, and
 * what changed since the last poll is applied, as Triton's ModelRepositoryManager::PollModels:
 *
 * - a model folder that appeared is loaded; one that is gone is unloaded;
 * - a model whose files changed (Triton's ModelTimestamp: the newest mtime under each entry of
 *   the model folder) is reloaded: added or removed version folders, an edited config, label
 *   files, handler files. The reload starts the new instances beside the serving ones and swaps
 *   once they are ready; in-flight requests finish on the instances they started on; a reload
 *   that fails keeps the serving versions and logs why (model-manager.ts);
 * - when only the config changed, and only in instance_group (Triton's ConfigChangeRequiresReload
 *   is false), the instances are added or removed in place instead;
 * - when the config and the model's other files are unchanged, a version whose folder did not
 *   change keeps serving as it is (Triton's IsModelVersionModified): adding version 2 starts
 *   version 2 only.
 *
 * A change is applied once: a broken edit is not retried every poll, only when it is edited again.
 * Polls never overlap: the next is timed from the end of the last.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { pollSkipped, toServerError } from "../errors/index.js";
import type { ModelLog } from "../backends/stub/stub-model.js";
import { CONFIGS_FOLDER, configFilePath, findModelDir, readRawModelConfig } from "./scan.js";

/** The model manager as the poller drives it. */
export interface PollTarget {
  available(): string[];
  isModelReady(name: string): boolean;
  /** `keep`: versions whose folders (and the config) did not change: they need no restart. */
  reload(name: string, keep?: ReadonlySet<number>): Promise<void>;
  updateInstances(name: string): Promise<void>;
  unload(name: string): Promise<void>;
}

export interface PollerOptions {
  repositories: readonly string[];
  intervalMs: number;
  modelConfigName?: string;
  log: ModelLog;
}

/** A model folder at one poll: the newest mtime (ns) under each entry ("" is the folder itself). */
interface Snapshot {
  times: Map<string, bigint>;
  /** The entry that holds the config the model loads from ("config.pbtxt", or "configs"). */
  configEntry: string;
  /** The parsed config file, null when it did not parse (or there was none). */
  config: Record<string, unknown> | null;
}

export class RepositoryPoller {
  readonly #target: PollTarget;
  readonly #o: PollerOptions;
  readonly #known = new Map<string, Snapshot>();
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(target: PollTarget, options: PollerOptions) {
    this.#target = target;
    this.#o = options;
  }

  /** Remembers the models as they are now, before the start-up load (changes meanwhile are the first poll's). */
  prime(names: readonly string[]): void {
    for (const name of names) {
      const snap = this.#snapshot(name);
      if (snap) this.#known.set(name, snap);
    }
  }

  start(): void {
    if (this.#o.intervalMs <= 0 || this.#stopped) return; // 0: never polls (Triton's flag says so too)
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#running = this.poll().finally(() => {
        this.#running = null;
        this.start();
      });
    }, this.#o.intervalMs);
    this.#timer.unref();
  }

  /** Stops polling; resolves once a poll under way has applied what it started. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  /** One poll: what changed is applied; errors are logged, never thrown. */
  async poll(): Promise<void> {
    let present: string[];
    try {
      present = this.#target.available();
    } catch (err) {
      this.#o.log("ERROR", "model_manager", pollSkipped(toServerError(err)).message);
      return;
    }
    const work: Promise<void>[] = [];
    const now = new Set(present);
    for (const name of [...this.#known.keys()]) {
      if (now.has(name)) continue;
      this.#known.delete(name);
      this.#o.log("INFO", "model_manager", `poll: '${name}' is gone from the model repository: unloading`);
      work.push(this.#target.unload(name));
    }
    for (const name of present) {
      const before = this.#known.get(name);
      const after = this.#snapshot(name);
      if (!after) continue;
      this.#known.set(name, after);
      if (!before) {
        this.#o.log("INFO", "model_manager", `poll: '${name}' was added to the model repository: loading`);
        work.push(this.#target.reload(name));
      } else if (changed(before, after)) {
        const inPlace = onlyInstanceGroupChanged(before, after) && this.#target.isModelReady(name);
        this.#o.log("INFO", "model_manager", `poll: '${name}' changed: ${inPlace ? "updating its instance groups" : "reloading"}`);
        work.push(inPlace ? this.#target.updateInstances(name) : this.#target.reload(name, unchangedVersions(before, after)));
      }
    }
    // The target logs each failure in full; a poll carries on with the other models.
    await Promise.all(work.map((p) => p.catch(() => {})));
  }

  #snapshot(name: string): Snapshot | null {
    let dir: string;
    try {
      dir = findModelDir(this.#o.repositories, name).path;
    } catch {
      return null; // not unique, or gone again: the load reports it
    }
    const file = configFilePath(dir, this.#o.modelConfigName);
    const configEntry = file.startsWith(join(dir, CONFIGS_FOLDER)) ? CONFIGS_FOLDER : "config.pbtxt";
    const times = new Map<string, bigint>();
    try {
      times.set("", statSync(dir, { bigint: true }).mtimeNs);
      for (const entry of readdirSync(dir)) times.set(entry, newest(join(dir, entry)));
    } catch {
      return null;
    }
    let config: Record<string, unknown> | null = null;
    try {
      const read = readRawModelConfig(dir, this.#o.modelConfigName);
      config = read.file ? read.raw : null;
    } catch {
      // a config that does not parse: a reload reports it
    }
    return { times, configEntry, config };
  }
}

/** The newest mtime under `path` (Triton's GetPathModifiedTime); 0 when it cannot be read. */
function newest(path: string): bigint {
  try {
    const st = statSync(path, { bigint: true });
    let t = st.mtimeNs;
    if (st.isDirectory()) for (const entry of readdirSync(path)) t = max(t, newest(join(path, entry)));
    return t;
  } catch {
    return 0n;
  }
}

const max = (a: bigint, b: bigint) => (a > b ? a : b);

/** Any entry added, removed, or with another time (a copy that kept an older mtime counts too). */
function changed(a: Snapshot, b: Snapshot): boolean {
  if (a.times.size !== b.times.size || a.configEntry !== b.configEntry) return true;
  for (const [entry, t] of a.times) if (b.times.get(entry) !== t) return true;
  return false;
}

/**
 * Only the config entry changed (and the folder's own time, which an editor's rename touches),
 * both configs parse, and they differ in nothing but instance_group.
 */
function onlyInstanceGroupChanged(a: Snapshot, b: Snapshot): boolean {
  if (!a.config || !b.config || a.times.size !== b.times.size) return false;
  for (const [entry, t] of a.times) {
    if (entry !== "" && entry !== a.configEntry && b.times.get(entry) !== t) return false;
    if (!b.times.has(entry)) return false;
  }
  const rest = (c: Record<string, unknown>) => JSON.stringify({ ...c, instance_group: undefined });
  return rest(a.config) === rest(b.config);
}

/**
 * The versions a reload may keep as they are: the config parses and is the same, no entry but
 * version folders (and the folder's own time) changed, and the version's folder is the same.
 */
function unchangedVersions(a: Snapshot, b: Snapshot): Set<number> {
  const keep = new Set<number>();
  if (!a.config || !b.config || JSON.stringify(a.config) !== JSON.stringify(b.config)) return keep;
  const isVersion = (entry: string) => /^\d+$/.test(entry);
  for (const entry of new Set([...a.times.keys(), ...b.times.keys()])) {
    if (entry !== "" && !isVersion(entry) && a.times.get(entry) !== b.times.get(entry)) return keep;
  }
  for (const [entry, t] of a.times) if (isVersion(entry) && b.times.get(entry) === t) keep.add(Number(entry));
  return keep;
}
