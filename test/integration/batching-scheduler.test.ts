import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { FIXTURES, inferBinary, postJson, startServer, type RunningServer } from "./harness.js";
import { listSegments } from "../../src/ipc/segments.js";

const REPO = join(FIXTURES, "batching-repo");
let server: RunningServer;

beforeAll(async () => {
  server = await startServer(REPO);
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
  expect(listSegments(server.pid)).toEqual([]);
});

const int32 = (values: number[]) => new Uint8Array(new Int32Array(values).buffer);
const asInt32 = (b: Uint8Array) => Array.from(new Int32Array(b.slice().buffer));

describe("dynamic batching against the real server", () => {
  it("joins concurrent requests into calls of at most max_batch_size rows; every request gets its own rows", async () => {
    const sizes = [1, 2, 3, 1, 2, 1, 1, 3, 2, 1, 1, 2]; // 20 rows in all
    const results = await Promise.all(sizes.map((rows, i) => {
      const values = Array.from({ length: rows * 2 }, (_, k) => i * 100 + k);
      return inferBinary(server.url, "batcher", [{ name: "X", datatype: "INT32", shape: [rows, 2], data: int32(values) }])
        .then((r) => ({ r, values, rows }));
    }));
    const callRows = new Set<number>();
    for (const { r, values, rows } of results) {
      expect(r.status).toBe(200);
      expect(asInt32(r.outputs.get("Y")!)).toEqual(values.map((v) => v * 2));
      expect(r.json.outputs.find((o: { name: string }) => o.name === "Y").shape).toEqual([rows, 2]);
      const seen = asInt32(r.outputs.get("ROWS")!);
      expect(new Set(seen).size).toBe(1);
      callRows.add(seen[0]);
      expect(r.outputs.get("ZERO_COPY")![0]).toBe(1); // main laid the batch out contiguously
    }
    expect(Math.max(...callRows)).toBeGreaterThan(1); // requests were joined
    expect(Math.max(...callRows)).toBeLessThanOrEqual(8); // and never past max_batch_size
  });

  it("a model that batches and names no scheduler gets the dynamic batcher (Triton's default)", async () => {
    const res = await fetch(`${server.url}/v2/models/default_batching/config`);
    const cfg = await res.json();
    expect(cfg.max_batch_size).toBe(4);
    expect(cfg.dynamic_batching).toBeDefined();
    expect(cfg.dynamic_batching.preferred_batch_size).toEqual([4]);
  });

  it("a full queue answers 503 with Triton's text; a queued request can time out", async () => {
    const req = (x: number, parameters: Record<string, unknown>) => postJson(`${server.url}/v2/models/limited/infer`, {
      inputs: [{ name: "X", datatype: "INT32", shape: [1, 1], data: [x] }], parameters,
    });
    const busy = req(1, { sleep_ms: 600 }); // occupies the only instance
    await server.waitForLog(/executing 1/);
    const timedOut = req(2, { timeout: 100_000 }); // 100 ms, shorter than the 10 s default: allowed
    const queued = req(3, {});
    await new Promise((r) => setTimeout(r, 30));
    const rejected = await req(4, {});
    expect(rejected.status).toBe(503);
    expect(rejected.body.error).toBe("Exceeds maximum queue size");
    const t = await timedOut;
    expect(t.status).toBe(503);
    expect(t.body.error).toBe("Request timeout expired");
    expect((await busy).status).toBe(200);
    const q = await queued;
    expect(q.status).toBe(200);
    expect(q.body.outputs[0].data).toEqual([3]);
    expect(server.log()).not.toMatch(/executing 2/); // the timed-out request never ran
  });

  it("a client that disconnects while its request is queued: the request never runs", async () => {
    const busy = postJson(`${server.url}/v2/models/limited/infer`, {
      inputs: [{ name: "X", datatype: "INT32", shape: [1, 1], data: [10] }], parameters: { sleep_ms: 400 },
    });
    await server.waitForLog(/executing 10/);
    const ac = new AbortController();
    const gone = fetch(`${server.url}/v2/models/limited/infer`, {
      method: "POST", signal: ac.signal,
      body: JSON.stringify({ inputs: [{ name: "X", datatype: "INT32", shape: [1, 1], data: [11] }] }),
    }).catch((e) => e);
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    await gone;
    expect((await busy).status).toBe(200);
    const after = await postJson(`${server.url}/v2/models/limited/infer`, { inputs: [{ name: "X", datatype: "INT32", shape: [1, 1], data: [12] }] });
    expect(after.body.outputs[0].data).toEqual([12]);
    expect(server.log()).not.toMatch(/executing 11/);
  });
});
