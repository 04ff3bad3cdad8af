/**
 * `node server.js` as a user runs it: --help, bad flags, the start-up output, --log-file, and
 * several --model-repository folders (including a model found in two of them).
 */
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FIXTURES, ROOT, postJson, startServer } from "./harness.js";

const EXAMPLES = join(ROOT, "examples", "model_repository");
const MODELS = join(FIXTURES, "models");

/** Runs server.js to completion (flags that make it exit at once); its code and output. */
function runServer(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [join(ROOT, "server.js"), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`server.js ${args.join(" ")} did not exit:\n${stdout}${stderr}`));
    }, timeoutMs);
    proc.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("--help", () => {
  it("lists every flag and exits 0", async () => {
    const { code, stdout } = await runServer(["--help"]);
    expect(code).toBe(0);
    for (const flag of [
      "--model-repository", "--http-port", "--grpc-port", "--metrics-port", "--allow-http", "--allow-grpc",
      "--allow-metrics", "--model-control-mode", "--load-model", "--strict-model-config", "--exit-on-error",
      "--strict-readiness", "--log-verbose", "--log-file", "--backend-config", "--http-max-input-size",
      "--grpc-max-input-size", "--http-header-timeout-secs", "--http-request-timeout-secs", "--http-restricted-api",
      "--grpc-restricted-protocol",
    ]) {
      expect(stdout, flag).toMatch(new RegExp(`^\\s+${flag}[ =<]`, "m"));
    }
  });
});

describe("bad flags", () => {
  const cases: [string, string[], RegExp][] = [
    ["a port that is not a number", ["--model-repository", EXAMPLES, "--http-port", "abc"], /--http-port.*'abc'/],
    ["a boolean that is not one", ["--model-repository", EXAMPLES, "--allow-grpc", "maybe"], /--allow-grpc.*'maybe'/],
    ["an unknown control mode", ["--model-repository", EXAMPLES, "--model-control-mode", "sometimes"], /--model-control-mode.*sometimes/],
    ["an unknown flag", ["--model-repository", EXAMPLES, "--no-such-flag"], /unknown option '--no-such-flag'/],
    ["a negative size", ["--model-repository", EXAMPLES, "--http-max-input-size=-5"], /--http-max-input-size/],
    ["an unknown backend setting", ["--model-repository", EXAMPLES, "--backend-config", "python,no-such-setting=1"], /unknown setting 'no-such-setting'/],
    ["a malformed backend setting", ["--model-repository", EXAMPLES, "--backend-config", "garbage"], /--backend-config expects/],
    ["an unknown restricted API", ["--model-repository", EXAMPLES, "--http-restricted-api", "everything:k=v"], /unknown restricted api 'everything'/],
    ["a malformed restricted protocol", ["--model-repository", EXAMPLES, "--grpc-restricted-protocol", "health"], /--grpc-restricted-protocol option format is/],
    ["no --model-repository", ["--http-port", "0"], /--model-repository must be specified/],
  ];
  for (const [what, args, message] of cases) {
    it(`${what}: exits non-zero with a message, serving nothing`, async () => {
      const { code, stdout, stderr } = await runServer(args);
      expect(code).not.toBe(0);
      expect(code).not.toBeNull();
      expect(stderr).toMatch(message);
      expect(stdout + stderr).not.toContain("Started HTTPService");
    });
  }

  it("a repository that does not exist: exits non-zero naming it", async () => {
    const { code, stdout, stderr } = await runServer(["--model-repository", "/no/such/repository", "--http-port", "0",
      "--allow-grpc", "false", "--allow-metrics", "false"]);
    expect(code).not.toBe(0);
    expect(stdout + stderr).toContain("/no/such/repository");
    expect(stdout + stderr).not.toContain("Started HTTPService");
  });
});

