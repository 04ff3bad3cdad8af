/**
 * The load API as an attacker or a careless client uses it, against the real server over HTTP and
 * gRPC: config overrides that name files outside the model folder (run nothing, say nothing about
 * what exists there), bad model names (Triton's texts, before any file-system access; unload never
 * refuses), client-visible texts (paths relative to the repository, never a shared-memory segment
 * name; the log keeps the full path), and the handler cache of a SIGKILLed server, which the next
 * server to start removes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { request } from "node:http";
import { FIXTURES, startServer, type RunningServer, grpcClientOf } from "./harness.js";

const LEAK = /tessera-\d+-/;

/** Every text a client received in this file: none may name a segment or an absolute path of ours. */
const seen: string[] = [];

const IO = {
  input: [{ name: "INPUT0", data_type: "TYPE_FP32", dims: [-1] }],
  output: [{ name: "OUTPUT0", data_type: "TYPE_FP32", dims: [-1] }],
};
const override = (fields: Record<string, unknown>) => ({ parameters: { config: JSON.stringify({ max_batch_size: 0, ...IO, ...fields }) } });
const outside = (file: string, model: string) => `default model file path '${file}' in model '${model}' is outside model directory`;

describe("the load API, hardened", () => {
  let server: RunningServer;
  let client: any;
  let base: string;
  let repo: string;
  let marker: string;

  beforeAll(async () => {
    // <base>/repo is the repository; <base>/outside holds a handler that must never run.
    base = mkdtempSync(join(tmpdir(), "tessera-hardening-"));
    repo = join(base, "repo");
    cpSync(join(FIXTURES, "repository-repo"), repo, { recursive: true });
    cpSync(join(FIXTURES, "hardening-repo"), repo, { recursive: true });
    mkdirSync(join(base, "outside"));
    marker = join(base, "outside", "RAN");
    const evil = `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(marker)}, "ran");\n` +
      "export default class Evil { execute() { return []; } }\n";
    writeFileSync(join(base, "outside", "evil.mjs"), evil);
    writeFileSync(join(base, "outside", "labels.txt"), "secret\n");
    symlinkSync(join(base, "outside", "evil.mjs"), join(repo, "other", "1", "evil-link.mjs"));
    server = await startServer(repo, {
      args: ["--allow-grpc", "true", "--grpc-port", "0", "--grpc-address", "127.0.0.1", "--model-control-mode=explicit", "--load-model=leaky"],
    });
    client = await grpcClientOf(server);
  }, 60_000);

  afterAll(async () => {
    client?.close();
    expect(await server.stop()).toBe(0);
    rmSync(base, { recursive: true, force: true });
  });

  /** POST JSON with the path sent as written (fetch would resolve "%2E%2E" segments away first). */
  function http(path: string, body: unknown = {}): Promise<{ status: number; body: any }> {
    const { hostname, port } = new URL(server.url);
    const data = Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request({ host: hostname, port, path, method: "POST", headers: { "content-type": "application/json", "content-length": data.byteLength } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          seen.push(text);
          resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : null });
        });
      });
      req.on("error", reject);
      req.end(data);
    });
  }
  const load = (model: string, body: unknown = {}) => http(`/v2/repository/models/${model}/load`, body);
  const unload = (model: string) => http(`/v2/repository/models/${model}/unload`);

  function rpc(method: string, request: object): Promise<{ code: number; details: string }> {
    return new Promise((resolve) => client[method](request, (err: grpc.ServiceError | null) => {
      const r = err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: "" };
      seen.push(r.details);
      resolve(r);
    }));
  }
  const grpcLoad = (model_name: string, config?: Record<string, unknown>) => rpc("RepositoryModelLoad", {
    model_name, parameters: config ? { config: { string_param: override(config).parameters.config } } : {},
  });

  describe("files named by a config stay in the model folder", () => {
    it("refuses a handler file outside the model folder, over HTTP and gRPC, and runs nothing", async () => {
      const file = "../../../outside/evil.mjs";
      const r = await load("crasher", override({ name: "crasher", backend: "python", default_model_filename: file }));
      expect(r).toEqual({ status: 400, body: { error: outside(file, "crasher") } });
      const g = await grpcLoad("crasher", { name: "crasher", backend: "python", default_model_filename: file });
      expect(g).toEqual({ code: grpc.status.INVALID_ARGUMENT, details: outside(file, "crasher") });
      expect(existsSync(marker)).toBe(false);
      expect((await http("/v2/repository/index")).body).toContainEqual({ name: "crasher", state: "UNAVAILABLE", reason: outside(file, "crasher") });
    });

    it("refuses a link in the model folder that points out", async () => {
      const r = await load("other", override({ name: "other", backend: "typescript", default_model_filename: "evil-link.mjs" }));
      expect(r).toEqual({ status: 400, body: { error: outside("evil-link.mjs", "other") } });
      expect(existsSync(marker)).toBe(false);
    });

    it("onnxruntime: answers the same for an outside file that exists and one that does not", async () => {
      const up = "../".repeat(40);
      for (const file of [`${up}etc/hostname`, `${up}etc/no-such-file-anywhere`]) {
        const r = await load("crasher", override({ name: "crasher", backend: "onnxruntime", default_model_filename: file }));
        expect(r).toEqual({ status: 400, body: { error: outside(file, "crasher") } });
        const g = await grpcLoad("crasher", { name: "crasher", backend: "onnxruntime", default_model_filename: file });
        expect(g).toEqual({ code: grpc.status.INVALID_ARGUMENT, details: outside(file, "crasher") });
      }
    });

    it("refuses label files and warmup data files outside the model folder", async () => {
      const labelled = { ...IO, output: [{ ...IO.output[0], label_filename: "../../outside/labels.txt" }] };
      const r = await load("other", override({ name: "other", backend: "typescript", ...labelled }));
      expect(r).toEqual({
        status: 400, body: { error: "label file path '../../outside/labels.txt' for output 'OUTPUT0' in model 'other' is outside model directory" },
      });
      const warmup = [{ name: "w", batch_size: 1, inputs: { INPUT0: { data_type: "TYPE_FP32", dims: [1], input_data_file: "../../outside/labels.txt" } } }];
      const w = await load("other", override({ name: "other", backend: "typescript", model_warmup: warmup }));
      expect(w.status).toBe(400);
      expect(w.body.error).toBe("warmup data file path '../../outside/labels.txt' for input 'INPUT0' of warmup 'w' in model 'other' is outside model directory");
    });

    it("still loads a config whose files are the model's own", async () => {
      const r = await load("other", override({ name: "other", backend: "typescript", default_model_filename: "model.ts" }));
      expect(r.status).toBe(200);
      expect((await unload("other")).status).toBe(200);
    });
  });

  describe("model names", () => {
    const traversal = (name: string) => `invalid model name '${name}', model name must not contain path traversal characters`;
    const EMPTY = "Model name cannot be empty. Please enter a valid name to deploy.";

    it("HTTP: refuses '..' and '/' (percent-encoded too) and empty names with Triton's texts", async () => {
      const cases: [string, string][] = [
        ["..", traversal("..")], ["%2E%2E", traversal("..")], ["%2e.", traversal("..")], ["..%2F..%2Fetc", traversal("../../etc")],
        ["a%2F..%2Fb", traversal("a/../b")], ["other%2F", traversal("other/")], ["%2Fetc%2Fpasswd", traversal("/etc/passwd")],
        ["%20..", traversal(" ..")], ["%20", EMPTY], ["%09%20%0A", EMPTY],
      ];
      for (const [segment, text] of cases) {
        const r = await load(segment);
        expect(r, segment).toEqual({ status: 400, body: { error: text } });
      }
    });

    it("gRPC: the same, with INVALID_ARGUMENT", async () => {
      for (const name of ["..", "../etc", "/etc/passwd", "model/", ".. "]) {
        expect(await grpcLoad(name), name).toEqual({ code: grpc.status.INVALID_ARGUMENT, details: traversal(name) });
      }
      for (const name of ["", " ", "\t\n"]) {
        expect(await grpcLoad(name), JSON.stringify(name)).toEqual({ code: grpc.status.INVALID_ARGUMENT, details: EMPTY });
      }
    });

    it("never refuses an unload for its name", async () => {
      for (const segment of ["..", "%2E%2E", "..%2Fetc", "a%2F..%2Fb"]) expect((await unload(segment)).status, segment).toBe(200);
      for (const name of ["..", "../etc", "a/../b"]) expect((await rpc("RepositoryModelUnload", { model_name: name })).code).toBe(grpc.status.OK);
    });

    it("answers names that only look like traversal as unknown models, with Triton's text and no path", async () => {
      for (const name of ["...", "..my_model", "model..1"]) {
        const text = `failed to load '${name}', failed to poll from model repository`;
        expect(await load(name), name).toEqual({ status: 500, body: { error: text } });
        expect(await grpcLoad(name)).toEqual({ code: grpc.status.INTERNAL, details: text });
      }
    });
  });

  describe("client-visible texts", () => {
    it("name a failed load's files relative to the repository; the log keeps the full path", async () => {
      const r = await load("crasher");
      expect(r.status).toBe(400);
      expect(r.body.error).toContain("no handler file found in crasher/1 ");
      expect(r.body.error).not.toContain(base);
      const entry = (await http("/v2/repository/index")).body.find((e: any) => e.name === "crasher");
      expect(entry.reason).toContain("no handler file found in crasher/1 ");
      expect(server.log()).toContain(`no handler file found in ${join(repo, "crasher", "1")} `);
      const g = await grpcLoad("crasher");
      expect(g.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(g.details).toContain("no handler file found in crasher/1 ");
    });

    it("never name a shared-memory segment, even when a handler's own error does", async () => {
      const body = { inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1], data: [1] }] };
      const r = await http("/v2/models/leaky/infer", body);
      expect(r.status).toBeGreaterThanOrEqual(400);
      // The handler saw at least one segment and named it; the client sees the placeholder.
      expect(r.body.error).toMatch(/this stub maps [1-9]\d* segment\(s\): .*<shared-memory segment>/);
      const g = await rpc("ModelInfer", {
        model_name: "leaky", inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1], contents: { fp32_contents: [1] } }],
      });
      expect(g.code).not.toBe(grpc.status.OK);
      expect(g.details).toContain("<shared-memory segment>");
    });

    it("no text a client received in this file named a segment, the repository or the handler cache", () => {
      expect(seen.length).toBeGreaterThan(30);
      for (const text of seen) {
        expect(text).not.toMatch(LEAK);
        expect(text).not.toContain(base);
        expect(text).not.toContain(`tessera-${server.pid}/`);
      }
    });
  });
});

describe("handler caches of a SIGKILLed server", () => {
  it("are removed by the next server to start", async () => {
    const repo = join(FIXTURES, "repository-repo");
    const first = await startServer(repo, { args: ["--model-control-mode=explicit", "--load-model=simple"] });
    const cache = join(tmpdir(), `tessera-${first.pid}`);
    expect(existsSync(cache)).toBe(true);
    expect(readdirSync(cache).length).toBeGreaterThan(0);
    const exited = once(first.proc, "exit");
    first.proc.kill("SIGKILL");
    await exited;
    expect(existsSync(cache)).toBe(true); // nothing of the first server could clean up

    const second = await startServer(repo, { args: ["--model-control-mode=explicit", "--load-model=simple"] });
    try {
      expect(existsSync(cache)).toBe(false);
      expect(existsSync(join(tmpdir(), `tessera-${second.pid}`))).toBe(true);
    } finally {
      expect(await second.stop()).toBe(0);
    }
    expect(existsSync(join(tmpdir(), `tessera-${second.pid}`))).toBe(false); // a normal exit cleans its own
  }, 60_000);
});
