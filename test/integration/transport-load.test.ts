/**
 * The shared-memory transport under the loads that once lost messages (issue: "lossless under
 * any load"): one long stream stub → main (10 000 responses, over SSE and gRPC), many streams
 * main → stub at once (2 000, some with KB-sized prompts), and SIGTERM with streams still open.
 * Each checks that every response arrived, in order, and that the model serves afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type * as grpc from "@grpc/grpc-js";
import { FIXTURES, ROOT, grpcClientOf, startServer, type RunningServer } from "./harness.js";

function repeatRequest(id: string, values: number[], params: Record<string, number | string | boolean> = {}) {
  return {
    model_name: "repeat", id,
    parameters: Object.fromEntries(Object.entries(params).map(([k, v]) =>
      [k, typeof v === "string" ? { string_param: v } : typeof v === "boolean" ? { bool_param: v } : { int64_param: v }])),
    inputs: [{ name: "IN", datatype: "INT32", shape: [values.length], contents: { int_contents: values } }],
  };
}

/** SSE events of a response body, parsed as they are read. */
async function readEvents(res: Response): Promise<any[]> {
  const text = await res.text();
  return text.split("\n\n").filter((e) => e.length > 0).map((e) => JSON.parse(e.slice(e.indexOf("data: ") + 6)));
}

const noShmLeft = (pid: number) => readdirSync("/dev/shm").filter((e) => e.startsWith(`tessera-${pid}-`));

describe("one long stream, stub → main", () => {
  let server: RunningServer;
  let client: any;
  beforeAll(async () => {
    server = await startServer(join(FIXTURES, "decoupled-repo"), {
      args: ["--allow-grpc", "true", "--grpc-port", "0", "--grpc-address", "127.0.0.1", "--model-control-mode", "explicit", "--load-model", "repeat"],
    });
    client = await grpcClientOf(server, { "grpc.max_receive_message_length": -1 });
  }, 60_000);
  afterAll(async () => {
    client?.close();
    expect(await server.stop()).toBe(0);
    expect(noShmLeft(server.pid)).toEqual([]);
  }, 60_000);

  const N = 10_000;
  const values = Array.from({ length: N }, (_, i) => i);

  it("10 000 responses over generate_stream (SSE): every one, in order, then the end", async () => {
    const res = await fetch(`${server.url}/v2/models/repeat/generate_stream`, { method: "POST", body: JSON.stringify({ IN: values }) });
    expect(res.status).toBe(200);
    const events = await readEvents(res);
    expect(events.filter((e) => e.error)).toEqual([]);
    expect(events).toHaveLength(N);
    expect(events.map((e) => e.OUT)).toEqual(values);
    expect(events.map((e) => e.IDX)).toEqual(values);
  }, 60_000);

  it("10 000 responses over gRPC ModelStreamInfer: every one, in order, and a final flag", async () => {
    const call = client.ModelStreamInfer();
    const outs: number[] = [];
    let finals = 0;
    const errors: string[] = [];
    const done = new Promise<void>((resolve) => {
      call.on("data", (m: any) => {
        if (m.error_message) errors.push(m.error_message);
        const r = m.infer_response;
        if (r?.raw_output_contents?.length) outs.push(Buffer.from(r.raw_output_contents[0]).readInt32LE(0));
        if (r?.parameters?.triton_final_response?.bool_param) {
          finals++;
          call.end();
        }
      });
      call.on("status", () => resolve());
      call.on("error", () => {});
    });
    // The bare final flag comes as an empty response only when asked for (Triton's rule).
    call.write(repeatRequest("long", values, { triton_enable_empty_final_response: true }));
    await done;
    expect(errors).toEqual([]);
    expect(outs).toEqual(values);
    expect(finals).toBe(1);
  }, 60_000);

  it("the model still answers afterwards", async () => {
    const res = await fetch(`${server.url}/v2/models/repeat/generate_stream`, { method: "POST", body: JSON.stringify({ IN: [7, 8] }) });
    expect((await readEvents(res)).map((e) => e.OUT)).toEqual([7, 8]);
  });
});

