/**
 * deploy/Dockerfile, without a container engine: every path it copies exists (from the build
 * context: in the repository and not excluded by .dockerignore; from the build stage: among what
 * the same build steps produce here), and the runtime stage is what the issue asks: non-root,
 * tini as PID 1, the entry point among the copied files. hadolint lints it in
 * test/python/test_deploy_dockerfile.py (hadolint comes from PyPI into that suite's venv).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./manifests.js";

interface Instruction { stage: string; op: string; args: string[] }

/** The Dockerfile's instructions, continuation lines joined, comments dropped, each with its stage. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = "";
  const lines = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  for (const line of lines) {
    const [op, ...args] = line.split(/\s+/);
    if (op!.toUpperCase() === "FROM") stage = /\bAS\s+(\S+)/i.exec(line)?.[1] ?? "";
    out.push({ stage, op: op!.toUpperCase(), args });
  }
  return out;
}

const dockerfile = readFileSync(join(ROOT, "deploy", "Dockerfile"), "utf8");
const all = instructions(dockerfile);
const copies = all.filter((i) => i.op === "COPY").map((i) => {
  const from = i.args.find((a) => a.startsWith("--from="))?.slice(7);
  const paths = i.args.filter((a) => !a.startsWith("--"));
  return { stage: i.stage, from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
});
const tracked = new Set(execFileSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" }).split("\n").filter(Boolean));
const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));

describe("deploy/Dockerfile", () => {
  it("has a build stage and a runtime stage", () => {
    expect(all.filter((i) => i.op === "FROM").map((i) => i.stage)).toEqual(["build", "runtime"]);
  });

  it("copies from the build context only files that are in the repository and not .dockerignore'd", () => {
    const context = copies.filter((c) => !c.from).flatMap((c) => c.sources);
    expect(context.length).toBeGreaterThan(5);
    for (const src of context) {
      const path = src.replace(/\/$/, "");
      const isTracked = tracked.has(path) || [...tracked].some((f) => f.startsWith(`${path}/`));
      expect(isTracked, `${src} is not in the repository`).toBe(true);
      expect(ignored.some((g) => g.replace(/\/$/, "") === path), `${src} is .dockerignore'd`).toBe(false);
    }
  });

  it("copies from the build stage only what the build steps produce (here: after npm run build)", () => {
    const fromBuild = copies.filter((c) => c.from === "build").flatMap((c) => c.sources);
    expect(fromBuild.length).toBeGreaterThan(5);
    for (const src of fromBuild) {
      expect(src.startsWith("/src/"), src).toBe(true);
      expect(existsSync(join(ROOT, src.slice("/src/".length))), `${src}: not produced by the build`).toBe(true);
    }
    // The build stage's workdir is /src, and its RUN steps are the package's own scripts.
    expect(all.find((i) => i.stage === "build" && i.op === "WORKDIR")?.args).toEqual(["/src"]);
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    for (const [, script] of dockerfile.matchAll(/npm run ([\w:]+)/g)) expect(pkg.scripts, script).toHaveProperty(script!);
  });

  it("runs as a non-root user under tini, with the server among the copied files", () => {
    const runtime = all.filter((i) => i.stage === "runtime");
    const user = runtime.filter((i) => i.op === "USER").at(-1)!.args[0]!;
    expect(user).not.toMatch(/^(0|root)(:|$)/);
    const entry = JSON.parse(dockerfile.match(/^ENTRYPOINT (.*)$/m)![1]!);
    expect(entry.slice(0, 2)).toEqual(["/usr/bin/tini", "--"]);
    expect(dockerfile).toMatch(/apt-get install[^\n]* tini/);
    const workdir = runtime.find((i) => i.op === "WORKDIR")!.args[0]!;
    const server = entry.find((a: string) => a.endsWith("server.js"));
    expect(server).toBe(`${workdir}/server.js`);
    expect(copies.some((c) => c.stage === "runtime" && c.sources.includes("/src/server.js") && c.dest === "./")).toBe(true);
    // What the runtime reads besides dist/: the addon, the .proto files, package.json.
    for (const needed of ["/src/build/Release/shared_memory_ipc.node", "/src/src/grpc/grpc_service.proto", "/src/src/config/model_config.proto", "/src/package.json"]) {
      expect(copies.some((c) => c.stage === "runtime" && c.sources.includes(needed)), needed).toBe(true);
    }
  });
});
