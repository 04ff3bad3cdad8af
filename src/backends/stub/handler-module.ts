/**
 * Prepares a model's handler file (model.ts, .mts, .js, .mjs) for its stubs: one esbuild bundle
 * per load, written to a private cache, so every stub (and every restart) imports plain JS in
 * ~90 ms instead of transpiling. Bare imports are rewritten to absolute paths: "tessera" to the
 * SDK, anything else to the model folder's own packages if it has them, else to ours — so a model
 * repository anywhere on disk needs no node_modules of its own.
 */
import { createHash } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";
import { PACKAGE_ROOT } from "../../ipc/addon.js";
import { ServerError } from "../../errors/index.js";

export const SDK_ENTRY = join(PACKAGE_ROOT, "dist", "stub", "sdk", "index.js");
const CACHE_DIR = join(tmpdir(), `tessera-${process.pid}`);
let cleanupInstalled = false;

function resolvingPlugin(modelDir: string): Plugin {
  const fromModel = createRequire(join(modelDir, "noop.js"));
  const fromUs = createRequire(join(PACKAGE_ROOT, "package.json"));
  return {
    name: "tessera-resolve",
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path === "tessera") return { path: SDK_ENTRY, external: true };
        if (args.path.startsWith("node:")) return { path: args.path, external: true };
        for (const req of [fromModel, fromUs]) {
          try {
            return { path: req.resolve(args.path), external: true };
          } catch {
            // try the next root
          }
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
    process.on("exit", () => rmSync(CACHE_DIR, { recursive: true, force: true }));
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
      outfile: join(CACHE_DIR, "out.mjs"),
      sourcemap: "inline",
      logLevel: "silent",
      plugins: [resolvingPlugin(dirname(file))],
    });
    code = result.outputFiles[0].text;
  } catch (err) {
    const errors = (err as { errors?: { text: string; location?: { file: string; line: number; column: number } }[] }).errors;
    const first = errors?.[0];
    const where = first?.location ? `${join(dirname(file), first.location.file.split("/").pop()!)}:${first.location.line}:${first.location.column}: ` : "";
    throw new ServerError("INVALID_ARG", `failed to compile ${file}: ${where}${first?.text ?? String(err)}`);
  }
  mkdirSync(CACHE_DIR, { recursive: true, mode: 0o700 });
  const hash = createHash("sha256").update(code).digest("hex").slice(0, 16);
  const out = join(CACHE_DIR, `${cacheKey.replace(/[^A-Za-z0-9_.-]/g, "_")}-${hash}.mjs`);
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
    process.on("exit", () => rmSync(CACHE_DIR, { recursive: true, force: true }));
  }
  const entry = pathToFileURL(join(BUILTIN_DIR, `${backend}.js`)).href;
  const code = `import { onnxruntimeModel } from ${JSON.stringify(entry)};\nexport default onnxruntimeModel(${JSON.stringify(modelFile)});\n`;
  mkdirSync(CACHE_DIR, { recursive: true, mode: 0o700 });
  const hash = createHash("sha256").update(code).digest("hex").slice(0, 16);
  const out = join(CACHE_DIR, `${cacheKey.replace(/[^A-Za-z0-9_.-]/g, "_")}-${hash}.mjs`);
  writeFileSync(out, code);
  return out;
}
