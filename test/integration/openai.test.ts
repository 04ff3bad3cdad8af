/**
 * The OpenAI-compatible front end (issue 16) through the official `openai` npm client, against
 * the real server: the bundled text_generator (examples/) and the echo models of
 * test/fixtures/openai-repo (they answer their prompt back, so a chat template's output shows).
 */
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURES, ROOT, startServer, type RunningServer } from "./harness.js";

const REPO = join(FIXTURES, "openai-repo");
const EXAMPLES = join(ROOT, "examples", "model_repository");

let server: RunningServer;
let client: OpenAI;
let openaiUrl: string;

beforeAll(async () => {
  server = await startServer([EXAMPLES, REPO], { args: ["--openai-port", "0", "--openai-on-http"] });
  openaiUrl = `http://${/Started OpenAIService at (\S+)/.exec(await server.waitForLog(/Started OpenAIService at \S+/))![1]}`;
  client = new OpenAI({ baseURL: `${openaiUrl}/v1`, apiKey: "unused", maxRetries: 0, timeout: 20_000 });
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

const PROMPT = "Shall I compare thee";
const sampled = { model: "text_generator", prompt: PROMPT, max_tokens: 40, temperature: 0.7, top_p: 0.9, seed: 1 };

async function stats(model: string): Promise<{ inference_count: number; inference_stats: { success: { count: number }; fail: { count: number } } }> {
  const res = await fetch(`${server.url}/v2/models/${model}/stats`);
  return (await res.json()).model_stats[0];
}

describe("models", () => {
  it("lists the ready models that follow the text-generation convention", async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual(["counted", "echo", "hf_templated", "templated", "text_generator"]);
    const one = await client.models.retrieve("text_generator");
    expect(one).toMatchObject({ id: "text_generator", object: "model", owned_by: "tessera" });
  });

  it("answers 404 model_not_found for an unknown model and for one outside the convention", async () => {
    for (const model of ["no_such_model", "not_text", "add_sub"]) {
      const err = await client.models.retrieve(model).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect(err.code).toBe("model_not_found");
      expect(err.param).toBe("model");
    }
    const err = await client.completions.create({ model: "no_such_model", prompt: "x" }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.error).toMatchObject({ type: "invalid_request_error", param: "model", code: "model_not_found" });
  });
});

describe("completions", () => {
  it("stops before the stop sequence, and the same seed gives the same text", async () => {
    const a = await client.completions.create({ ...sampled, stop: "," });
    const b = await client.completions.create({ ...sampled, stop: "," });
    expect(a.object).toBe("text_completion");
    expect(a.choices).toHaveLength(1);
    expect(a.choices[0]!.text).toBe(b.choices[0]!.text);
    expect(a.choices[0]!.text.length).toBeGreaterThan(0);
    expect(a.choices[0]!.text).not.toContain(",");
    expect(a.choices[0]!.finish_reason).toBe("stop");
    // The README's example: this seed and these settings stop at the first comma.
    expect(a.choices[0]!.text).toBe("d swart on and the con al the maked");
  });

  it("max_tokens ends the completion with finish_reason length; usage is approximated", async () => {
    const r = await client.completions.create({ ...sampled, max_tokens: 5 });
    expect([...r.choices[0]!.text]).toHaveLength(5);
    expect(r.choices[0]!.finish_reason).toBe("length");
    // One character per response: 5 responses; the prompt at ~4 characters per token.
    expect(r.usage).toEqual({ prompt_tokens: Math.ceil(PROMPT.length / 4), completion_tokens: 5, total_tokens: Math.ceil(PROMPT.length / 4) + 5 });
  });

  it("streams one chunk per model response, the finish reason on the last, the same text as non-streaming", async () => {
    const whole = await client.completions.create({ ...sampled, max_tokens: 20 });
    const stream = await client.completions.create({ ...sampled, max_tokens: 20, stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBe(21);
    expect(chunks.map((c) => c.choices[0]!.text).join("")).toBe(whole.choices[0]!.text);
    expect(chunks.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null)).toBe(true);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("length");
  });

  it("several stop sequences, one spanning responses, cancel the model's request", async () => {
    const r = await client.completions.create({ model: "echo", prompt: "abcdefghij", stop: ["xyz", "efg"] });
    expect(r.choices[0]).toMatchObject({ text: "abcd", finish_reason: "stop" });
    const stream = await client.completions.create({ model: "echo", prompt: "abcdefghij", stop: ["efg", "q"], stream: true });
    let text = "";
    for await (const c of stream) text += c.choices[0]!.text;
    expect(text).toBe("abcd");
  });

  it("echo puts the prompt before the completion; a list of prompts gives one choice each", async () => {
    const r = await client.completions.create({ model: "echo", prompt: "hello", echo: true, max_tokens: 1 });
    expect(r.choices[0]!.text).toBe("hellohel");
    const many = await client.completions.create({ model: "echo", prompt: ["one", "two!"] });
    expect(many.choices.map((c) => [c.index, c.text])).toEqual([[0, "one"], [1, "two!"]]);
  });

  it("usage comes from the model where it reports its counts", async () => {
    const r = await client.completions.create({ model: "counted", prompt: "abcdefgh" });
    // Three responses (abc, def, gh), each num_output_tokens 1; num_input_tokens 7.
    expect(r.usage).toEqual({ prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
  });
});

describe("chat completions", () => {
  const messages: OpenAI.ChatCompletionMessageParam[] = [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Hi" },
  ];

  it("renders the config's chat_template with Jinja", async () => {
    const r = await client.chat.completions.create({ model: "templated", messages });
    expect(r.object).toBe("chat.completion");
    expect(r.choices[0]!.message).toMatchObject({ role: "assistant", content: "<s><|system|>Be brief.\n<|user|>Hi\n<|assistant|>" });
    expect(r.choices[0]!.finish_reason).toBe("stop");
  });

  it("renders a tokenizer_config.json template; its raise_exception is a 400 naming messages", async () => {
    const r = await client.chat.completions.create({
      model: "hf_templated", messages: [{ role: "user", content: "Hi " }, { role: "assistant", content: "Yes" }, { role: "user", content: "Go" }],
    });
    expect(r.choices[0]!.message.content).toBe("<bos>[user] Hi\n[assistant] Yes<eos>\n[user] Go\n[assistant] ");
    const err = await client.chat.completions.create({ model: "hf_templated", messages: [{ role: "assistant", content: "x" }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.param).toBe("messages");
    expect(err.message).toContain("Conversation roles must alternate");
  });

  it("uses the plain format without a template", async () => {
    const r = await client.chat.completions.create({ model: "echo", messages });
    expect(r.choices[0]!.message.content).toBe("System: Be brief.\nUser: Hi\nAssistant:");
  });

  it("streams chat.completion.chunk deltas, then a usage chunk with include_usage", async () => {
    const stream = await client.chat.completions.create({
      model: "text_generator", messages: [{ role: "user", content: PROMPT }], max_tokens: 8, seed: 3, stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.every((c) => c.object === "chat.completion.chunk")).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    const usageChunk = chunks.at(-1)!;
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toMatchObject({ completion_tokens: 8 });
    const last = chunks.at(-2)!;
    expect(last.choices[0]!.finish_reason).toBe("length");
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    const again = await client.chat.completions.create({
      model: "text_generator", messages: [{ role: "user", content: PROMPT }], max_tokens: 8, seed: 3,
    });
    expect(again.choices[0]!.message.content).toBe(text);
  });

  it("is served on the HTTP port under /v1 with --openai-on-http", async () => {
    const onHttp = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const r = await onHttp.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "x" }] });
    expect(r.choices[0]!.message.content).toBe("User: x\nAssistant:");
    // The v2 API is still there.
    expect((await fetch(`${server.url}/v2/health/ready`)).status).toBe(200);
  });
});

describe("errors", () => {
  it("bad fields are 400 with OpenAI's error object naming the field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ model: "echo", prompt: "x", n: 2 }, "n"],
      [{ model: "echo", prompt: "x", logprobs: 2 }, "logprobs"],
      [{ model: "echo", prompt: "x", temperature: 5 }, "temperature"],
      [{ model: "echo", prompt: "x", max_tokens: -1 }, "max_tokens"],
      [{ model: "echo", prompt: "x", stop: 3 }, "stop"],
      [{ model: "echo" }, "prompt"],
    ];
    for (const [body, param] of cases) {
      const err = await client.completions.create(body as never).catch((e) => e);
      expect(err, JSON.stringify(body)).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.param).toBe(param);
      expect(err.error.type).toBe("invalid_request_error");
    }
    const chat = await client.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "x" }], logprobs: true }).catch((e) => e);
    expect(chat).toBeInstanceOf(OpenAI.BadRequestError);
    expect(chat.param).toBe("logprobs");
    const role = await client.chat.completions.create({ model: "echo", messages: [{ role: "narrator", content: "x" }] as never }).catch((e) => e);
    expect(role.param).toBe("messages[0].role");
  });

  it("a model error mid-stream is an error event, then [DONE]", async () => {
    const res = await fetch(`${openaiUrl}/v1/completions`, {
      method: "POST", body: JSON.stringify({ model: "echo", prompt: "abcdef[error]", stream: true }),
    });
    expect(res.status).toBe(200);
    const events = (await res.text()).split("\n\n").filter(Boolean);
    expect(events.at(-1)).toBe("data: [DONE]");
    const error = JSON.parse(events.at(-2)!.slice("data: ".length));
    expect(error.error).toMatchObject({ message: "the echo model failed on purpose", type: "server_error" });
    expect(events.length).toBe(4); // two chunks of text, the error, [DONE]

    const stream = await client.completions.create({ model: "echo", prompt: "abcdef[error]", stream: true });
    const texts: string[] = [];
    const err = await (async () => {
      for await (const c of stream) texts.push(c.choices[0]!.text);
    })().catch((e) => e);
    expect(texts).toEqual(["abc", "def"]);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.message).toContain("failed on purpose");
  });

  it("a client that disconnects mid-stream cancels the request in the stub", async () => {
    const before = await stats("echo");
    const controller = new AbortController();
    const stream = await client.completions.create({ model: "echo", prompt: "[forever]", stream: true }, { signal: controller.signal });
    let n = 0;
    const done = (async () => {
      for await (const _ of stream) if (++n === 3) controller.abort();
    })().catch((e) => e);
    await done; // the client ends the iteration quietly (or with an abort error)
    expect(n).toBe(3);
    const line = await server.waitForLog(/openai request cancelled after (\d+) responses/, 10_000);
    expect(Number(/after (\d+)/.exec(line)![1])).toBeGreaterThanOrEqual(3);
    // The request went through the pipeline: the statistics count it like any other.
    await expect.poll(async () => (await stats("echo")).inference_count, { timeout: 5000 }).toBeGreaterThan(before.inference_count);
  });

  it("statistics count OpenAI requests like any inference", async () => {
    const before = await stats("counted");
    await client.completions.create({ model: "counted", prompt: "abc" });
    const stream = await client.chat.completions.create({ model: "counted", messages: [{ role: "user", content: "a" }], stream: true });
    for await (const _ of stream) { /* drain */ }
    const after = await stats("counted");
    expect(after.inference_stats.success.count - before.inference_stats.success.count).toBe(2);
  });
});