describe("2 000 streams at once, main → stub", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(join(ROOT, "examples", "model_repository"), {
      args: ["--model-control-mode", "explicit", "--load-model", "text_generator"],
    });
  }, 60_000);
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
    expect(noShmLeft(server.pid)).toEqual([]);
  }, 60_000);

  it("every stream gets all its tokens and ends, short and KB-sized prompts alike; then a fresh request is served", async () => {
    const STREAMS = 2000;
    const TOKENS = 3;
    const long = "Shall I compare thee to a summer's day? Thou art more lovely and more temperate. ".repeat(19); // ~1.5 KB
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: STREAMS }, async (_, i) => {
      const prompt = i % 4 === 0 ? long : `prompt number ${String(i).padStart(6, "0")}`;
      const res = await fetch(`${server.url}/v2/models/text_generator/generate_stream`, {
        method: "POST",
        body: JSON.stringify({ text_input: prompt, max_tokens: TOKENS, parameters: { token_interval_ms: 400, seed: i, temperature: 0 } }),
      });
      return { status: res.status, events: await readEvents(res) };
    }));
    const elapsed = Date.now() - started;
    const bad = results.filter((r) => r.status !== 200 || r.events.length !== TOKENS || r.events.some((e) => e.error || typeof e.text_output !== "string"));
    expect(bad.slice(0, 3)).toEqual([]);
    expect(results).toHaveLength(STREAMS);
    // They ran at the same time: far less than one after another (2000 × 3 × 400 ms).
    expect(elapsed).toBeLessThan(60_000);
    expect(server.log()).not.toMatch(/unknown peer arena|broken/);
    const fresh = await fetch(`${server.url}/v2/models/text_generator/generate_stream`, {
      method: "POST", body: JSON.stringify({ text_input: "Shall I", max_tokens: 2, parameters: { token_interval_ms: 0 } }),
    });
    expect((await readEvents(fresh)).length).toBe(2);
  }, 120_000);
});

describe("SIGTERM with many streams open", () => {
  it("exits within --exit-timeout-secs + 5 s, and every client (SSE and gRPC) gets an error", async () => {
    const server = await startServer(join(FIXTURES, "decoupled-repo"), {
      args: ["--allow-grpc", "true", "--grpc-port", "0", "--grpc-address", "127.0.0.1", "--model-control-mode", "explicit",
        "--load-model", "repeat", "--exit-timeout-secs", "2"],
    });
    const client = await grpcClientOf(server, { "grpc.max_receive_message_length": -1 });
    const sse = await Promise.all(Array.from({ length: 40 }, async () => {
      const res = await fetch(`${server.url}/v2/models/repeat/generate_stream`, { method: "POST", body: JSON.stringify({ IN: [0], mode: "until_cancelled" }) });
      const reader = res.body!.getReader();
      await reader.read(); // it streams
      // Wrapped: an async function returning a promise would wait for it.
      return { rest: (async () => {
        let text = "";
        for (;;) {
          const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
          if (done) return text;
          text += new TextDecoder().decode(value);
        }
      })() };
    }));
    const grpcErrors = Array.from({ length: 10 }, (_, i) => new Promise<string>((resolve) => {
      const call = client.ModelStreamInfer();
      let error = "";
      call.on("data", (m: any) => {
        if (m.error_message) error = m.error_message;
      });
      call.on("error", (e: Error) => resolve(error || e.message));
      call.on("status", (s: grpc.StatusObject) => resolve(error || s.details));
      call.write(repeatRequest(`g${i}`, [0], { mode: "until_cancelled" }));
    }));
    await new Promise((r) => setTimeout(r, 300)); // the gRPC streams are open
    const t0 = Date.now();
    const code = await server.stop("SIGTERM");
    expect(Date.now() - t0).toBeLessThan(2000 + 5000);
    expect(code).toBe(0);
    for (const text of await Promise.all(sse.map((s) => s.rest))) expect(text).toMatch(/data: \{"error":"[^"]+"\}/);
    for (const e of await Promise.all(grpcErrors)) expect(e).toMatch(/Failed to process the request\(s\) for model instance .repeat_0_0./);
    client.close();
    expect(noShmLeft(server.pid)).toEqual([]);
  }, 60_000);
});
