/**
 * examples/model_repository/text_generator/1/model.ts, bundled as the server bundles handlers
 * and driven with fake requests and response senders: a decoupled model that streams one
 * character per response and ends every request with the final flag.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prepareHandlerModule, SDK_ENTRY } from "../../../src/backends/stub/handler-module.js";
// @ts-expect-error: a plain JS build script, no declarations
import { build } from "../../../examples/text_generation/build.js";

const EXAMPLE = join(import.meta.dirname, "..", "..", "..", "examples", "model_repository", "text_generator");
const FINAL = 1;

type Sdk = typeof import("../../../stub/sdk/index.js");
let sdk: Sdk;
let repo: string;
let Model: new () => any;

interface Sent { tokens: string[]; errors: { message: string; code: string }[]; finals: number; afterFinal: number }

/** A request as the stub hands it over, with a sender that records what the handler sends. */
function request(prompt: string, parameters: Record<string, string | number | boolean> = {}, opts: { maxTokens?: number; cancelAfter?: number } = {}) {
  const sent: Sent = { tokens: [], errors: [], finals: 0, afterFinal: 0 };
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const inputs = [new sdk.Tensor("text_input", [prompt], [1], "BYTES")];
  if (opts.maxTokens !== undefined) inputs.push(new sdk.Tensor("max_tokens", new Int32Array([opts.maxTokens]), [1]));
  const sender = {
    send(response?: InstanceType<Sdk["InferenceResponse"]>, flags = 0) {
      if (sent.finals > 0) sent.afterFinal++;
      if (response?.hasError()) sent.errors.push({ message: response.error()!.message(), code: String(response.error()!.code()) });
      else if (response) {
        const out = sdk.getOutputTensorByName(response, "text_output")!;
        expect(out.shape()).toEqual([1]);
        expect(out.datatype()).toBe("BYTES");
        sent.tokens.push(new TextDecoder().decode((out.data as Uint8Array[])[0]));
      }
      if (flags & FINAL) {
        sent.finals++;
        resolveDone();
      }
    },
  };
  const req = {
    inputs: () => inputs,
    parameters: () => ({ ...parameters }),
    isCancelled: () => opts.cancelAfter !== undefined && sent.tokens.length >= opts.cancelAfter,
    getResponseSender: () => sender,
    requestId: () => "",
  };
  return { req, sent, done };
}

async function start(tokenIntervalMs = "0") {
  const m = new Model();
  await m.initialize({
    model_config: JSON.stringify({ name: "text_generator", parameters: { token_interval_ms: { string_value: tokenIntervalMs } } }),
    model_instance_kind: "CPU", model_instance_name: "text_generator_0", model_instance_device_id: "0",
    model_repository: join(repo, "text_generator"), model_version: "1", model_name: "text_generator",
  });
  return m;
}

async function generate(m: any, ...args: Parameters<typeof request>) {
  const r = request(...args);
  expect(m.execute([r.req])).toBeUndefined();
  await r.done;
  return r.sent;
}

beforeAll(async () => {
  repo = mkdtempSync(join(tmpdir(), "tessera-textgen-handler-"));
  await build(repo);
  sdk = await import(SDK_ENTRY);
  Model = (await import(await prepareHandlerModule(join(EXAMPLE, "1", "model.ts"), "text_generator"))).default;
});

afterAll(() => rmSync(repo, { recursive: true, force: true }));

