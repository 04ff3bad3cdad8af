/**
 * 256 MiB tensors through the real server and stub. The default arenas are 1 MiB, so each direction
 * grows an extra segment; the bytes must come back exact, the extra segments must be unmapped once
 * idle (in main and in the stub), and a second round trip must work the same.
 */
import { randomFillSync } from "node:crypto";
import * as http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "./harness.js";
import { mappedShmBytes, startStubServer, stopCleanly, stubPids, waitUntil } from "./stub-helpers.js";

const MiB = 1024 * 1024;
const SIZE = 256 * MiB;

/**
 * One binary-extension request written straight from `data` (no concatenated copy), the response
 * read into one buffer of its Content-Length: a 256 MiB test should hold few 256 MiB copies.
 */
function inferLarge(
  url: string, model: string, input: { name: string; datatype: string; shape: number[]; data: Uint8Array },
): Promise<{ status: number; json: any; output: Buffer }> {
  const header = Buffer.from(JSON.stringify({
    inputs: [{ name: input.name, datatype: input.datatype, shape: input.shape, parameters: { binary_data_size: input.data.byteLength } }],
    parameters: { binary_data_output: true },
  }));
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v2/models/${model}/infer`, {
      method: "POST",
      headers: {
        "content-type": "application/octet-stream",
        "content-length": header.byteLength + input.data.byteLength,
        "inference-header-content-length": header.byteLength,
      },
    }, (res) => {
      const length = Number(res.headers["content-length"]);
      const body = Buffer.allocUnsafe(length);
      let at = 0;
      res.on("data", (chunk: Buffer) => {
        chunk.copy(body, at);
        at += chunk.length;
      });
      res.on("end", () => {
        if (res.statusCode !== 200) return resolve({ status: res.statusCode!, json: JSON.parse(body.toString()), output: Buffer.alloc(0) });
        const hl = Number(res.headers["inference-header-content-length"]);
        const json = JSON.parse(body.subarray(0, hl).toString());
        resolve({ status: 200, json, output: body.subarray(hl, at) });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.write(header);
    req.end(Buffer.from(input.data.buffer, input.data.byteOffset, input.data.byteLength));
  });
}

describe("stub large tensors", () => {
  let server: RunningServer;
  let stub: number;

  beforeAll(async () => {
    server = await startStubServer(["all_types"], { args: [`--http-max-input-size=${SIZE + MiB}`] });
    [stub] = stubPids(server.pid);
    expect(stub).toBeGreaterThan(0);
  });
  afterAll(async () => {
    await server?.stop("SIGKILL");
  });

  /** After a large round trip, both processes go back to their control segment alone. */
  async function expectExtraSegmentsUnmapped(): Promise<void> {
    // Extra segments are destroyed after 2 s idle; the peer unmaps on its next queue read (≤ 1 s).
    for (const pid of [server.pid, stub]) {
      await waitUntil(() => mappedShmBytes(pid) < 8 * MiB, 10_000, () => `pid ${pid} to unmap its extra shm (now ${mappedShmBytes(pid)} bytes)`);
    }
  }

  it("a 256 MiB FP32 tensor (random bits, NaN payloads included) comes back byte-exact", async () => {
    const data = new Uint8Array(SIZE);
    randomFillSync(data);
    const r = await inferLarge(server.url, "all_types", { name: "IN_FP32", datatype: "FP32", shape: [SIZE / 4], data });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.outputs[0]).toMatchObject({ name: "OUT_FP32", datatype: "FP32", shape: [SIZE / 4], parameters: { binary_data_size: SIZE } });
    expect(r.output.byteLength).toBe(SIZE);
    expect(Buffer.compare(r.output, Buffer.from(data.buffer)), "the 256 MiB output differs from the input").toBe(0);
    // While the tensors were in flight both sides mapped a 256 MiB extra segment; now they give it back.
    await expectExtraSegmentsUnmapped();
  });

  it("a second 256 MiB round trip (UINT8) works and memory comes back again", async () => {
    const data = new Uint8Array(SIZE);
    for (let i = 0; i < SIZE; i += 4096) data[i] = (i / 4096) & 0xff; // sparse pattern, different from the first
    data[SIZE - 1] = 0xa5;
    const r = await inferLarge(server.url, "all_types", { name: "IN_UINT8", datatype: "UINT8", shape: [SIZE], data });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.outputs[0]).toMatchObject({ name: "OUT_UINT8", shape: [SIZE] });
    expect(Buffer.compare(r.output, Buffer.from(data.buffer)), "the 256 MiB output differs from the input").toBe(0);
    await expectExtraSegmentsUnmapped();
    // Small requests still go through the 1 MiB arena afterwards.
    const small = await inferLarge(server.url, "all_types", { name: "IN_UINT8", datatype: "UINT8", shape: [3], data: Uint8Array.from([7, 8, 9]) });
    expect([...small.output]).toEqual([7, 8, 9]);
  });

  it("a body over --http-max-input-size is refused with 413 and the server serves on", async () => {
    const res = await fetch(`${server.url}/v2/models/all_types/infer`, {
      method: "POST", body: new Uint8Array(SIZE + 2 * MiB), headers: { "inference-header-content-length": "10" },
    }).catch((err: Error) => err);
    // The server may close the socket before the whole body was sent: either 413 or a reset.
    if (!(res instanceof Error)) expect(res.status).toBe(413);
    const ok = await inferLarge(server.url, "all_types", { name: "IN_UINT8", datatype: "UINT8", shape: [1], data: Uint8Array.from([1]) });
    expect(ok.status).toBe(200);
  });

  it("stops cleanly: exit 0, stub gone, no segments left", async () => {
    await stopCleanly(server);
  });
});
