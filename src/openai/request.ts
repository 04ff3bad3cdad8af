/**
 * OpenAI request bodies (POST /v1/completions and /v1/chat/completions) → checked plain objects.
 * Pure: no model is consulted here. Every refusal is a field error naming the field (OpenAI's
 * `param`, dotted for nested ones: `messages[1].role`, `stream_options.include_usage`); fields
 * this server does not know are ignored, as OpenAI-compatible servers do.
 */
import {
  openaiFieldInvalid, openaiFieldMissing, openaiFieldUnsupported,
} from "../errors/index.js";

/** The sampling fields both endpoints share, checked; undefined: the model's default. */
export interface Sampling {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  /** Up to 4 stop sequences (OpenAI's limit), none empty. */
  stop: string[];
  seed?: number;
}

interface Common {
  model: string;
  sampling: Sampling;
  stream: boolean;
  /** stream_options.include_usage: a last chunk with `usage` and no choices. */
  includeUsage: boolean;
}

export interface CompletionRequest extends Common {
  kind: "completion";
  /** One or more prompts: one choice each, in order. */
  prompts: string[];
  echo: boolean;
}

export type ChatRole = "system" | "user" | "assistant";

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface ChatRequest extends Common {
  kind: "chat";
  messages: ChatMessage[];
}

/** OpenAI's documented ranges. */
const MAX_STOP_SEQUENCES = 4;
const MAX_PROMPTS = 64;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** null and absent are the same in OpenAI's API: the default. */
const given = (body: Json, key: string): boolean => body[key] !== undefined && body[key] !== null;

export function decodeCompletionRequest(body: unknown): CompletionRequest {
  const json = checkBody(body);
  const common = decodeCommon(json);
  if (!given(json, "prompt")) throw openaiFieldMissing("prompt");
  const prompt = json.prompt;
  let prompts: string[];
  if (typeof prompt === "string") prompts = [prompt];
  else if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((p) => typeof p === "string")) prompts = prompt as string[];
  else if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((p) => typeof p === "number" || Array.isArray(p))) {
    throw openaiFieldUnsupported("prompt", "token-id prompts need the model's tokenizer; send text");
  } else throw openaiFieldInvalid("prompt", "expected a string or a non-empty array of strings");
  if (prompts.length > MAX_PROMPTS) throw openaiFieldInvalid("prompt", `at most ${MAX_PROMPTS} prompts per request`);
  // Completions' logprobs is an integer (how many alternatives per token); any value asks for them.
  if (given(json, "logprobs")) throw openaiFieldUnsupported("logprobs", "this server does not return log probabilities");
  if (given(json, "best_of") && json.best_of !== 1) throw openaiFieldUnsupported("best_of", "only 1 is supported");
  if (given(json, "suffix")) throw openaiFieldUnsupported("suffix", "insertion is not supported");
  return { kind: "completion", ...common, prompts, echo: optionalBoolean(json, "echo") ?? false };
}

export function decodeChatRequest(body: unknown): ChatRequest {
  const json = checkBody(body);
  const common = decodeCommon(json);
  if (!given(json, "messages")) throw openaiFieldMissing("messages");
  if (!Array.isArray(json.messages) || json.messages.length === 0) {
    throw openaiFieldInvalid("messages", "expected a non-empty array of messages");
  }
  const messages = json.messages.map((m, i) => decodeMessage(m, `messages[${i}]`));
  // Chat's logprobs is a boolean; false is the default and harmless.
  if (given(json, "logprobs") && json.logprobs !== false) {
    throw openaiFieldUnsupported("logprobs", "this server does not return log probabilities");
  }
  if (given(json, "top_logprobs")) throw openaiFieldUnsupported("top_logprobs", "this server does not return log probabilities");
  if (given(json, "tools") && !(Array.isArray(json.tools) && json.tools.length === 0)) {
    throw openaiFieldUnsupported("tools", "tool calls are not supported");
  }
  // max_completion_tokens is the newer name of max_tokens in chat; it wins when both are given.
  const maxCompletion = optionalInteger(json, "max_completion_tokens", 0);
  if (maxCompletion !== undefined) common.sampling.maxTokens = maxCompletion;
  return { kind: "chat", ...common, messages };
}

function checkBody(body: unknown): Json {
  if (!isObject(body)) throw openaiFieldInvalid("body", "expected a JSON object");
  return body;
}

