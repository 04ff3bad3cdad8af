/**
 * The OpenAI response texts (src/openai/encode.ts), the stop-sequence matcher (stop.ts) and the
 * plain chat format: chunks parse as OpenAI's shapes, errors carry OpenAI's status and fields.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  openaiFieldInvalid, openaiModelNotFound, requestCancelled, serverShuttingDown,
} from "../../../src/errors/index.js";
import { plainChatPrompt } from "../../../src/openai/chat-template.js";
import {
  DONE_EVENT, encodeChunk, encodeCompletion, encodeError, encodeModelList, encodeUsageChunk, sseEvent, usage, type Envelope,
} from "../../../src/openai/encode.js";
import { StopMatcher } from "../../../src/openai/stop.js";
import { runs } from "../fuzz.js";

const chat: Envelope = { id: "chatcmpl-1", created: 1700000000, model: "m\"odel", kind: "chat" };
const completion: Envelope = { ...chat, id: "cmpl-1", kind: "completion" };

describe("SSE chunks", () => {
  it("a chat chunk: role on the first, content deltas, finish_reason on the last", () => {
    expect(JSON.parse(encodeChunk(chat, 0, "He", null, true))).toEqual({
      id: "chatcmpl-1", object: "chat.completion.chunk", created: 1700000000, model: "m\"odel",
      choices: [{ index: 0, delta: { role: "assistant", content: "He" }, logprobs: null, finish_reason: null }],
    });
    expect(JSON.parse(encodeChunk(chat, 0, "llo", null)).choices[0].delta).toEqual({ content: "llo" });
    expect(JSON.parse(encodeChunk(chat, 0, "", "stop")).choices[0]).toEqual({ index: 0, delta: {}, logprobs: null, finish_reason: "stop" });
  });

  it("a completion chunk carries text", () => {
    expect(JSON.parse(encodeChunk(completion, 2, "x", "length"))).toEqual({
      id: "cmpl-1", object: "text_completion", created: 1700000000, model: "m\"odel",
      choices: [{ index: 2, text: "x", logprobs: null, finish_reason: "length" }],
    });
  });

  it("any text survives the encoding; events are data lines", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme" }), (text) => {
      const event = sseEvent(encodeChunk(chat, 0, text, null));
      expect(event.startsWith("data: ") && event.endsWith("\n\n")).toBe(true);
      expect(event.slice(6, -2)).not.toContain("\n"); // one data line: JSON escapes newlines
      expect(JSON.parse(event.slice(6)).choices[0].delta.content).toBe(text);
    }), runs(200));
    expect(DONE_EVENT).toBe("data: [DONE]\n\n");
  });

  it("the usage chunk has no choices; whole completions carry usage", () => {
    const u = usage(3, 4);
    expect(u).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
    expect(JSON.parse(encodeUsageChunk(chat, u))).toMatchObject({ object: "chat.completion.chunk", choices: [], usage: u });
    expect(JSON.parse(encodeCompletion(chat, [{ text: "hi", finish: "stop" }], u))).toMatchObject({
      object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }], usage: u,
    });
    expect(JSON.parse(encodeCompletion(completion, [{ text: "a", finish: "length" }, { text: "b", finish: "stop" }], u)).choices)
      .toEqual([{ index: 0, text: "a", logprobs: null, finish_reason: "length" }, { index: 1, text: "b", logprobs: null, finish_reason: "stop" }]);
    expect(JSON.parse(encodeModelList([{ id: "a", created: 1 }]))).toEqual({ object: "list", data: [{ id: "a", object: "model", created: 1, owned_by: "tessera" }] });
  });
});

describe("error objects", () => {
  it("OpenAI's shape and statuses", () => {
    const notFound = encodeError(openaiModelNotFound("x", "not loaded"));
    expect(notFound.status).toBe(404);
    expect(JSON.parse(notFound.body).error).toMatchObject({ type: "invalid_request_error", param: "model", code: "model_not_found" });
    const bad = encodeError(openaiFieldInvalid("top_p", "expected a number"));
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toEqual({ message: "Invalid value for 'top_p': expected a number.", type: "invalid_request_error", param: "top_p", code: "invalid_value" });
    expect(encodeError(serverShuttingDown()).status).toBe(503);
    expect(JSON.parse(encodeError(new Error("boom")).body).error).toMatchObject({ type: "server_error", param: null, code: "internal" });
    expect(encodeError(requestCancelled("m")).status).toBe(400);
  });
});

describe("stop sequences", () => {
  it("the released text is the input up to the first stop sequence, however it is split", () => {
    const pieces = fc.array(fc.string({ maxLength: 4, unit: fc.constantFrom("a", "b", "c") }), { maxLength: 12 });
    const stops = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 3, unit: fc.constantFrom("a", "b", "c") }), { maxLength: 3 });
    fc.assert(fc.property(pieces, stops, (ps, ss) => {
      const whole = ps.join("");
      const cuts = ss.map((s) => whole.indexOf(s)).filter((i) => i >= 0);
      const expected = cuts.length ? whole.slice(0, Math.min(...cuts)) : whole;
      const m = new StopMatcher(ss);
      let out = "";
      let stopped = false;
      for (const p of ps) {
        const r = m.push(p);
        out += r.text;
        if (r.stopped) {
          stopped = true;
          break;
        }
      }
      out += m.flush();
      expect(out).toBe(expected);
      expect(stopped).toBe(cuts.length > 0);
    }), runs(500));
  });

  it("holds back only a possible beginning of a stop sequence", () => {
    const m = new StopMatcher(["END"]);
    expect(m.push("abcE")).toEqual({ text: "abc", stopped: false });
    expect(m.push("x")).toEqual({ text: "Ex", stopped: false });
    expect(m.push("EN")).toEqual({ text: "", stopped: false });
    expect(m.push("D!")).toEqual({ text: "", stopped: true });
  });
});

describe("the plain chat format", () => {
  it("one line per message, then Assistant:", () => {
    expect(plainChatPrompt([{ role: "system", content: "S" }, { role: "user", content: "U" }, { role: "assistant", content: "A" }]))
      .toBe("System: S\nUser: U\nAssistant: A\nAssistant:");
  });
});
