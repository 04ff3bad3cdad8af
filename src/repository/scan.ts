/**
 * Reading model repositories from disk: which model folders exist, which version folders each
 * has, which versions a version policy selects, and the model's config.pbtxt. Pure reads; the
 * decisions about loading and unloading belong to the lifecycle.
 *
 * Layout (Triton's): <repository>/<model>/config.pbtxt and <repository>/<model>/<version>/...
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  configFileMissing, configUnreadable, modelNotInRepository, modelNotUnique, noVersionUnderPolicy, repositoryNotDirectory,
} from "../errors/index.js";
import { parseConfigText } from "../config/parse.js";
import {
  isStubBackend,
  validateModelConfig,
  type ModelConfig,
  type ModelVersionPolicy,
  type ValidateOptions,
} from "../config/schema.js";

export const CONFIG_FILE = "config.pbtxt";

/** Model-folder entries Triton never treats as versions (warmup data, initial state, configs). */
const NON_VERSION_DIRS = new Set(["warmup", "initial_state", "configs"]);

export interface ModelDir {
  name: string;
  /** The model's folder: <repository>/<name>. */
  path: string;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory(); // follows symlinks, as Triton's local filesystem does
  } catch {
    return false;
  }
}

function subdirs(path: string): string[] {
  return readdirSync(path).filter((entry) => isDirectory(join(path, entry))).sort();
}

/**
 * Every model folder of every repository (each subfolder is a model; files are ignored), sorted
 * by name. A name found in two repositories is an error, as Triton refuses to poll a model that
 * is "not unique across all model repositories". A repository that cannot be read is an error.
 */
