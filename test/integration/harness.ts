/**
 * Starts the real server (node server.js) on loopback with an ephemeral port, real stubs and
 * real shared memory, and gives tests its URL, its log and a way to stop it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as loader from "@grpc/proto-loader";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const FIXTURES = join(ROOT, "test", "fixtures");

export interface RunningServer {
  url: string;
  proc: ChildProcess;
  pid: number;
  /** Everything the server printed so far (stdout + stderr). */
  log(): string;
  /** Resolves when a line matching `pattern` has been printed. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGINT and wait for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  /** Extra flags after --model-repository. */
  args?: string[];
  /** Resolve when the server exits instead of waiting for it to listen (start-up failures). */
  expectExit?: boolean;
  timeoutMs?: number;
}

/** Starts the server on `repositories` (a path or several). */
export async function startServer(repositories: string | string[], options: StartOptions = {}): Promise<RunningServer> {
  const repos = Array.isArray(repositories) ? repositories : [repositories];
  const args = [join(ROOT, "server.js"), ...repos.flatMap((r) => ["--model-repository", r]),
    "--http-port", "0", "--http-address", "127.0.0.1", "--allow-grpc", "false", "--allow-metrics", "false", ...(options.args ?? [])];
  const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], cwd: ROOT });
  let output = "";
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const l of listeners) l();
  };
  proc.stdout!.on("data", onData);
  proc.stderr!.on("data", onData);
  const exited = once(proc, "exit").then(([code]) => code as number | null);

  const waitForLog = (pattern: RegExp, timeoutMs = 20_000) =>
    new Promise<string>((resolveWait, reject) => {
      const check = () => {
        const m = pattern.exec(output);
        if (m) {
          listeners.delete(check);
          clearTimeout(timer);
          resolveWait(m[0]);
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`timed out waiting for ${pattern} in server log:\n${output}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });

  const server: RunningServer = {
    url: "",
    proc,
    pid: proc.pid!,
    log: () => output,
    waitForLog,
    async stop(signal = "SIGINT") {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  if (options.expectExit) {
    await exited;
    return server;
  }
  const started = await Promise.race([
    waitForLog(/Started HTTPService at (\S+)/, options.timeoutMs ?? 30_000),
    exited.then((code) => {
      throw new Error(`server exited with code ${code} before listening:\n${output}`);
    }),
  ]);
  server.url = `http://${/Started HTTPService at (\S+)/.exec(started)![1]}`;
  return server;
}

/** A private copy of a fixture repository (for tests that change files or configs). */
export function copyRepository(source: string): string {
  const dir = mkdtempSync(join(tmpdir(), "tessera-repo-"));
  cpSync(source, dir, { recursive: true });
  return dir;
}

/** POST JSON, return status and parsed body. */
export async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** A binary-extension infer request: JSON header + raw tensor bytes; all outputs binary. */
export async function inferBinary(
  url: string, model: string, inputs: { name: string; datatype: string; shape: number[]; data: Uint8Array }[],
  extra: Record<string, unknown> = {},
): Promise<{ status: number; json: any; outputs: Map<string, Uint8Array> }> {
  const header = Buffer.from(JSON.stringify({
    ...extra,
    inputs: inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape, parameters: { binary_data_size: i.data.byteLength } })),
    parameters: { binary_data_output: true, ...(extra.parameters as object ?? {}) },
  }));
  const body = Buffer.concat([header, ...inputs.map((i) => Buffer.from(i.data.buffer, i.data.byteOffset, i.data.byteLength))]);
  const res = await fetch(`${url}/v2/models/${model}/infer`, {
    method: "POST", body, headers: { "inference-header-content-length": String(header.byteLength), "content-type": "application/octet-stream" },
  });
  const buf = new Uint8Array(await res.arrayBuffer());
  const outputs = new Map<string, Uint8Array>();
  if (res.status !== 200) return { status: res.status, json: JSON.parse(Buffer.from(buf).toString()), outputs };
  const hl = Number(res.headers.get("inference-header-content-length") ?? buf.byteLength);
  const json = JSON.parse(Buffer.from(buf.subarray(0, hl)).toString());
  let at = hl;
  for (const o of json.outputs) {
    const n = o.parameters?.binary_data_size;
    if (n === undefined) continue;
    outputs.set(o.name, buf.slice(at, at + n));
    at += n;
  }
  return { status: res.status, json, outputs };
}

/** Options that make proto-loader show messages as tritonclient's tests read them. */
export const PROTO_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

/** The address a server started with --allow-grpc listens on for gRPC. */
export async function grpcAddressOf(server: RunningServer): Promise<string> {
  const line = await server.waitForLog(/Started GRPCInferenceService at (\S+)/);
  return /Started GRPCInferenceService at (\S+)/.exec(line)![1]!;
}

/** A KServe v2 gRPC client for a server started with --allow-grpc (any, since it is untyped). */
export async function grpcClientOf(server: RunningServer, channelOptions: grpc.ChannelOptions = {}): Promise<any> {
  const address = await grpcAddressOf(server);
  const dirs = [join(ROOT, "src", "grpc"), join(ROOT, "src", "config")];
  const inference = grpc.loadPackageDefinition(loader.loadSync("grpc_service.proto", { ...PROTO_OPTIONS, includeDirs: dirs })) as any;
  return new inference.inference.GRPCInferenceService(address, grpc.credentials.createInsecure(), channelOptions);
}

/** Request parameters as gRPC InferParameter messages (numbers as int64_param). */
export function grpcParams(params: Record<string, string | number | boolean>): Record<string, object> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) =>
    [k, typeof v === "string" ? { string_param: v } : typeof v === "boolean" ? { bool_param: v } : { int64_param: v }]));
}
