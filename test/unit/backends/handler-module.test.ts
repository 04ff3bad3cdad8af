import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HANDLER_CACHE_DIR, sweepStaleHandlerCaches } from "../../../src/backends/stub/handler-module.js";

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
