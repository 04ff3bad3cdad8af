/**
 * Properties of the OpenAI body decoders (src/openai/request.ts), seeded and bounded: a valid body
 * decodes to exactly the fields it carries; any other body is refused with a client-class error
 * that names a field (OpenAI's `param`) — never a TypeError or an INTERNAL error.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeChatRequest, decodeCompletionRequest } from "../../../src/openai/request.js";
import { hostileArb, runs, valueOrClientError } from "../fuzz.js";

const samplingArb = fc.record({
  max_tokens: fc.integer({ min: 0, max: 4096 }),
  temperature: fc.double({ min: 0, max: 2, noNaN: true }),
  top_p: fc.double({ min: 0, max: 1, noNaN: true }),
  seed: fc.nat(),
  stop: fc.oneof(fc.string({ minLength: 1, maxLength: 4 }), fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { maxLength: 4 })),
  stream: fc.boolean(),
  user: fc.string(),
}, { requiredKeys: [] });

const messageArb = fc.record({
  role: fc.constantFrom("system", "developer", "user", "assistant"),
  content: fc.oneof(fc.string(), fc.array(fc.record({ type: fc.constant("text"), text: fc.string() }), { maxLength: 3 })),
});

function namesAField(err: unknown): boolean {
  const param = (err as { param?: unknown }).param;
  expect(typeof param, `an error without param: ${String(err)}`).toBe("string");
  return false; // then valueOrClientError checks it is a client-class ServerError
}

describe("OpenAI request decoders", () => {
  it("a valid completion body decodes to its fields", () => {
    fc.assert(fc.property(samplingArb, fc.oneof(fc.string(), fc.array(fc.string(), { minLength: 1, maxLength: 4 })), fc.boolean(), (s, prompt, echo) => {
      const r = decodeCompletionRequest({ model: "m", prompt, echo, ...s });
      expect(r.prompts).toEqual(typeof prompt === "string" ? [prompt] : prompt);
      expect(r.echo).toBe(echo);
      expect(r.stream).toBe(s.stream ?? false);
      expect(r.sampling.maxTokens).toBe(s.max_tokens);
      expect(r.sampling.temperature).toBe(s.temperature);
      expect(r.sampling.topP).toBe(s.top_p);
      expect(r.sampling.seed).toBe(s.seed);
      const stops = s.stop === undefined ? [] : typeof s.stop === "string" ? [s.stop] : s.stop;
      expect(r.sampling.stop).toEqual(stops);
    }), runs(300));
  });

  it("a valid chat body decodes its messages; max_completion_tokens wins over max_tokens", () => {
    fc.assert(fc.property(fc.array(messageArb, { minLength: 1, maxLength: 5 }), samplingArb, fc.option(fc.nat(100)), (messages, s, mct) => {
      const body: Record<string, unknown> = { model: "m", messages, ...s };
      if (mct !== null) body.max_completion_tokens = mct;
      const r = decodeChatRequest(body);
      expect(r.messages.map((m) => m.role)).toEqual(messages.map((m) => (m.role === "developer" ? "system" : m.role)));
      expect(r.messages.map((m) => m.content)).toEqual(messages.map((m) => (typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join(""))));
      expect(r.sampling.maxTokens).toBe(mct ?? s.max_tokens);
    }), runs(300));
  });

  it("any body is a request or a client error naming a field", () => {
    fc.assert(fc.property(hostileArb, (body) => {
      valueOrClientError(() => decodeCompletionRequest(body), namesAField);
      valueOrClientError(() => decodeChatRequest(body), namesAField);
    }), runs(500));
  });

  it("a valid body with one field spoiled is refused naming that field", () => {
    const spoilers: [string, unknown][] = [
      ["max_tokens", -1], ["max_tokens", 1.5], ["temperature", 3], ["temperature", "0.5"], ["top_p", -0.1],
      ["seed", -2], ["stop", 7], ["stop", ["a", "b", "c", "d", "e"]], ["n", 2], ["n", 0], ["stream", "yes"], ["user", 5],
    ];
    fc.assert(fc.property(fc.constantFrom(...spoilers), fc.constantFrom("completion", "chat"), ([field, value], kind) => {
      const body = kind === "chat" ? { model: "m", messages: [{ role: "user", content: "x" }] } : { model: "m", prompt: "x" };
      const decode = kind === "chat" ? decodeChatRequest : decodeCompletionRequest;
      let param: unknown;
      try {
        decode({ ...body, [field]: value });
      } catch (err) {
        param = (err as { param?: unknown }).param;
        expect((err as { code?: string }).code).toBe("INVALID_ARG");
      }
      expect(param).toBe(field);
    }), runs(100));
  });

  it("refuses what this server does not do, naming the field", () => {
    const refuse = (f: () => unknown, param: string) => expect(f).toThrow(expect.objectContaining({ param }));
    refuse(() => decodeCompletionRequest({ model: "m", prompt: "x", logprobs: 0 }), "logprobs");
    refuse(() => decodeCompletionRequest({ model: "m", prompt: [1, 2, 3] }), "prompt");
    refuse(() => decodeChatRequest({ model: "m", messages: [{ role: "user", content: "x" }], logprobs: true }), "logprobs");
    refuse(() => decodeChatRequest({ model: "m", messages: [{ role: "tool", content: "x" }] }), "messages[0].role");
    refuse(() => decodeChatRequest({ model: "m", messages: [{ role: "user", content: [{ type: "image_url" }] }] }), "messages[0].content[0].type");
    refuse(() => decodeChatRequest({ model: "m", messages: [] }), "messages");
    refuse(() => decodeChatRequest({ model: "m", messages: [{ role: "user", content: "x" }], stream_options: { include_usage: true } }), "stream_options");
    refuse(() => decodeChatRequest({ model: "m" }), "messages");
    refuse(() => decodeCompletionRequest({ prompt: "x" }), "model");
    expect(decodeChatRequest({ model: "m", messages: [{ role: "user", content: "x" }], stream: true, stream_options: { include_usage: true }, logprobs: false, n: 1 }))
      .toMatchObject({ stream: true, includeUsage: true });
  });
});
