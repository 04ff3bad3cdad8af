/**
 * The OpenAI-compatible front end: GET /v1/models[/{model}], POST /v1/completions and
 * /v1/chat/completions, over ServerApi and nothing else (docs/openai.md). Served on its own port
 * (--openai-port) or mounted on the HTTP port (--openai-on-http): `handles(url)` says which
 * requests are its. Errors are OpenAI's error object (encode.ts), with the status of their code.
 */
import { drained } from "../http/drained.js";
import * as http from "node:http";
import type { ServerApi } from "../core/server-api.js";
import type { ModelMetadata } from "../core/types.js";
import { clientClosedConnection, openaiModelNotFound, toServerError } from "../errors/index.js";
import { BodyTooLargeError, ClientGoneError, parseJsonObject, readBody } from "../http/body.js";
import { ChatTemplates, type ModelFiles } from "./chat-template.js";
import { conventionMisfit } from "./convention.js";
import {
  DONE_EVENT, encodeChunk, encodeCompletion, encodeError, encodeModel, encodeModelList, encodeTransportError,
  encodeUsageChunk, sseEvent, usage, type EncodedError, type Envelope, type ModelEntry,
} from "./encode.js";
import { Choice, type ChoiceResult } from "./generation.js";
import { decodeChatRequest, decodeCompletionRequest, type ChatRequest, type CompletionRequest } from "./request.js";

export interface OpenAIOptions {
  /** Largest request body accepted, in bytes (--http-max-input-size). */
  maxInputSize: number;
  /** A model's folder and loaded version, for its tokenizer_config.json; undefined when it has none. */
  modelFiles?: (model: string) => ModelFiles | undefined;
  log?: (line: string) => void;
}

