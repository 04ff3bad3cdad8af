import { cpSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RepositoryPoller, type PollTarget } from "../../../src/repository/poller.js";
import { listModelDirs } from "../../../src/repository/scan.js";

const CONFIG = (count: number, extra = "") =>
  `name: "m"\nbackend: "typescript"\ninstance_group [ { count: ${count} kind: KIND_CPU } ]\n${extra}`;

describe("the repository poller (Triton's PollModels)", () => {
  let repo: string;
  let calls: string[];
  let poller: RepositoryPoller;
  // Ahead of the real clock, so that each write is the newest time under its folder.
  let tick = Math.floor(Date.now() / 1000) + 1000;
  /** Writes `text` to `path` with a new mtime (the kernel's clock is too coarse to rely on). */
  const write = (path: string, text: string) => {
    writeFileSync(path, text);
    tick += 10;
    utimesSync(path, tick, tick);
  };

  beforeEach(() => {
    repo = mkdtempSync(join(tmpdir(), "tessera-poller-"));
    mkdirSync(join(repo, "m", "1"), { recursive: true });
    write(join(repo, "m", "config.pbtxt"), CONFIG(1));
    write(join(repo, "m", "1", "model.ts"), "export default class {}");
    calls = [];
    const target: PollTarget = {
      available: () => listModelDirs([repo]).map((d) => d.name),
      isModelReady: (name) => !calls.includes(`unload ${name}`),
      reload: async (name, keep) => void calls.push(`reload ${name}${keep && keep.size > 0 ? ` keeping ${[...keep].join(",")}` : ""}`),
      updateInstances: async (name) => void calls.push(`update ${name}`),
      unload: async (name) => void calls.push(`unload ${name}`),
    };
    poller = new RepositoryPoller(target, { repositories: [repo], intervalMs: 0, log: () => {} });
    poller.prime(["m"]);
  });

  afterEach(() => rmSync(repo, { recursive: true, force: true }));

  it("does nothing when nothing changed", async () => {
    await poller.poll();
    expect(calls).toEqual([]);
  });

  it("loads an added model and unloads a removed one", async () => {
    cpSync(join(repo, "m"), join(repo, "n"), { recursive: true });
    await poller.poll();
    expect(calls).toEqual(["reload n"]);
    rmSync(join(repo, "n"), { recursive: true });
    await poller.poll();
    expect(calls).toEqual(["reload n", "unload n"]);
  });

  it("updates instances in place when only instance_group changed, reloads otherwise", async () => {
    write(join(repo, "m", "config.pbtxt"), CONFIG(3));
    await poller.poll();
    expect(calls).toEqual(["update m"]);
    write(join(repo, "m", "config.pbtxt"), CONFIG(3, 'parameters { key: "k" value: { string_value: "v" } }'));
    await poller.poll();
    expect(calls).toEqual(["update m", "reload m"]);
  });

  it("reloads for a new version folder, an edited label or handler file, even with an instance-count edit", async () => {
    write(join(repo, "m", "labels.txt"), "a\n");
    await poller.poll();
    write(join(repo, "m", "1", "model.ts"), "export default class { x = 1 }");
    await poller.poll();
    write(join(repo, "m", "config.pbtxt"), CONFIG(2));
    write(join(repo, "m", "labels.txt"), "b\n");
    await poller.poll();
    mkdirSync(join(repo, "m", "2"));
    await poller.poll();
    // Nothing but a version folder changed: version 1 needs no restart (Triton's IsModelVersionModified).
    expect(calls).toEqual(["reload m", "reload m", "reload m", "reload m keeping 1"]);
    write(join(repo, "m", "1", "model.ts"), "export default class { x = 2 }");
    await poller.poll();
    expect(calls.at(-1)).toBe("reload m keeping 2");
  });

  it("applies a broken edit once, and again only when it is edited again", async () => {
    write(join(repo, "m", "config.pbtxt"), "not [ pbtxt");
    await poller.poll();
    await poller.poll();
    expect(calls).toEqual(["reload m"]);
    write(join(repo, "m", "config.pbtxt"), CONFIG(1));
    await poller.poll();
    expect(calls).toEqual(["reload m", "reload m"]); // from an unparsable config: a reload, never in place
  });

  it("watches configs/<name>.pbtxt with --model-config-name", async () => {
    const named = new RepositoryPoller({
      available: () => ["m"], isModelReady: () => true,
      reload: async (n) => void calls.push(`reload ${n}`), updateInstances: async (n) => void calls.push(`update ${n}`), unload: async () => {},
    }, { repositories: [repo], intervalMs: 0, modelConfigName: "alt", log: () => {} });
    mkdirSync(join(repo, "m", "configs"));
    write(join(repo, "m", "configs", "alt.pbtxt"), CONFIG(1));
    named.prime(["m"]);
    write(join(repo, "m", "configs", "alt.pbtxt"), CONFIG(4));
    await named.poll();
    expect(calls).toEqual(["update m"]);
  });
});
