import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdirSync, readFileSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { FIXTURES, grpcClientOf, grpcParams, postJson, startServer, type RunningServer } from "./harness.js";

// System shared memory end to end: the real server and its stubs, client segments in /dev/shm as
// shm_open makes them, the HTTP and gRPC front ends. The stub maps the client's pages itself.

const REPO = join(FIXTURES, "shm-repo");
let server: RunningServer;
let grpcClient: any;
const made: string[] = [];

function segment(bytes: Uint8Array | number): string {
  const key = `/it-shm-${randomBytes(6).toString("hex")}`;
  writeFileSync(`/dev/shm${key}`, typeof bytes === "number" ? Buffer.alloc(bytes) : bytes);
  made.push(key);
  return key;
}
const read = (key: string) => Uint8Array.from(readFileSync(`/dev/shm${key}`));
const unary = (method: string, request: object) =>
  new Promise<any>((resolve, reject) => grpcClient[method](request, (err: unknown, res: unknown) => (err ? reject(err) : resolve(res))));

function stubPids(): number[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => {
    try {
      return Number(readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]!.split(" ")[1]) === server.pid;
    } catch {
      return false;
    }
  });
}
const clientMaps = (pid: number) => readFileSync(`/proc/${pid}/maps`, "utf8").split("\n").filter((l) => l.includes("/dev/shm/it-shm-")).length;

beforeAll(async () => {
  server = await startServer(REPO, { args: ["--allow-client-shm", "true", "--cache-config", "local,size=1048576", "--allow-grpc", "true", "--grpc-port", "0", "--grpc-address", "127.0.0.1"] });
  grpcClient = await grpcClientOf(server);
}, 60_000);
afterAll(async () => {
  grpcClient?.close();
  expect(await server.stop()).toBe(0);
  for (const k of made) try { unlinkSync(`/dev/shm${k}`); } catch {}
});

