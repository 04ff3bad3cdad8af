/**
 * OpenAI's response shapes as JSON text: completions and chat completions (whole, and as
 * Server-Sent Event chunks), usage, the model list, and the error object with its status.
 * Texts only: the caller writes them.
 */
import { HTTP_STATUS, toServerError } from "../errors/index.js";

export type FinishReason = "stop" | "length";

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** What every chunk and completion of one request shares. */
export interface Envelope {
  /** `cmpl-…` or `chatcmpl-…`. */
  id: string;
  /** Unix seconds. */
  created: number;
  model: string;
  kind: "completion" | "chat";
}

export const DONE_EVENT = "data: [DONE]\n\n";

export const sseEvent = (json: string): string => `data: ${json}\n\n`;

export function usage(prompt: number, completion: number): Usage {
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

const head = (e: Envelope, object: string) =>
  `{"id":${JSON.stringify(e.id)},"object":"${object}","created":${e.created},"model":${JSON.stringify(e.model)}`;

/** Every chunk of a stream starts alike: its head is built once per envelope, not per token. */
const chunkHeads = new WeakMap<Envelope, string>();
function chunkHead(e: Envelope): string {
  let h = chunkHeads.get(e);
  if (h === undefined) {
    h = head(e, e.kind === "completion" ? "text_completion" : "chat.completion.chunk");
    chunkHeads.set(e, h);
  }
  return h;
}

/**
 * One streamed piece of choice `index`: `text` (may be ""), and on its last chunk the finish
 * reason. A chat's first chunk of a choice also carries `role` (`first`).
 */
export function encodeChunk(e: Envelope, index: number, text: string, finish: FinishReason | null, first = false): string {
  const reason = finish === null ? "null" : `"${finish}"`;
  if (e.kind === "completion") {
    return `${chunkHead(e)},"choices":[{"index":${index},"text":${JSON.stringify(text)},"logprobs":null,"finish_reason":${reason}}]}`;
  }
  const delta = first ? `{"role":"assistant","content":${JSON.stringify(text)}}` : finish !== null && text === "" ? "{}" : `{"content":${JSON.stringify(text)}}`;
  return `${chunkHead(e)},"choices":[{"index":${index},"delta":${delta},"logprobs":null,"finish_reason":${reason}}]}`;
}

/** stream_options.include_usage: the last chunk before [DONE], with no choices. */
export function encodeUsageChunk(e: Envelope, u: Usage): string {
  return `${chunkHead(e)},"choices":[],"usage":${JSON.stringify(u)}}`;
}

export interface Choice {
  text: string;
  finish: FinishReason;
}

/** A whole (non-streamed) completion or chat completion. */
export function encodeCompletion(e: Envelope, choices: readonly Choice[], u: Usage): string {
  const items = choices.map((c, index) => (e.kind === "completion"
    ? { index, text: c.text, logprobs: null, finish_reason: c.finish }
    : { index, message: { role: "assistant", content: c.text }, logprobs: null, finish_reason: c.finish }));
  return `${head(e, e.kind === "completion" ? "text_completion" : "chat.completion")},"choices":${JSON.stringify(items)},"usage":${JSON.stringify(u)}}`;
}

export interface ModelEntry {
  id: string;
  created: number;
}

export function encodeModel(m: ModelEntry): string {
  return JSON.stringify({ id: m.id, object: "model", created: m.created, owned_by: "tessera" });
}

export function encodeModelList(models: readonly ModelEntry[]): string {
  return `{"object":"list","data":[${models.map(encodeModel).join(",")}]}`;
}

export interface EncodedError {
  status: number;
  body: string;
}

/**
 * Any failure as OpenAI's error object, with the status of its code (HTTP_STATUS: 400 bad
 * fields, 404 unknown model, 500 the server's fault, 503 unavailable). `type` and `code` follow
 * OpenAI's: invalid_request_error for the client's errors, server_error otherwise.
 */
export function encodeError(err: unknown): EncodedError {
  const e = toServerError(err);
  const status = HTTP_STATUS[e.code];
  const param = typeof (e as { param?: unknown }).param === "string" ? (e as unknown as { param: string }).param : null;
  const type = status < 500 ? "invalid_request_error" : "server_error";
  const code = e.code === "NOT_FOUND" && param === "model" ? "model_not_found" : param !== null ? "invalid_value" : e.code.toLowerCase();
  return { status, body: JSON.stringify({ error: { message: e.message, type, param, code } }) };
}

/** A transport-level refusal (unknown path, wrong method, body too large): no core code. */
export function encodeTransportError(status: number, message: string): EncodedError {
  return { status, body: JSON.stringify({ error: { message, type: "invalid_request_error", param: null, code: null } }) };
}