function decodeCommon(json: Json): Common {
  if (!given(json, "model")) throw openaiFieldMissing("model");
  if (typeof json.model !== "string" || json.model === "") throw openaiFieldInvalid("model", "expected a non-empty string");
  const n = optionalInteger(json, "n", 1);
  if (n !== undefined && n !== 1) throw openaiFieldUnsupported("n", "only one choice per request (n = 1) is supported");
  const stream = optionalBoolean(json, "stream") ?? false;
  let includeUsage = false;
  if (given(json, "stream_options")) {
    const options = json.stream_options;
    if (!isObject(options)) throw openaiFieldInvalid("stream_options", "expected an object");
    if (!stream) throw openaiFieldInvalid("stream_options", "only allowed when 'stream' is true");
    includeUsage = optionalBoolean(options, "include_usage", "stream_options.include_usage") ?? false;
  }
  if (given(json, "user") && typeof json.user !== "string") throw openaiFieldInvalid("user", "expected a string");
  return { model: json.model, sampling: decodeSampling(json), stream, includeUsage };
}

function decodeSampling(json: Json): Sampling {
  const sampling: Sampling = { stop: decodeStop(json) };
  const maxTokens = optionalInteger(json, "max_tokens", 0);
  if (maxTokens !== undefined) sampling.maxTokens = maxTokens;
  const temperature = optionalNumber(json, "temperature", 0, 2);
  if (temperature !== undefined) sampling.temperature = temperature;
  const topP = optionalNumber(json, "top_p", 0, 1);
  if (topP !== undefined) sampling.topP = topP;
  const seed = optionalInteger(json, "seed", 0);
  if (seed !== undefined) sampling.seed = seed;
  return sampling;
}

function decodeStop(json: Json): string[] {
  if (!given(json, "stop")) return [];
  const stop = json.stop;
  const list = typeof stop === "string" ? [stop] : stop;
  if (!Array.isArray(list) || !list.every((s) => typeof s === "string")) {
    throw openaiFieldInvalid("stop", "expected a string or an array of strings");
  }
  if (list.length > MAX_STOP_SEQUENCES) throw openaiFieldInvalid("stop", `at most ${MAX_STOP_SEQUENCES} stop sequences`);
  // An empty stop sequence would match at once; OpenAI ignores it, and so do we.
  return [...new Set(list.filter((s) => s !== ""))];
}

function decodeMessage(m: unknown, at: string): ChatMessage {
  if (!isObject(m)) throw openaiFieldInvalid(at, "expected a message object");
  const role = m.role;
  // "developer" is the newer name of "system".
  let checked: ChatRole;
  if (role === "system" || role === "developer") checked = "system";
  else if (role === "user" || role === "assistant") checked = role;
  else if (role === "tool" || role === "function") throw openaiFieldUnsupported(`${at}.role`, "tool messages are not supported");
  else throw openaiFieldInvalid(`${at}.role`, "expected 'system', 'developer', 'user' or 'assistant'");
  return { role: checked, content: decodeContent(m.content, `${at}.content`, checked) };
}

/** A string, or an array of text parts (joined): images and audio are refused. */
function decodeContent(content: unknown, at: string, role: ChatRole): string {
  if (typeof content === "string") return content;
  // An assistant message may carry no content (it made tool calls); as text it is empty.
  if ((content === null || content === undefined) && role === "assistant") return "";
  if (!Array.isArray(content)) throw openaiFieldInvalid(at, "expected a string or an array of content parts");
  let text = "";
  content.forEach((part, i) => {
    if (!isObject(part)) throw openaiFieldInvalid(`${at}[${i}]`, "expected a content part object");
    if (part.type !== "text") throw openaiFieldUnsupported(`${at}[${i}].type`, "only text content parts are supported");
    if (typeof part.text !== "string") throw openaiFieldInvalid(`${at}[${i}].text`, "expected a string");
    text += part.text;
  });
  return text;
}

function optionalBoolean(json: Json, key: string, param = key): boolean | undefined {
  if (!given(json, key)) return undefined;
  if (typeof json[key] !== "boolean") throw openaiFieldInvalid(param, "expected a boolean");
  return json[key] as boolean;
}

function optionalNumber(json: Json, key: string, min: number, max: number): number | undefined {
  if (!given(json, key)) return undefined;
  const v = json[key];
  if (typeof v !== "number" || !Number.isFinite(v)) throw openaiFieldInvalid(key, "expected a number");
  if (v < min || v > max) throw openaiFieldInvalid(key, `expected a number from ${min} to ${max}, got ${v}`);
  return v;
}

function optionalInteger(json: Json, key: string, min: number): number | undefined {
  if (!given(json, key)) return undefined;
  const v = json[key];
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw openaiFieldInvalid(key, "expected an integer");
  if (v < min) throw openaiFieldInvalid(key, `expected an integer of at least ${min}, got ${v}`);
  return v;
}