describe("system shared memory", () => {
  it("HTTP: 4 MiB in and out through regions; the stub maps them and drops them once unregistered", async () => {
    const n = 1 << 20;
    const x = new Float32Array(n).map((_, i) => i % 977);
    const inKey = segment(new Uint8Array(x.buffer));
    const outKey = segment(n * 4);
    expect((await postJson(`${server.url}/v2/systemsharedmemory/region/in/register`, { key: inKey, offset: 0, byte_size: n * 4 })).status).toBe(200);
    expect((await postJson(`${server.url}/v2/systemsharedmemory/region/out/register`, { key: outKey, offset: 0, byte_size: n * 4 })).status).toBe(200);
    const r = await postJson(`${server.url}/v2/models/identity_fp32/infer`, {
      inputs: [{ name: "INPUT0", datatype: "FP32", shape: [n], parameters: { shared_memory_region: "in", shared_memory_byte_size: n * 4 } }],
      outputs: [{ name: "OUTPUT0", parameters: { shared_memory_region: "out", shared_memory_byte_size: n * 4 } }],
    });
    expect(r.status).toBe(200);
    expect(r.body.outputs[0]).toEqual({ name: "OUTPUT0", datatype: "FP32", shape: [n] }); // as Triton's: no data, no parameters
    expect(Buffer.compare(Buffer.from(read(outKey)), Buffer.from(x.buffer))).toBe(0);
    // The stub holds its own mappings of the client's segments (read-only input, shared output).
    const stubs = stubPids().filter((p) => clientMaps(p) > 0);
    expect(stubs.length).toBe(1);
    expect((await postJson(`${server.url}/v2/systemsharedmemory/unregister`, {})).status).toBe(200);
    await postJson(`${server.url}/v2/models/identity_fp32/infer`, { inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1], data: [1] }] });
    expect(clientMaps(stubs[0]!)).toBe(0);
    expect(clientMaps(server.pid)).toBe(0);
  }, 60_000);

  it("gRPC: register, infer with inputs and outputs in regions (mixed with raw contents), status, unregister", async () => {
    const a = new Int32Array(16).map((_, i) => i);
    const b = new Int32Array(16).fill(2);
    const key = segment(new Uint8Array(a.buffer));
    const outKey = segment(128);
    await unary("SystemSharedMemoryRegister", { name: "ga", key, offset: 0, byte_size: 64 });
    await unary("SystemSharedMemoryRegister", { name: "gout", key: outKey, offset: 0, byte_size: 128 });
    const status = await unary("SystemSharedMemoryStatus", { name: "ga" });
    expect(status.regions.ga).toMatchObject({ name: "ga", key, offset: "0", byte_size: "64" });
    const res = await unary("ModelInfer", {
      model_name: "simple",
      inputs: [
        { name: "INPUT0", datatype: "INT32", shape: [1, 16], parameters: grpcParams({ shared_memory_region: "ga", shared_memory_byte_size: 64 }) },
        { name: "INPUT1", datatype: "INT32", shape: [1, 16] },
      ],
      raw_input_contents: [Buffer.from(b.buffer)],
      outputs: [
        { name: "OUTPUT0", parameters: grpcParams({ shared_memory_region: "gout", shared_memory_byte_size: 64 }) },
        { name: "OUTPUT1", parameters: grpcParams({ shared_memory_region: "gout", shared_memory_offset: 64, shared_memory_byte_size: 64 }) },
      ],
    });
    expect(res.raw_output_contents.map((c: Buffer) => c.byteLength)).toEqual([0, 0]);
    expect(res.outputs[1].parameters).toEqual({});
    const out = new Int32Array(read(outKey).buffer);
    expect([...out.subarray(0, 16)]).toEqual([...a].map((v, i) => v + b[i]!));
    expect([...out.subarray(16)]).toEqual([...a].map((v, i) => v - b[i]!));
    await unary("SystemSharedMemoryUnregister", { name: "" });
    expect((await unary("SystemSharedMemoryStatus", {})).regions).toEqual({});
  }, 60_000);

  it("a segment truncated after registration is refused, not read; the server keeps serving", async () => {
    const key = segment(8192);
    await postJson(`${server.url}/v2/systemsharedmemory/region/t/register`, { key, offset: 0, byte_size: 8192 });
    truncateSync(`/dev/shm${key}`, 16);
    const r = await postJson(`${server.url}/v2/models/identity_fp32/infer`, {
      inputs: [{ name: "INPUT0", datatype: "FP32", shape: [2048], parameters: { shared_memory_region: "t", shared_memory_byte_size: 8192 } }],
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toContain("the segment was truncated");
    await postJson(`${server.url}/v2/systemsharedmemory/region/t/unregister`, {});
    const ok = await postJson(`${server.url}/v2/models/identity_fp32/infer`, { inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1], data: [3] }] });
    expect(ok.body.outputs[0].data).toEqual([3]);
  }, 30_000);

  it("a response cache hit still writes its outputs into the request's own regions", async () => {
    const a = new Int32Array(16).map((_, i) => i * 3);
    const b = new Int32Array(16).fill(5);
    const keys = [segment(128), segment(128)];
    for (const [i, key] of keys.entries()) {
      expect((await postJson(`${server.url}/v2/systemsharedmemory/region/cached${i}/register`, { key, offset: 0, byte_size: 128 })).status).toBe(200);
    }
    const infer = (region: number) => postJson(`${server.url}/v2/models/simple_cached/infer`, {
      inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1, 16], data: [...a] }, { name: "INPUT1", datatype: "INT32", shape: [1, 16], data: [...b] }],
      outputs: [
        { name: "OUTPUT0", parameters: { shared_memory_region: `cached${region}`, shared_memory_byte_size: 64 } },
        { name: "OUTPUT1", parameters: { shared_memory_region: `cached${region}`, shared_memory_offset: 64, shared_memory_byte_size: 64 } },
      ],
    });
    const expected = Buffer.concat([Buffer.from(a.map((x, i) => x + b[i]!).buffer), Buffer.from(a.map((x, i) => x - b[i]!).buffer)]);
    // A miss, then hits into the other region and (zeroed first) into the first one again.
    for (const [step, region] of [0, 1, 0, 1].entries()) {
      writeFileSync(`/dev/shm${keys[region]}`, Buffer.alloc(128));
      const r = await infer(region);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(Buffer.compare(Buffer.from(read(keys[region]!)), expected), `step ${step}, region ${region}: ${Buffer.from(read(keys[region]!)).toString("hex").slice(0, 48)}`).toBe(0);
    }
    const stats = await fetch(`${server.url}/v2/models/simple_cached/stats`).then((x) => x.json());
    expect(stats.model_stats[0].inference_stats.cache_hit.count).toBe(3);
    for (const i of [0, 1]) await postJson(`${server.url}/v2/systemsharedmemory/region/cached${i}/unregister`, {});
  });
});
