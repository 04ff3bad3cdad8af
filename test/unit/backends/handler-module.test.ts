import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HANDLER_CACHE_DIR, prepareHandlerModule, sweepStaleHandlerCaches } from "../../../src/backends/stub/handler-module.js";

// Above any pid_max Linux allows (2^22): never a live process.
const DEAD = 4_194_304 + 17;
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tessera-sweep-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("sweeping the handler caches of servers that are gone", () => {
  it("names this server's own cache after its pid", () => {
    expect(HANDLER_CACHE_DIR).toBe(join(tmpdir(), `tessera-${process.pid}`));
  });

  it("removes the folder of a dead server, with what it holds", () => {
    mkdirSync(join(dir, `tessera-${DEAD}`));
    writeFileSync(join(dir, `tessera-${DEAD}`, "m-1-0123.mjs"), "export default 1;");
    expect(sweepStaleHandlerCaches(dir)).toEqual([`tessera-${DEAD}`]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("keeps the folders of live servers (this one and its parent), and anything not named like a cache", () => {
    const keep = [`tessera-${process.pid}`, `tessera-${process.ppid}`, `tessera-${DEAD}-0123456789abcdef`, "tessera-repo-abc", `tessera-${DEAD}x`, `other-${DEAD}`];
    for (const name of keep) mkdirSync(join(dir, name));
    expect(sweepStaleHandlerCaches(dir)).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual([...keep].sort());
  });

  it("never follows a symlink or removes a plain file of that name", () => {
    const target = join(dir, "target");
    mkdirSync(target);
    writeFileSync(join(target, "precious"), "x");
    symlinkSync(target, join(dir, `tessera-${DEAD}`));
    writeFileSync(join(dir, `tessera-${DEAD + 1}`), "a file");
    expect(sweepStaleHandlerCaches(dir)).toEqual([]);
    expect(existsSync(join(target, "precious"))).toBe(true);
    expect(existsSync(join(dir, `tessera-${DEAD + 1}`))).toBe(true);
  });

  it("answers nothing for a folder it cannot read", () => {
    expect(sweepStaleHandlerCaches(join(dir, "missing"))).toEqual([]);
  });
});

describe("bare imports of a handler", () => {
  it("resolve by the package's exports conditions: an import gets a dual package's ESM entry, require() its CommonJS one", async () => {
    const pkg = join(dir, "node_modules", "dual");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "dual", exports: { ".": { import: "./esm.mjs", require: "./cjs.cjs" } } }));
    writeFileSync(join(pkg, "esm.mjs"), "export const kind = 'esm';");
    writeFileSync(join(pkg, "cjs.cjs"), "exports.kind = 'cjs';");
    writeFileSync(join(dir, "model.ts"), "import { kind } from 'dual';\nconst req = require('dual');\nexport default class M { kinds = [kind, req.kind]; }\n");
    const out = readFileSync(await prepareHandlerModule(join(dir, "model.ts"), "dual-test"), "utf8");
    expect(out).toContain(join(pkg, "esm.mjs"));
    expect(out).toContain(join(pkg, "cjs.cjs"));
  });
});
