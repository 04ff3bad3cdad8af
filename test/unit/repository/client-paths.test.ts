import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HANDLER_CACHE_DIR } from "../../../src/backends/stub/handler-module.js";
import { ClientPaths } from "../../../src/repository/client-paths.js";

const base = mkdtempSync(join(tmpdir(), "tessera-client-paths-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe("client paths: texts name files relative to the repository", () => {
  it("strips a repository root from paths and file URLs, wherever they appear", () => {
    const p = new ClientPaths(["/srv/models"]);
    expect(p.text("no handler file found in /srv/models/crasher/1 (looked for model.ts)")).toBe("no handler file found in crasher/1 (looked for model.ts)");
    expect(p.text("failed to compile /srv/models/m/1/model.ts: /srv/models/m/1/model.ts:6:2: x")).toBe("failed to compile m/1/model.ts: m/1/model.ts:6:2: x");
    expect(p.text("at file:///srv/models/m/1/model.ts:3:1")).toBe("at m/1/model.ts:3:1");
    expect(p.text("failed to poll model repository '/srv/models': not a directory")).toBe("failed to poll model repository '.': not a directory");
  });

  it("leaves other paths alone, a root's longer sibling included", () => {
    const p = new ClientPaths(["/srv/models"]);
    for (const t of ["/srv/models2/m/1", "/srv/modelsx", "/etc/hostname", "model 'm' has no file"]) expect(p.text(t)).toBe(t);
  });

  it("strips nested repositories whole, and every repository given", () => {
    const p = new ClientPaths(["/a/r", "/a/r/inner", "/b"]);
    expect(p.text("/a/r/inner/m/1 and /a/r/m/1 and /b/x/config.pbtxt:6")).toBe("m/1 and m/1 and x/config.pbtxt:6");
  });

  it("strips a repository reached through a symlink in both spellings", () => {
    const real = join(base, "real");
    mkdirSync(join(real, "m"), { recursive: true });
    const link = join(base, "link");
    symlinkSync(real, link);
    const p = new ClientPaths([link]);
    expect(p.text(`${link}/m/1/model.ts and ${real}/m/1/model.ts`)).toBe("m/1/model.ts and m/1/model.ts");
  });

  it("strips the server's handler cache folder (a module that failed to import is named by its cached copy)", () => {
    const p = new ClientPaths(["/srv/models"]);
    expect(p.text(`failed to load '${HANDLER_CACHE_DIR}/m-1-0123abcd.mjs': boom`)).toBe("failed to load 'm-1-0123abcd.mjs': boom");
  });
});
