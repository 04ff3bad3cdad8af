/**
 * 1000 concurrent requests to a model with two stub instances: every request gets its own answer
 * (no mix-ups between in-flight requests), both instances serve, and each answer names the stub
 * process that computed it.
 */
import * as http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "./harness.js";
import { startStubServer, stopCleanly, stubPids } from "./stub-helpers.js";

function post(agent: http.Agent, url: string, body: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString()) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("stub concurrency", () => {
  let server: RunningServer;
  let agent: http.Agent;

  beforeAll(async () => {
    server = await startStubServer(["worker"]);
    agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
  });
  afterAll(async () => {
    agent?.destroy();
    await server?.stop("SIGKILL");
  });

  it("1000 concurrent requests each get their own answer, from both instances", async () => {
    const stubs = stubPids(server.pid);
    expect(stubs).toHaveLength(2);
    const url = `${server.url}/v2/models/worker/infer`;
    const N = 1000;
    // Unique, and beyond 32 bits, so a truncation or a swapped response shows.
    const value = (i: number) => 1_000_000_007 * (i + 1) + i;
    const results = await Promise.all(Array.from({ length: N }, (_, i) =>
      post(agent, url, JSON.stringify({
        id: `req-${i}`,
        inputs: [{ name: "INPUT0", datatype: "INT64", shape: [2], data: [value(i), -(i + 1)] }],
      })),
    ));

    const perInstance = new Map<string, Set<number>>();
    for (let i = 0; i < N; i++) {
      const { status, json } = results[i];
      expect(status, JSON.stringify(json)).toBe(200);
      expect(json.id).toBe(`req-${i}`);
      const out = Object.fromEntries(json.outputs.map((o: { name: string; data: unknown[] }) => [o.name, o.data]));
      expect(out.OUTPUT0, `request ${i}`).toEqual([value(i), -(i + 1)]);
      const [pid] = out.PID as number[];
      const [instance] = out.INSTANCE as string[];
      expect(stubs).toContain(pid);
      if (!perInstance.has(instance)) perInstance.set(instance, new Set());
      perInstance.get(instance)!.add(pid);
    }
    // Both instances served, each from its one process, and they are different processes.
    expect([...perInstance.keys()].sort()).toEqual(["worker_0_0", "worker_0_1"]);
    const pids = [...perInstance.values()].map((s) => [...s]);
    expect(pids.every((p) => p.length === 1)).toBe(true);
    expect(new Set(pids.flat()).size).toBe(2);
    // No stub died or was replaced under the load.
    expect(stubPids(server.pid).sort()).toEqual([...stubs].sort());
    expect(server.log()).not.toMatch(/replacement|not healthy/);
  });

  it("1000 concurrent binary requests with requested outputs: each gets exactly what it asked for", async () => {
    const url = `${server.url}/v2/models/worker/infer`;
    const N = 1000;
    const results = await Promise.all(Array.from({ length: N }, (_, i) => {
      const data = Buffer.from(BigInt64Array.from([BigInt(i) * 0x1_0000_0001n, -BigInt(i)]).buffer);
      const header = JSON.stringify({
        inputs: [{ name: "INPUT0", datatype: "INT64", shape: [2], parameters: { binary_data_size: 16 } }],
        outputs: [{ name: i % 2 === 0 ? "OUTPUT0" : "INSTANCE", parameters: { binary_data: true } }],
      });
      return new Promise<{ status: number; body: Buffer; hl: number }>((resolve, reject) => {
        const req = http.request(url, {
          method: "POST", agent,
          headers: { "inference-header-content-length": Buffer.byteLength(header), "content-length": Buffer.byteLength(header) + 16 },
        }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), hl: Number(res.headers["inference-header-content-length"]) }));
        });
        req.on("error", reject);
        req.end(Buffer.concat([Buffer.from(header), data]));
      });
    }));
    const instances = new Set<string>();
    for (let i = 0; i < N; i++) {
      const { status, body, hl } = results[i];
      expect(status, body.toString()).toBe(200);
      const json = JSON.parse(body.subarray(0, hl).toString());
      expect(json.outputs).toHaveLength(1);
      const bin = body.subarray(hl);
      if (i % 2 === 0) {
        expect(json.outputs[0].name).toBe("OUTPUT0");
        const got = new BigInt64Array(new Uint8Array(bin).buffer);
        expect([...got], `request ${i}`).toEqual([BigInt(i) * 0x1_0000_0001n, -BigInt(i)]);
      } else {
        expect(json.outputs[0].name).toBe("INSTANCE");
        const name = bin.subarray(4).toString();
        expect(bin.readUInt32LE(0)).toBe(bin.length - 4);
        instances.add(name);
      }
    }
    expect([...instances].sort()).toEqual(["worker_0_0", "worker_0_1"]);
  });

  it("stops cleanly: exit 0, stubs gone, no segments left", async () => {
    agent.destroy();
    await stopCleanly(server);
  });
});