describe("start-up output", () => {
  it("prints the model table and the HTTP address; SIGINT stops it with 0", async () => {
    const server = await startServer(EXAMPLES);
    try {
      const log = server.log();
      expect(log).toMatch(/\|\s*Model\s*\|\s*Version\s*\|\s*Status\s*\|/);
      expect(log).toMatch(/\|\s*add_sub\s*\|\s*1\s*\|\s*READY\s*\|/);
      expect(log).toMatch(/\|\s*my_python_model\s*\|\s*1\s*\|\s*READY\s*\|/);
      // The table comes before the front end opens.
      expect(log.indexOf("my_python_model ")).toBeLessThan(log.indexOf("Started HTTPService at"));
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${server.url}/v2/health/ready`)).status).toBe(200);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe("--log-file", () => {
  it("writes the log to the file, not to stdout", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-log-"));
    const file = join(dir, "server.log");
    const proc = spawn(process.execPath, [join(ROOT, "server.js"), "--model-repository", EXAMPLES, "--http-port", "0",
      "--http-address", "127.0.0.1", "--allow-grpc", "false", "--allow-metrics", "false", "--log-file", file],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    proc.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
    try {
      let address: string | undefined;
      for (let i = 0; i < 200 && !address; i++) {
        await new Promise((r) => setTimeout(r, 100));
        if (existsSync(file)) address = /Started HTTPService at (\S+)/.exec(readFileSync(file, "utf8"))?.[1];
      }
      expect(address).toBeDefined();
      const r = await postJson(`http://${address}/v2/models/my_python_model/infer`, {
        inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1], data: [41] }],
      });
      expect(r.body.outputs[0].data).toEqual([42]);
      const text = readFileSync(file, "utf8");
      expect(text).toMatch(/\|\s*add_sub\s*\|\s*1\s*\|\s*READY\s*\|/);
      // The handler's Logger line reaches the file too, tagged with its instance.
      expect(text).toContain("initialized my_python_model_0_0 on CPU");
      expect(stdout).not.toContain("Started HTTPService");
    } finally {
      proc.kill("SIGINT");
      expect(await exited).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("several --model-repository folders", () => {
  it("serves the models of all of them", async () => {
    const server = await startServer([EXAMPLES, MODELS]);
    try {
      const index = await postJson(`${server.url}/v2/repository/index`, {});
      expect(index.body).toEqual([
        { name: "add_sub", version: "1", state: "READY", reason: "" },
        { name: "embedding", version: "1", state: "READY", reason: "" },
        { name: "identity", version: "1", state: "READY", reason: "" },
        { name: "my_python_model", version: "1", state: "READY", reason: "" },
        { name: "ocr", version: "1", state: "READY", reason: "" },
        { name: "ppocr_cls", version: "1", state: "READY", reason: "" },
        { name: "ppocr_rec", version: "1", state: "READY", reason: "" },
        { name: "running_mean", version: "1", state: "READY", reason: "" },
        { name: "text_encoder", version: "1", state: "READY", reason: "" },
        { name: "text_generator", version: "1", state: "READY", reason: "" },
        { name: "tokenizer", version: "1", state: "READY", reason: "" },
      ]);
      const r = await postJson(`${server.url}/v2/models/identity/infer`, {
        inputs: [{ name: "INPUT0", datatype: "FP32", shape: [2], data: [3, 4] }],
      });
      expect(r.status).toBe(200);
      expect(r.body.outputs[0].data).toEqual([3, 4]);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it("a model in two of them: Triton's error; the server exits (default --exit-on-error)", async () => {
    const copy = mkdtempSync(join(tmpdir(), "tessera-dup-"));
    cpSync(join(MODELS, "identity"), join(copy, "identity"), { recursive: true });
    try {
      const server = await startServer([MODELS, copy], { expectExit: true });
      expect(server.proc.exitCode).not.toBe(0);
      expect(server.log()).toContain("failed to poll model 'identity': not unique across all model repositories");
      expect(server.log()).not.toContain("Started HTTPService");
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it("a model in two of them, --exit-on-error=false: only that model is unavailable", async () => {
    const copy = mkdtempSync(join(tmpdir(), "tessera-dup-"));
    cpSync(join(MODELS, "identity"), join(copy, "identity"), { recursive: true });
    const server = await startServer([MODELS, copy, EXAMPLES], { args: ["--exit-on-error=false"] });
    try {
      const index = await postJson(`${server.url}/v2/repository/index`, {});
      expect(index.body).toEqual([
        { name: "add_sub", version: "1", state: "READY", reason: "" },
        { name: "embedding", version: "1", state: "READY", reason: "" },
        { name: "identity", state: "UNAVAILABLE", reason: "failed to poll model 'identity': not unique across all model repositories" },
        { name: "my_python_model", version: "1", state: "READY", reason: "" },
        { name: "ocr", version: "1", state: "READY", reason: "" },
        { name: "ppocr_cls", version: "1", state: "READY", reason: "" },
        { name: "ppocr_rec", version: "1", state: "READY", reason: "" },
        { name: "running_mean", version: "1", state: "READY", reason: "" },
        { name: "text_encoder", version: "1", state: "READY", reason: "" },
        { name: "text_generator", version: "1", state: "READY", reason: "" },
        { name: "tokenizer", version: "1", state: "READY", reason: "" },
      ]);
      const r = await postJson(`${server.url}/v2/models/identity/infer`, {
        inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1], data: [1] }],
      });
      expect(r.status).toBe(404);
      expect((await fetch(`${server.url}/v2/models/add_sub/ready`)).status).toBe(200);
    } finally {
      expect(await server.stop()).toBe(0);
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
