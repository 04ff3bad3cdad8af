/**
 * A repository load's `file:<path>` parameters, as Triton's model repository manager localizes
 * them (model_repository_manager.cc, LocalizeRepoAgent): into a fresh private temporary model
 * folder, each path joined to it and normalized, refused if it leaves the folder, its directories
 * made, its bytes written; a `config` parameter is required beside them. The model then loads
 * from that folder alone (the repository's folder of that name, if any, is not used; the name
 * need not be in any repository), and the folder is removed once the model is unloaded or
 * reloaded from elsewhere (model-manager.ts). Any failure on the way is a failed poll: the client
 * gets INTERNAL "failed to load '<model>', failed to poll from model repository" and the reason
 * goes to the log only. Writing for real, as Triton does, is what makes the operating system's
 * own limits (a component over NAME_MAX, a path over PATH_MAX) fail the same way.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, isAbsolute, sep } from "node:path";
import { pollFailed } from "../errors/index.js";

export interface FileOverride {
  /** The parameter's name, "file:" included. */
  key: string;
  data: Uint8Array;
}

/** Writes `files` into a new temp folder: its path, or why not (Triton's texts, for the log; the folder then gone). */
export function localize(files: readonly FileOverride[], hasConfig: boolean): { dir: string } | { failure: string } {
  const root = mkdtempSync(join(tmpdir(), "tessera-override-"));
  const failure = writeAll(root, files, hasConfig);
  if (failure === null) return { dir: root };
  rmSync(root, { recursive: true, force: true });
  return { failure };
}

function writeAll(root: string, files: readonly FileOverride[], hasConfig: boolean): string | null {
  for (const f of files) {
    const rel = f.key.slice("file:".length);
    if (rel.includes("\0")) return `Invalid file parameter '${rel}': embedded NUL in path`;
    const path = join(root, rel);
    const back = relative(root, path);
    if (back === "" || back === ".." || back.startsWith(`..${sep}`) || isAbsolute(back)) {
      return `Invalid file parameter '${f.key}' with normalized path '${path}' must stay within model directory.`;
    }
    const dir = dirname(path);
    try {
      let isDir: boolean | null = null;
      try {
        isDir = statSync(dir).isDirectory();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
      if (isDir === false) return `Invalid file parameter '${f.key}', directory has been created as a file`;
      if (isDir === null) mkdirSync(dir, { recursive: true });
      writeFileSync(path, f.data);
    } catch (err) {
      return `failed to write file '${path}': ${(err as Error).message}`;
    }
  }
  if (!hasConfig) return "Load parameter 'config' must be specified for model file override";
  return null;
}

/** The temp model folder of a load's `file:` overrides; throws Triton's failed poll (the reason logged). */
export function localizeOverrides(model: string, files: readonly FileOverride[], hasConfig: boolean, log: (message: string) => void): string {
  const result = localize(files, hasConfig);
  if ("dir" in result) return result.dir;
  log(`Poll failed for model directory '${model}': ${result.failure}`);
  throw pollFailed(model);
}