export function listModelDirs(repositories: readonly string[]): ModelDir[] {
  const byName = new Map<string, ModelDir>();
  for (const repository of repositories) {
    if (!isDirectory(repository)) {
      throw repositoryNotDirectory(repository);
    }
    for (const name of subdirs(repository)) {
      if (byName.has(name)) {
        throw modelNotUnique(name);
      }
      byName.set(name, { name, path: join(repository, name) });
    }
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The folder of one model (explicit model control: load by name), with Triton's messages. */
export function findModelDir(repositories: readonly string[], name: string): ModelDir {
  const found = repositories.map((r) => join(r, name)).filter((p) => isDirectory(p));
  if (found.length === 0) {
    throw modelNotInRepository(name);
  }
  if (found.length > 1) {
    throw modelNotUnique(name);
  }
  return { name, path: found[0]! };
}

/**
 * The version numbers present in a model folder, ascending. Only folders named by a
 * non-negative decimal number count; Triton also skips numbers with leading zeros ("01") and
 * its warmup/initial_state/configs folders, and logs and ignores anything else.
 */
export function listVersions(modelPath: string): number[] {
  const versions: number[] = [];
  for (const dir of subdirs(modelPath)) {
    if (NON_VERSION_DIRS.has(dir) || !/^(0|[1-9]\d*)$/.test(dir)) continue;
    const v = Number(dir);
    if (Number.isSafeInteger(v)) versions.push(v);
  }
  return versions.sort((a, b) => a - b);
}

/**
 * The versions a policy selects from those present, ascending (Triton's VersionsToLoad):
 * - latest { num_versions: N }: the N highest (N = 0 selects none);
 * - specific { versions }: those listed that exist; a listed version without a folder is skipped
 *   (Triton logs "version V is specified for model 'M', but the version directory is not
 *   present" and loads the rest — see missingSpecificVersions);
 * - all, or a policy with no choice set: all of them.
 */
export function selectVersions(policy: ModelVersionPolicy, available: readonly number[]): number[] {
  const present = [...new Set(available)].sort((a, b) => a - b);
  if (policy.specific) {
    const wanted = new Set(policy.specific.versions);
    return present.filter((v) => wanted.has(v));
  }
  if (policy.latest) {
    const n = Math.max(0, policy.latest.num_versions);
    return n === 0 ? [] : present.slice(-n);
  }
  return present;
}

/** Versions a `specific` policy names that have no folder (Triton logs each as an error). */
export function missingSpecificVersions(policy: ModelVersionPolicy, available: readonly number[]): number[] {
  if (!policy.specific) return [];
  const present = new Set(available);
  return [...new Set(policy.specific.versions)].filter((v) => !present.has(v)).sort((a, b) => a - b);
}

/**
 * The versions to load for a model, or INVALID_ARG when the policy selects none (Triton fails
 * the load then). `warn` receives Triton's message for each missing specific version.
 */
export function versionsToLoad(
  cfg: Pick<ModelConfig, "name" | "version_policy">,
  modelPath: string,
  warn: (message: string) => void = () => {},
): number[] {
  const available = listVersions(modelPath);
  for (const v of missingSpecificVersions(cfg.version_policy, available)) {
    warn(`version ${v} is specified for model '${cfg.name}', but the version directory is not present`);
  }
  const selected = selectVersions(cfg.version_policy, available);
  if (selected.length === 0) {
    throw noVersionUnderPolicy(cfg.name);
  }
  return selected;
}

/** The folder of --model-config-name's alternatives: <model>/configs/<name>.pbtxt. */
export const CONFIGS_FOLDER = "configs";

/**
 * The config file a model loads from (Triton's GetModelConfigFullPath): with --model-config-name,
 * <model>/configs/<name>.pbtxt where that file exists, else (and without the flag) config.pbtxt.
 */
export function configFilePath(modelPath: string, configName?: string): string {
  if (configName) {
    const custom = join(modelPath, CONFIGS_FOLDER, `${configName}.pbtxt`);
    if (existsSync(custom)) return custom;
  }
  return join(modelPath, CONFIG_FILE);
}

export interface RawModelConfig {
  /** The parsed config; `{}` when the model has no config.pbtxt. */
  raw: Record<string, unknown>;
  /** The config file read, if any. */
  file?: string;
}

/**
 * config.pbtxt of a model folder (or the --model-config-name one, see configFilePath), parsed but not validated: the input for auto-complete (which
 * may add inputs, outputs, batching) before validateModelConfig. A missing config.pbtxt yields
 * `{}`; with Triton's --disable-auto-complete-config the caller should reject that instead
 * (see readModelConfig's `requireConfigFile`).
 */
export function readRawModelConfig(modelPath: string, configName?: string): RawModelConfig {
  const file = configFilePath(modelPath, configName);
  if (!existsSync(file)) return { raw: {} };
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw configUnreadable(file, err);
  }
  return { raw: parseConfigText(text, file), file };
}

/**
 * Triton's server-side autofill from files: when the config names no platform, backend or
 * default_model_filename, the first version folder (in name order) is inspected for a model
 * file that identifies the backend. Tessera adds its own handler files (model.ts and friends)
 * as the "typescript" backend. Returns the raw config with the fields filled, or unchanged.
 */
export function inferBackendFromFiles(raw: Record<string, unknown>, modelPath: string): Record<string, unknown> {
  if (raw.platform || raw.backend || raw.default_model_filename) return raw;
  const first = subdirs(modelPath)[0];
  if (first === undefined) return raw;
  const versionPath = join(modelPath, first);
  const has = (name: string, dir: boolean) => {
    const p = join(versionPath, name);
    return existsSync(p) && isDirectory(p) === dir;
  };
  if (has("model.savedmodel", true)) return { ...raw, platform: "tensorflow_savedmodel" };
  if (has("model.graphdef", false)) return { ...raw, platform: "tensorflow_graphdef" };
  if (has("model.plan", false)) return { ...raw, backend: "tensorrt" };
  // An ONNX model may be a file or, for external weights, a folder.
  if (has("model.onnx", false) || has("model.onnx", true)) return { ...raw, backend: "onnxruntime" };
  if (has("model.xml", false)) return { ...raw, backend: "openvino" };
  if (has("model.pt", false)) return { ...raw, backend: "pytorch", platform: "pytorch_libtorch" };
  if (has("model.py", false)) return { ...raw, backend: "python" };
  for (const handler of STUB_HANDLER_FILES) {
    if (has(handler, false)) return { ...raw, backend: "typescript" };
  }
  return raw;
}

/** Handler files the stub loads by default, in the order it tries them. */
const STUB_HANDLER_FILES = ["model.ts", "model.mts", "model.js", "model.mjs"];

export interface ReadModelConfigOptions extends Omit<ValidateOptions, "modelName" | "file"> {
  /** Triton's --disable-auto-complete-config: a model without config.pbtxt fails to load. */
  requireConfigFile?: boolean;
}

/**
 * config.pbtxt → the validated, complete ModelConfig (no auto-complete from a handler). Decision
 * on a missing config.pbtxt: like Triton with auto-complete enabled, the model starts from an
 * empty config named after its folder, the backend is inferred from its version folder's files,
 * and validation reports whatever is still missing (e.g. "must specify 'platform' or 'backend'
 * for 'm'"). With `requireConfigFile` the missing file itself is the error.
 */
export function readModelConfig(
  modelPath: string,
  modelName: string,
  options: ReadModelConfigOptions = {},
): ModelConfig {
  const { raw, file } = readRawModelConfig(modelPath);
  if (!file && options.requireConfigFile) {
    throw configFileMissing(join(modelPath, CONFIG_FILE));
  }
  return validateModelConfig(inferBackendFromFiles(raw, modelPath), { ...options, modelName, file });
}

/** Triton's default model file per backend/platform; tessera's stub loads model.ts. */
const DEFAULT_FILENAMES: Readonly<Record<string, string>> = {
  tensorflow_savedmodel: "model.savedmodel",
  tensorflow_graphdef: "model.graphdef",
  tensorrt: "model.plan",
  onnxruntime: "model.onnx",
  openvino: "model.xml",
  pytorch: "model.pt",
};

/**
 * The file (or folder) inside a version folder that holds the model: default_model_filename
 * when set, else the backend's default. Stub backends (python/ts/typescript) load "model.ts"
 * (the stub also tries .mts/.js/.mjs). Empty for an ensemble, which has no file.
 */
export function defaultModelFilename(
  cfg: Pick<ModelConfig, "default_model_filename" | "backend" | "platform">,
): string {
  if (cfg.default_model_filename) return cfg.default_model_filename;
  if (isStubBackend(cfg)) return "model.ts";
  return DEFAULT_FILENAMES[cfg.platform] ?? DEFAULT_FILENAMES[cfg.backend] ?? "";
}
