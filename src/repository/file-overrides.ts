/**
 * A repository load's `file:<path>` parameters, as Triton's model repository manager localizes
 * them (model_repository_manager.cc, LocalizeRepoAgent): into a fresh temporary model folder,
 * each path joined to it and normalized, refused if it leaves the folder, its directories made,
 * its bytes written; a `config` parameter is required beside them. Triton polls the model from
 * that folder, and any failure on the way is a failed poll: the client gets INTERNAL "failed to
 * load '<model>', failed to poll from model repository" and the reason goes to the log only.
 * Writing for real, as Triton does, is what makes the operating system's own limits (a component
 * over NAME_MAX, a path over PATH_MAX) fail the same way.
 *
 * Loading a model from such a folder is not supported yet: overrides that localize cleanly are
 * refused with UNSUPPORTED, and the folder is removed either way.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, isAbsolute, sep } from "node:path";
import { fileOverrideUnsupported, pollFailed } from "../errors/index.js";

export interface FileOverride {
  /** The parameter's name, "file:" included. */
  key: string;
  data: Uint8Array;
}

/** Why `files` cannot be localized (Triton's texts, for the log), or null when they can. */
export function localizeFailure(files: readonly FileOverride[], hasConfig: boolean): string | null {
  const root = mkdtempSync(join(tmpdir(), "tessera-override-"));
  try {
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
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Throws for a load with file overrides: Triton's failed poll (the reason logged) when they do
 * not localize, UNSUPPORTED when they do.
 */
export function refuseFileOverrides(
  model: string, files: readonly FileOverride[], hasConfig: boolean, log: (message: string) => void,
): never {
  const failure = localizeFailure(files, hasConfig);
  if (failure !== null) {
    log(`Poll failed for model directory '${model}': ${failure}`);
    throw pollFailed(model);
  }
  throw fileOverrideUnsupported(files[0]!.key);
}
