import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_STUB_OPTIONS } from "../../../src/backends/stub/stub-model.js";
import { ModelManager } from "../../../src/repository/model-manager.js";

// A repository that is not there: any file-system access by a load fails with "failed to poll
// model repository", so a load refused for its name proves the name was checked first.
const base = mkdtempSync(join(tmpdir(), "tessera-manager-"));
const MISSING = join(base, "no-such-repository");
afterAll(() => rmSync(base, { recursive: true, force: true }));

function manager(): { m: ModelManager; lines: string[] } {
  const lines: string[] = [];
  const m = new ModelManager({
    repositories: [MISSING], strictModelConfig: false, stub: DEFAULT_STUB_OPTIONS,
    log: (level, source, message) => lines.push(`${level} ${source} ${message}`),
    gpus: { ids: [], source: "none" },
  });
  return { m, lines };
}

async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error("expected a rejection");
}

describe("ModelManager.load", () => {
  it("refuses a traversal name before it touches the repository, and does not log it", async () => {
    const { m, lines } = manager();
    for (const name of ["..", "../etc", "a/b", " .. "]) {
      expect(await rejection(m.load(name))).toMatchObject({
        code: "INVALID_ARG", message: `invalid model name '${name}', model name must not contain path traversal characters`,
      });
    }
    expect(await rejection(m.load(" \t"))).toMatchObject({ code: "INVALID_ARG", message: "Model name cannot be empty. Please enter a valid name to deploy." });
    expect(lines).toEqual([]);
  });

  it("unloads any name, a traversal one included (Triton's rule)", async () => {
    const { m } = manager();
    for (const name of ["..", "../etc", "a/b", ""]) await expect(m.unload(name)).resolves.toBeUndefined();
  });

  it("answers a client with the repository path hidden, and logs the full one", async () => {
    const { m, lines } = manager();
    const e = await rejection(m.load("m"));
    expect(e.message).toBe("failed to poll model repository '.': not a directory");
    expect(e.message).not.toContain(base);
    expect(lines).toEqual([`ERROR model_manager failed to poll model repository '${MISSING}': not a directory`]);
  });
});
