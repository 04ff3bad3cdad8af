/**
 * The drain (docs/deploy.md): from SIGTERM on, readiness is false on HTTP and gRPC while liveness
 * stays true; with --drain-delay-secs the server keeps serving inference for that long, then
 * stops as before. And TESSERA_* variables configure a server started with no flags at all.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ROOT, type RunningServer, grpcClientOf, postJson, startServer } from "./harness.js";

const EXAMPLES = join(ROOT, "examples", "model_repository");
const ADD_SUB = {
  inputs: [
    { name: "INPUT0", datatype: "FP32", shape: [4], data: [1, 2, 3, 4] },
    { name: "INPUT1", datatype: "FP32", shape: [4], data: [1, 1, 1, 1] },
  ],
};
let server: RunningServer | null = null;
afterEach(async () => {
  await server?.stop();
  server = null;
});

const status = async (url: string) => (await fetch(url)).status;
const unary = (client: any, method: string) =>
  new Promise<any>((resolve, reject) => client[method]({}, (err: Error | null, res: any) => (err ? reject(err) : resolve(res))));

describe("the drain on SIGTERM", () => {
  it("with --drain-delay-secs: not ready at once, still live and serving, then exits 0 after the delay", async () => {
    server = await startServer(EXAMPLES, {
      args: ["--model-control-mode=explicit", "--load-model=add_sub", "--allow-grpc=true", "--grpc-port=0", "--grpc-address=127.0.0.1", "--drain-delay-secs=3"],
    });
    const client = await grpcClientOf(server);
    expect(await status(`${server.url}/v2/health/ready`)).toBe(200);
    expect((await unary(client, "ServerReady")).ready).toBe(true);
    const exited = once(server.proc, "exit");
    const t0 = Date.now();
    server.proc.kill("SIGTERM");
    await server.waitForLog(/SIGTERM received/);
    expect(await status(`${server.url}/v2/health/ready`)).toBe(400);
    expect((await unary(client, "ServerReady")).ready).toBe(false);
    expect(await status(`${server.url}/v2/health/live`)).toBe(200);
    expect((await unary(client, "ServerLive")).live).toBe(true);
    // Inference goes on during the delay.
    for (let i = 0; i < 3; i++) {
      const r = await postJson(`${server.url}/v2/models/add_sub/infer`, ADD_SUB);
      expect(r.status).toBe(200);
      expect(r.body.outputs[0].data).toEqual([2, 3, 4, 5]);
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(server.proc.exitCode).toBeNull(); // all of that within the delay
    expect((await unary(client, "ServerReady")).ready).toBe(false);
    const [code] = await exited;
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3000);
    expect(server.log()).toMatch(/Not ready; serving for 3 s more \(--drain-delay-secs\)/);
    client.close();
  });

  it("without a delay: not ready at once, and new connections are refused soon after", async () => {
    server = await startServer(EXAMPLES, { args: ["--model-control-mode=explicit", "--load-model=add_sub"] });
    const exited = once(server.proc, "exit");
    server.proc.kill("SIGTERM");
    await server.waitForLog(/SIGTERM received/);
    const ready = await fetch(`${server.url}/v2/health/ready`).then((r) => r.status, () => "refused");
    expect([400, "refused"]).toContain(ready);
    expect((await exited)[0]).toBe(0);
  });
});

describe("TESSERA_* variables", () => {
  it("start a server with no flags: repository, address, port, protocols", async () => {
    const proc = spawn(process.execPath, [join(ROOT, "server.js")], {
      cwd: ROOT, stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env, TESSERA_MODEL_REPOSITORY: EXAMPLES, TESSERA_MODEL_CONTROL_MODE: "explicit", TESSERA_HTTP_PORT: "0",
        TESSERA_HTTP_ADDRESS: "127.0.0.1", TESSERA_ALLOW_GRPC: "false", TESSERA_ALLOW_METRICS: "false",
      },
    });
    let out = "";
    proc.stdout.on("data", (c) => (out += c));
    proc.stderr.on("data", (c) => (out += c));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no HTTP service:\n${out}`)), 30_000);
        const check = () => {
          const m = /Started HTTPService at (127\.0\.0\.1:\d+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(`http://${m[1]}`);
          }
        };
        proc.stdout.on("data", check);
        proc.stderr.on("data", check);
      });
      expect(out).not.toMatch(/GRPCInferenceService|Metrics Service/);
      // Explicit mode from the variable: nothing loaded, and the repository is the examples'.
      const index = await postJson(`${url}/v2/repository/index`, {});
      expect(index.body.map((m: { name: string }) => m.name)).toContain("add_sub");
      expect(index.body.every((m: { state?: string }) => m.state !== "READY")).toBe(true);
    } finally {
      proc.kill("SIGINT");
      await once(proc, "exit");
    }
  });
});