const PREFIX = "/v1/";
const JSON_TYPE = "application/json";
const SSE_HEADERS = { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache" };

type Route =
  | { kind: "models" }
  | { kind: "model"; model: string }
  | { kind: "completions" }
  | { kind: "chat" };

/** An http.Server serving only the OpenAI API; the caller listens and closes it. */
export function createOpenAIServer(api: ServerApi, options: OpenAIOptions): http.Server {
  const front = new OpenAIFrontEnd(api, options);
  return http.createServer((req, res) => front.handle(req, res));
}

export class OpenAIFrontEnd {
  readonly #api: ServerApi;
  readonly #options: OpenAIOptions;
  readonly #templates = new ChatTemplates();
  /** Models are listed as created when the server started (Triton's frontend does the same). */
  readonly #created = Math.floor(Date.now() / 1000);

  constructor(api: ServerApi, options: OpenAIOptions) {
    if (!(options.maxInputSize > 0)) throw new RangeError("maxInputSize must be positive");
    this.#api = api;
    this.#options = options;
  }

  /** The paths this front end answers when it shares a port: everything under /v1/. */
  static handles(url: string | undefined): boolean {
    return url !== undefined && url.startsWith(PREFIX);
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? "").split("?")[0]!;
    const route = parseRoute(path);
    if (route === null) {
      send(res, encodeTransportError(404, `Invalid URL (${req.method} ${path})`));
      return;
    }
    const allow = route.kind === "models" || route.kind === "model" ? "GET" : "POST";
    if (req.method !== allow) {
      res.setHeader("Allow", allow);
      send(res, encodeTransportError(405, `Method ${req.method} is not allowed for ${path}; use ${allow}`));
      return;
    }
    try {
      switch (route.kind) {
        case "models":
          send(res, { status: 200, body: encodeModelList(this.#listModels()) });
          return;
        case "model":
          this.#metadata(route.model);
          send(res, { status: 200, body: encodeModel({ id: route.model, created: this.#created }) });
          return;
        default:
          void this.#generate(req, res, route.kind);
      }
    } catch (err) {
      send(res, encodeError(err));
    }
  }

  /** The ready models that follow the text-generation convention. */
  #listModels(): ModelEntry[] {
    const names = new Set(this.#api.repositoryIndex({ ready: true }).map((e) => e.name));
    const out: ModelEntry[] = [];
    for (const name of [...names].sort()) {
      try {
        if (conventionMisfit(this.#api.modelMetadata(name)) === null) out.push({ id: name, created: this.#created });
      } catch {
        // Unloaded between the index and the lookup: not listed.
      }
    }
    return out;
  }

  /** The metadata of a ready model that fits the convention; 404 (model_not_found) otherwise. */
  #metadata(model: string): ModelMetadata {
    let metadata: ModelMetadata;
    try {
      if (!this.#api.modelReady(model)) throw openaiModelNotFound(model, "it is not loaded and ready");
      metadata = this.#api.modelMetadata(model);
    } catch (err) {
      const e = toServerError(err);
      throw e.code === "NOT_FOUND" && "param" in e ? e : openaiModelNotFound(model, e.message);
    }
    const misfit = conventionMisfit(metadata);
    if (misfit !== null) throw openaiModelNotFound(model, `it does not follow the text-generation convention: ${misfit}`);
    return metadata;
  }

  async #generate(req: http.IncomingMessage, res: http.ServerResponse, kind: "completions" | "chat"): Promise<void> {
    const choices: Choice[] = [];
    let gone = false;
    res.once("close", () => {
      if (res.writableFinished) return;
      gone = true;
      const reason = clientClosedConnection();
      for (const c of choices) c.cancel(reason);
    });
    let request: CompletionRequest | ChatRequest;
    let envelope: Envelope;
    let prompts: string[];
    try {
      const body = parseJsonObject(await readBody(req, this.#options.maxInputSize));
      request = kind === "chat" ? decodeChatRequest(body) : decodeCompletionRequest(body);
      const metadata = this.#metadata(request.model);
      prompts = request.kind === "chat" ? [this.#chatPrompt(request)] : request.prompts;
      const requestId = headerText(req.headers["x-request-id"]);
      for (const prompt of prompts) {
        choices.push(new Choice(this.#api, {
          model: request.model, metadata, prompt, sampling: request.sampling, stream: request.stream, requestId,
        }));
      }
      envelope = { id: newId(request.kind), created: Math.floor(Date.now() / 1000), model: request.model, kind: request.kind };
    } catch (err) {
      for (const c of choices) c.cancel(toServerError(err));
      if (err instanceof ClientGoneError || gone) return;
      if (err instanceof BodyTooLargeError) {
        res.setHeader("Connection", "close");
        send(res, encodeTransportError(413, err.message));
        return;
      }
      send(res, encodeError(err));
      return;
    }
    if (gone) {
      for (const c of choices) c.cancel(clientClosedConnection());
      return;
    }
    const echo = request.kind === "completion" && request.echo;
    if (request.stream) await this.#stream(res, envelope, choices, echo ? prompts : null, request.includeUsage);
    else await this.#collect(res, envelope, choices, echo ? prompts : null);
  }

  #chatPrompt(request: ChatRequest): string {
    const configParameters = () => this.#api.modelConfig(request.model).parameters;
    return this.#templates.render(request.model, request.messages, configParameters, this.#options.modelFiles?.(request.model));
  }

  /** Non-streaming: every choice collected, then one completion. */
  async #collect(res: http.ServerResponse, e: Envelope, choices: Choice[], echo: string[] | null): Promise<void> {
    let results: ChoiceResult[];
    try {
      results = await all(choices, () => undefined);
    } catch (err) {
      if (!res.destroyed) send(res, encodeError(err));
      return;
    }
    if (res.destroyed) return;
    const texts = results.map((r, i) => ({ text: (echo?.[i] ?? "") + r.text, finish: r.finish }));
    send(res, { status: 200, body: encodeCompletion(e, texts, total(results)) });
  }

  /**
   * Streaming: each piece of text is a chunk as it arrives; each choice's last chunk carries its
   * finish reason; then the usage chunk (stream_options.include_usage) and [DONE]. The status
   * line waits for the first chunk, so a request that fails before any text gets its status;
   * a later failure is an error event, then [DONE].
   */
  async #stream(res: http.ServerResponse, e: Envelope, choices: Choice[], echo: string[] | null, includeUsage: boolean): Promise<void> {
    const started = new Set<number>();
    const write = (data: string): void | Promise<void> => {
      if (res.destroyed) return;
      if (!res.headersSent) res.writeHead(200, SSE_HEADERS);
      if (!res.write(data)) return drained(res);
    };
    const chunk = (index: number, text: string, finish: ChoiceResult["finish"] | null) => {
      const first = !started.has(index);
      started.add(index);
      return write(sseEvent(encodeChunk(e, index, text, finish, first)));
    };
    let results: ChoiceResult[];
    try {
      if (echo) for (let i = 0; i < echo.length; i++) if (echo[i] !== "") await chunk(i, echo[i]!, null);
      results = await all(choices, (index, text) => chunk(index, text, null), (index, r) => chunk(index, "", r.finish));
    } catch (err) {
      if (res.destroyed) return;
      if (!res.headersSent) {
        send(res, encodeError(err));
        return;
      }
      await write(sseEvent(encodeError(err).body));
      if (!res.destroyed) res.end(DONE_EVENT);
      return;
    }
    if (res.destroyed) return;
    if (includeUsage) await write(sseEvent(encodeUsageChunk(e, total(results))));
    if (!res.headersSent) res.writeHead(200, SSE_HEADERS);
    if (!res.destroyed) res.end(DONE_EVENT);
  }
}

/**
 * Runs every choice at once; the first failure cancels the others and rejects. `onText` and
 * `onEnd` see each choice's pieces and its result, by index.
 */
async function all(
  choices: readonly Choice[],
  onText: (index: number, text: string) => void | Promise<void>,
  onEnd?: (index: number, result: ChoiceResult) => void | Promise<void>,
): Promise<ChoiceResult[]> {
  try {
    return await Promise.all(choices.map(async (c, i) => {
      const r = await c.run((text) => onText(i, text));
      await onEnd?.(i, r);
      return r;
    }));
  } catch (err) {
    const reason = toServerError(err);
    for (const c of choices) c.cancel(reason);
    throw err;
  }
}

function total(results: readonly ChoiceResult[]) {
  let prompt = 0;
  let completion = 0;
  for (const r of results) {
    prompt += r.promptTokens;
    completion += r.completionTokens;
  }
  return usage(prompt, completion);
}

function parseRoute(path: string): Route | null {
  switch (path) {
    case "/v1/models": return { kind: "models" };
    case "/v1/completions": return { kind: "completions" };
    case "/v1/chat/completions": return { kind: "chat" };
  }
  if (!path.startsWith("/v1/models/")) return null;
  const rest = path.slice("/v1/models/".length);
  if (rest === "") return null;
  try {
    return { kind: "model", model: decodeURIComponent(rest) };
  } catch {
    return null;
  }
}

let counter = 0;

/** `cmpl-<hex>` / `chatcmpl-<hex>`: unique within the process, as OpenAI's ids look. */
function newId(kind: "completion" | "chat"): string {
  counter = (counter + 1) >>> 0;
  const id = `${Date.now().toString(16)}${process.pid.toString(16)}${counter.toString(16).padStart(8, "0")}`;
  return `${kind === "chat" ? "chatcmpl" : "cmpl"}-${id}`;
}

function headerText(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value) ?? "";
}

function send(res: http.ServerResponse, { status, body }: EncodedError): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { "Content-Type": JSON_TYPE, "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

