/**
 * Every file name a model's config gives resolves inside the model's folder. A config can come
 * from the client (the load API's `config` override), so without this a load could make a stub
 * import any file on the machine (`default_model_filename: "../../elsewhere/evil.mjs"`), or tell
 * whether one exists (the onnxruntime error differs). Checked before anything opens such a file,
 * for every version that will load:
 *
 * - default_model_filename, under <model>/<version>/ (the handler file or the ONNX model);
 * - each output's label_filename, under <model>/;
 * - each warmup input's input_data_file, under <model>/warmup/;
 * - each sequence-batching initial state's data_file, under <model>/initial_state/.
 *
 * "Inside" is decided twice. First on the text alone: the name joined to its folder and
 * normalized (as every reader of these files joins it) must stay under the model folder, and may
 * not be absolute; this needs no file-system access, so a name that escapes fails the same way
 * whether its target exists or not. Then with symlinks resolved (realpath of the deepest part of
 * the path that exists): a link inside the model folder that points elsewhere fails too. A name
 * that passes may still name nothing; the backend reports that later, as a file of this model.
 */
import { lstatSync, readlinkSync, realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { outsideModelDirectory } from "../errors/index.js";
import type { ModelConfig } from "../config/schema.js";

type ConfigFiles = Pick<ModelConfig, "name" | "default_model_filename" | "output" | "model_warmup" | "sequence_batching">;

/** The files a config names, each with its folder (relative to the model folder) and its description. */
function namedFiles(cfg: ConfigFiles, versions: readonly number[]): { folder: string; file: string; what: string }[] {
  const out: { folder: string; file: string; what: string }[] = [];
  const model = `in model '${cfg.name}'`;
  if (cfg.default_model_filename) {
    for (const v of versions) {
      out.push({ folder: String(v), file: cfg.default_model_filename, what: `default model file path '${cfg.default_model_filename}' ${model}` });
    }
  }
  for (const o of cfg.output ?? []) {
    if (o.label_filename) out.push({ folder: "", file: o.label_filename, what: `label file path '${o.label_filename}' for output '${o.name}' ${model}` });
  }
  for (const w of cfg.model_warmup ?? []) {
    for (const [input, spec] of Object.entries(w.inputs ?? {})) {
      if (spec.input_data_file) {
        out.push({ folder: "warmup", file: spec.input_data_file, what: `warmup data file path '${spec.input_data_file}' for input '${input}' of warmup '${w.name}' ${model}` });
      }
    }
  }
  for (const s of cfg.sequence_batching?.state ?? []) {
    for (const i of s.initial_state ?? []) {
      if (i.data_file) {
        out.push({ folder: "initial_state", file: i.data_file, what: `initial state data file path '${i.data_file}' for state '${s.input_name}' ${model}` });
      }
    }
  }
  return out;
}

/** `path` is `root` or below it (both absolute and normalized). */
function within(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * realpath of `path` where it may not exist: the deepest existing part resolved, the rest
 * appended. A dangling link resolves to its target (it would point out just the same once its
 * target appears), relative to its own folder's real path as the kernel reads it.
 */
function resolvedPath(path: string, depth = 0): string {
  if (depth > 40) throw new Error(`too many levels of symbolic links: ${path}`); // the kernel's ELOOP bound
  const rest: string[] = [];
  let p = path;
  for (;;) {
    try {
      return join(realpathSync(p), ...rest);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== "ENOENT" && code !== "ENOTDIR") || dirname(p) === p) throw err;
      let target: string | undefined;
      try {
        if (lstatSync(p).isSymbolicLink()) target = readlinkSync(p);
      } catch {
        // p itself is missing: go up
      }
      if (target !== undefined) return resolvedPath(join(resolve(realpathSync(dirname(p)), target), ...rest), depth + 1);
      rest.unshift(basename(p));
      p = dirname(p);
    }
  }
}

/**
 * Throws INVALID_ARG (outsideModelDirectory, naming the file as the config gave it) for the first
 * file `cfg` names that does not resolve inside `modelDir`. `versions`: the version folders that
 * will load (default_model_filename is looked up in each).
 */
export function checkModelFiles(cfg: ConfigFiles, modelDir: string, versions: readonly number[]): void {
  const files = namedFiles(cfg, versions);
  if (files.length === 0) return;
  // Lexical pass first, for all of them: no file-system access for a name that escapes.
  for (const f of files) {
    if (f.file.includes("\0") || isAbsolute(f.file) || !within(modelDir, join(modelDir, f.folder, f.file))) {
      throw outsideModelDirectory(f.what);
    }
  }
  let root: string;
  try {
    root = realpathSync(modelDir);
  } catch {
    return; // the model folder itself is gone: the load fails on it, not on these names
  }
  for (const f of files) {
    let real: string;
    try {
      real = resolvedPath(join(modelDir, f.folder, f.file));
    } catch {
      throw outsideModelDirectory(f.what); // a loop of links, or a part that cannot be read
    }
    if (!within(root, real)) throw outsideModelDirectory(f.what);
  }
}
