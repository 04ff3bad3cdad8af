/**
 * One choice of an OpenAI request: one core request through ServerApi.inferStream (the same
 * pipeline, statistics and metrics as any inference), its responses turned into text as they
 * arrive, stop sequences applied, usage counted. A choice ends at the model's final response, at
 * a stop sequence (the request is then cancelled in the stub unless the model was given the stop
 * sequence itself and ends on its own), or when the client goes away (its signal).
 */
import { Cancellation } from "../core/cancellation.js";
import type { ResponseStream } from "../core/response-stream.js";
import type { ServerApi } from "../core/server-api.js";
import type { ModelMetadata } from "../core/types.js";
import { requestCancelled, toServerError } from "../errors/index.js";
import { approximateTokens, modelRequestParts, responseParts } from "./convention.js";
import type { FinishReason } from "./encode.js";
import type { Sampling } from "./request.js";
import { StopMatcher } from "./stop.js";

export interface ChoiceResult {
  /** The completion's text (stop sequence left out). */
  text: string;
  finish: FinishReason;
  promptTokens: number;
  completionTokens: number;
}

export interface ChoiceSpec {
  model: string;
  metadata: ModelMetadata;
  prompt: string;
  sampling: Sampling;
  stream: boolean;
  /** The client's request id header (x-request-id), passed on as the core request's id. */
  requestId: string;
}

/**
 * A started choice: `run(onText)` consumes its responses (onText gets each piece of new text as
 * it is released; its promise is awaited, for backpressure) and settles with the result, or
 * rejects with the first error (a ServerError). `cancel()` ends it from outside.
 */
export class Choice {
  readonly #spec: ChoiceSpec;
  readonly #controller = new Cancellation();
  readonly #results: ResponseStream;
  readonly #stopForwarded: boolean;

  /** Throws (a ServerError) when the request fails before it is scheduled. */
  constructor(api: ServerApi, spec: ChoiceSpec) {
    this.#spec = spec;
    const parts = modelRequestParts(spec.metadata, spec.prompt, spec.sampling, spec.stream);
    this.#stopForwarded = parts.stopForwarded;
    this.#results = api.inferStream({
      model: spec.model, id: spec.requestId, inputs: parts.inputs, parameters: parts.parameters, signal: this.#controller,
    });
  }

  /** Cancels the request in the stub (client gone, or a sibling choice failed) and drops what comes. */
  cancel(reason: unknown): void {
    this.#controller.abort(reason);
    this.#results.close();
  }

  async run(onText: (text: string) => void | Promise<void>): Promise<ChoiceResult> {
    const spec = this.#spec;
    const decoder = new TextDecoder("utf-8");
    const stop = new StopMatcher(spec.sampling.stop);
    let text = "";
    let textResponses = 0;
    let promptTokens: number | undefined;
    let completionTokens: number | undefined;
    let reported: FinishReason | undefined;
    const emit = async (piece: string) => {
      if (piece === "") return;
      text += piece;
      await onText(piece);
    };
    try {
      for await (const item of this.#results) {
        if (item.error) throw item.error;
        if (!item.response) continue;
        let parts;
        try {
          parts = responseParts(item.response);
        } finally {
          item.response.release();
        }
        // Triton's convention: the prompt count arrives with every response; outputs add up.
        if (parts.promptTokens !== undefined) promptTokens ??= parts.promptTokens;
        if (parts.completionTokens !== undefined) completionTokens = (completionTokens ?? 0) + parts.completionTokens;
        if (parts.finishReason !== undefined) reported = parts.finishReason;
        let piece = "";
        for (const bytes of parts.bytes) piece += decoder.decode(bytes, { stream: true });
        if (piece === "") continue;
        textResponses++;
        const released = stop.push(piece);
        await emit(released.text);
        if (released.stopped) {
          // The model was told the stop sequence: it ends by itself, and its request completes
          // (counted a success). Otherwise it would go on generating what nobody reads.
          if (this.#stopForwarded) this.#results.close();
          else this.cancel(requestCancelled(spec.model));
          break;
        }
      }
      if (!stop.stopped) await emit(stop.push(decoder.decode()).text + stop.flush());
    } catch (err) {
      this.cancel(requestCancelled(spec.model));
      throw toServerError(err);
    }
    const completion = completionTokens ?? approximateTokens(text, textResponses);
    const maxTokens = spec.sampling.maxTokens;
    const finish: FinishReason = stop.stopped
      ? "stop"
      : reported ?? (maxTokens !== undefined && completion >= maxTokens ? "length" : "stop");
    return { text, finish, promptTokens: promptTokens ?? approximateTokens(spec.prompt), completionTokens: completion };
  }
}
