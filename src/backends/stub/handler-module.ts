/**
 * Prepares a model's handler file (model.ts, .mts, .js, .mjs) for its stubs: one esbuild bundle
 * per load, written to a private cache, so every stub (and every restart) imports plain JS in
 * ~90 ms instead of transpiling. Bare imports are rewritten to absolute paths: "tessera" to the
 * SDK, anything else to the model folder's own packages if it has them, else to ours — so a model
 * repository anywhere on disk needs no node_modules of its own.
 */
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";
import { processAlive } from "../../ipc/segments.js";
import { PACKAGE_ROOT } from "../../ipc/addon.js";
import { handlerCompileFailed } from "../../errors/index.js";

export const SDK_ENTRY = join(PACKAGE_ROOT, "dist", "stub", "sdk", "index.js");
/** Folder name of a server's handler cache: "tessera-<server pid>" (no dash after the pid, unlike segment names). */
const CACHE_NAME = /^tessera-(\d+)$/;
/**
 * This server's private cache of prepared handler modules. Removed on every normal exit; a server
 * killed with SIGKILL cannot, so the next one to start removes it (sweepStaleHandlerCaches).
 */
export const HANDLER_CACHE_DIR = join(tmpdir(), `tessera-${process.pid}`);
let cleanupInstalled = false;
/** Marks the plugin's own resolve calls, which esbuild answers itself. */
const INNER = Symbol("tessera-resolve");

/**
 * Removes the handler caches (`<dir>/tessera-<pid>/`) of tessera servers that are no longer
 * running, as sweepStaleSegments does for /dev/shm: a folder whose pid is alive, or that is not a
 * real folder owned by this user, is left alone. Returns the names removed.
 */
export function sweepStaleHandlerCaches(dir: string = tmpdir()): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  const uid = process.getuid?.();
  for (const entry of entries) {
    const m = CACHE_NAME.exec(entry);
    if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    const path = join(dir, entry);
    try {
      const st = lstatSync(path);
      // Not through a symlink, and never another user's folder in a shared /tmp.
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(entry);
    } catch {
      // another server may be sweeping too
    }
  }
  return removed;
}

function resolvingPlugin(modelDir: string): Plugin {
  return {
    name: "tessera-resolve",
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === INNER) return undefined; // our own b.resolve below: esbuild's resolver
        if (args.path === "tessera") return { path: SDK_ENTRY, external: true };
        if (args.path.startsWith("node:")) return { path: args.path, external: true };
        // esbuild's resolver, so that package "exports" conditions match the importing syntax
        // (an import gets a dual package's ESM entry, a require() its CommonJS one).
        for (const resolveDir of [modelDir, PACKAGE_ROOT]) {
          const r = await b.resolve(args.path, { kind: args.kind, resolveDir, pluginData: INNER });
          if (r.errors.length === 0) return { path: r.path, external: true };
        }
        return { path: args.path, external: true }; // let Node report it at import time
      });
    },
  };
}

/** Bundles `file` and returns the path of the JS module stubs import. */
export async function prepareHandlerModule(file: string, cacheKey: string): Promise<string> {
  if (!cleanupInstalled) {
    cleanupInstalled = true;
    process.on("exit", () => rmSync(HANDLER_CACHE_DIR, { recursive: true, force: true }));
  }
  let code: string;
  try {
    const result = await build({
      entryPoints: [file],
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      write: false,
      outfile: join(HANDLER_CACHE_DIR, "out.mjs"),
      sourcemap: "inline",
      logLevel: "silent",
      plugins: [resolvingPlugin(dirname(file))],
    });
    code = result.outputFiles[0].text;
  } catch (err) {
    const errors = (err as { errors?: { text: string; location?: { file: string; line: number; column: number } }[] }).errors;
    const first = errors?.[0];
    const where = first?.location ? `${join(dirname(file), first.location.file.split("/").pop()!)}:${first.location.line}:${first.location.column}: ` : "";
    throw handlerCompileFailed(file, where, first?.text ?? String(err), err);
  }
  mkdirSync(HANDLER_CACHE_DIR, { recursive: true, mode: 0o700 });
  const hash = createHash("sha256").update(code).digest("hex").slice(0, 16);
  const out = join(HANDLER_CACHE_DIR, `${cacheKey.replace(/[^A-Za-z0-9_.-]/g, "_")}-${hash}.mjs`);
  writeFileSync(out, code);
  return out;
}

/** Built-in backends compiled with the stub (dist/stub/builtin/<name>.js). */
export const BUILTIN_DIR = join(PACKAGE_ROOT, "dist", "stub", "builtin");

/**
 * The module stubs import for a built-in backend: a one-line shim that binds the backend's model
 * class to this model's file. No bundling: the backend is already compiled with the stub.
 */
export function prepareBuiltinModule(backend: "onnxruntime", modelFile: string, cacheKey: string): string {
  if (!cleanupInstalled) {
    cleanupInstalled = true;
    process.on("exit", () => rmSync(HANDLER_CACHE_DIR, { recursive: true, force: true }));
  }
  const entry = pathToFileURL(join(BUILTIN_DIR, `${backend}.js`)).href;
  const code = `import { onnxruntimeModel } from ${JSON.stringify(entry)};\nexport default onnxruntimeModel(${JSON.stringify(modelFile)});\n`;
  mkdirSync(HANDLER_CACHE_DIR, { recursive: true, mode: 0o700 });
  const hash = createHash("sha256").update(code).digest("hex").slice(0, 16);
  const out = join(HANDLER_CACHE_DIR, `${cacheKey.replace(/[^A-Za-z0-9_.-]/g, "_")}-${hash}.mjs`);
  writeFileSync(out, code);
  return out;
}