describe("text_generator handler", () => {
  it("has the config the brief promises: decoupled, string in and out, optional max_tokens", () => {
    const cfg = readFileSync(join(EXAMPLE, "config.pbtxt"), "utf8");
    expect(cfg).toMatch(/backend:\s*"python"/);
    expect(cfg).toMatch(/max_batch_size:\s*0/);
    expect(cfg).toMatch(/model_transaction_policy\s*\{\s*decoupled:\s*true\s*\}/);
    expect(cfg).toMatch(/name:\s*"text_input"\s*data_type:\s*TYPE_STRING\s*dims:\s*\[ 1 \]/);
    expect(cfg).toMatch(/name:\s*"max_tokens"\s*data_type:\s*TYPE_INT32\s*dims:\s*\[ 1 \]\s*optional:\s*true/);
    expect(cfg).toMatch(/name:\s*"text_output"\s*data_type:\s*TYPE_STRING/);
    expect(cfg).toMatch(/key:\s*"token_interval_ms"\s*value:\s*\{\s*string_value:\s*"30"\s*\}/);
  });

  it("streams one character per response, max_tokens of them, then the final flag alone", async () => {
    const m = await start();
    const sent = await generate(m, "Shall I compare thee", { temperature: 0 }, { maxTokens: 12 });
    expect(sent.tokens).toHaveLength(12);
    expect(sent.tokens.every((t) => [...t].length === 1)).toBe(true);
    expect(sent.tokens.join("")).toBe(" the the the");
    expect(sent).toMatchObject({ errors: [], finals: 1, afterFinal: 0 });
    const dflt = await generate(m, "We hold", { seed: 5 });
    expect(dflt.tokens).toHaveLength(64);
    await m.finalize();
  });

  it("reproduces output with a seed, stops at the stop string", async () => {
    const m = await start();
    const params = { temperature: 0.7, top_p: 0.9, seed: 11 };
    const a = await generate(m, "Shall I compare thee", params, { maxTokens: 60 });
    const b = await generate(m, "Shall I compare thee", params, { maxTokens: 60 });
    expect(a.tokens).toEqual(b.tokens);
    const text = a.tokens.join("");
    const stop = text.slice(10, 12);
    const stopped = await generate(m, "Shall I compare thee", { ...params, stop }, { maxTokens: 60 });
    expect(stopped.tokens.join("")).toBe(text.slice(0, text.indexOf(stop) + stop.length));
    expect(stopped.finals).toBe(1);
    await m.finalize();
  });

  it("returns from execute at once and serves concurrent requests, paced by token_interval_ms", async () => {
    const m = await start("30");
    const r1 = request("Four score", { temperature: 0 }, { maxTokens: 5 });
    const r2 = request("We hold", { token_interval_ms: 0, seed: 1 }, { maxTokens: 5 });
    const t0 = performance.now();
    expect(m.execute([r1.req, r2.req])).toBeUndefined();
    expect(r1.sent.finals + r1.sent.tokens.length).toBe(0); // nothing was awaited inside execute
    await r2.done;
    expect(r1.sent.finals).toBe(0); // r2 (no pause) ended while r1 is still being paced
    await r1.done;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(4 * 30 - 5);
    expect(r1.sent.tokens).toHaveLength(5);
    expect(r2.sent.tokens).toHaveLength(5);
    await m.finalize();
  });

  it("a cancelled request stops quietly: no more tokens, no error, the final flag", async () => {
    const m = await start();
    const sent = await generate(m, "Shall I", { seed: 3 }, { maxTokens: 50, cancelAfter: 4 });
    expect(sent).toMatchObject({ errors: [], finals: 1, afterFinal: 0 });
    expect(sent.tokens).toHaveLength(4);
    await m.finalize();
  });

  it("answers bad parameters with one INVALID_ARG error response, then the final flag", async () => {
    const m = await start();
    const cases: [Record<string, string | number | boolean>, number | undefined, RegExp][] = [
      [{ temperature: -1 }, undefined, /temperature/],
      [{ top_p: 0 }, undefined, /top_p/],
      [{ top_p: 2 }, undefined, /top_p/],
      [{ stop: 1 }, undefined, /stop/],
      [{}, -3, /max_tokens/],
    ];
    for (const [params, maxTokens, message] of cases) {
      const sent = await generate(m, "Shall I", params, { maxTokens });
      expect(sent.tokens).toEqual([]);
      expect(sent.errors).toHaveLength(1);
      expect(sent.errors[0].message).toMatch(message);
      expect(sent.errors[0].code).toBe(String(sdk.TritonError.INVALID_ARG));
      expect(sent).toMatchObject({ finals: 1, afterFinal: 0 });
    }
    // Characters outside the vocabulary are not an error.
    const odd = await generate(m, "Ünïcödé ✓", { temperature: 0 }, { maxTokens: 3 });
    expect(odd).toMatchObject({ errors: [], finals: 1 });
    expect(odd.tokens).toHaveLength(3);
    await m.finalize();
  });

  it("finalize ends running streams with an UNAVAILABLE error and the final flag", async () => {
    const m = await start("20");
    const r = request("Shall I", { seed: 1 }, { maxTokens: 1000 });
    m.execute([r.req]);
    await new Promise((res) => setTimeout(res, 70));
    await m.finalize();
    expect(r.sent.finals).toBe(1);
    expect(r.sent.tokens.length).toBeGreaterThan(0);
    expect(r.sent.tokens.length).toBeLessThan(1000);
    expect(r.sent.errors).toEqual([{ message: "the model is unloading", code: String(sdk.TritonError.UNAVAILABLE) }]);
  });
});
