import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  InferenceResponse, Logger, Tensor, TritonError, createSession, getInputTensorByName,
  TRITONSERVER_RESPONSE_COMPLETE_FINAL,
  type InferenceRequest, type ModelArgs, type ResponseSender, type TritonModel,
} from "tessera";
import {
  ParameterError, Vocabulary, checkMaxTokens, generate, parseParameters, type GenerationParameters,
} from "./sampling.js";

type Session = Awaited<ReturnType<typeof createSession>>;

interface Job {
  prompt: string;
  maxTokens: number;
  params: GenerationParameters;
}

const DEFAULT_TOKEN_INTERVAL_MS = 30;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A decoupled model: streams generated text one character per response, the way an LLM streams
 * tokens. The language model is a character trigram table in ONNX (built from
 * examples/text_generation/corpus.txt by examples/text_generation/build.js).
 *
 * execute() returns at once; each request runs in its own async loop, so this instance takes the
 * next execute() call while earlier requests are still streaming (Triton's decoupled style).
 */
export default class TextGenerator implements TritonModel {
  #session: Session | null = null;
  #vocabulary: Vocabulary | null = null;
  #contextLength = 2;
  #input = "context";
  #output = "logits";
  #tokenIntervalMs = DEFAULT_TOKEN_INTERVAL_MS;
  readonly #running = new Set<Promise<void>>();
  #closing = false;

  async initialize(args: ModelArgs): Promise<void> {
    const dir = join(args.model_repository, args.model_version);
    const vocabText = readFileSync(join(dir, "vocab.json"), "utf8");
    this.#vocabulary = Vocabulary.fromJson(vocabText);
    const meta = JSON.parse(vocabText) as { context?: number; input?: string; output?: string };
    this.#contextLength = meta.context ?? this.#contextLength;
    this.#input = meta.input ?? this.#input;
    this.#output = meta.output ?? this.#output;

    const config = JSON.parse(args.model_config) as { parameters?: Record<string, { string_value?: string }> };
    const interval = config.parameters?.token_interval_ms?.string_value;
    if (interval !== undefined) {
      this.#tokenIntervalMs = parseParameters({ token_interval_ms: interval }, { tokenIntervalMs: DEFAULT_TOKEN_INTERVAL_MS }).tokenIntervalMs;
    }
    this.#session = await createSession(args, join(dir, "model.onnx"), { intraOpNumThreads: 1 });
    Logger.logInfo(`text_generator: ${this.#vocabulary.size} characters, ${this.#tokenIntervalMs} ms between tokens`);
  }

  execute(requests: InferenceRequest[]): undefined {
    for (const request of requests) {
      const sender = request.getResponseSender();
      let job: Job;
      try {
        // Read the inputs up front: the loop below needs only the prompt and the settings.
        job = this.#readJob(request);
      } catch (err) {
        const error = err instanceof ParameterError
          ? new TritonError(err.message, TritonError.INVALID_ARG)
          : new TritonError(String((err as Error)?.message ?? err), TritonError.INTERNAL);
        sender.send(new InferenceResponse({ error }));
        sender.send(undefined, TRITONSERVER_RESPONSE_COMPLETE_FINAL);
        continue;
      }
      const loop = this.#stream(request, sender, job).finally(() => this.#running.delete(loop));
      this.#running.add(loop);
    }
    return undefined;
  }

  async finalize(): Promise<void> {
    this.#closing = true; // running loops end at their next token
    await Promise.allSettled([...this.#running]);
    await this.#session?.release();
    this.#session = null;
  }

  #readJob(request: InferenceRequest): Job {
    const text = getInputTensorByName(request, "text_input");
    const element = (text?.data as Uint8Array[] | undefined)?.[0];
    if (!element) throw new ParameterError("input 'text_input' is required (one string)");
    const prompt = new TextDecoder().decode(element);
    const maxTokensInput = getInputTensorByName(request, "max_tokens");
    const maxTokens = checkMaxTokens(maxTokensInput && maxTokensInput.data.length > 0 ? Number(maxTokensInput.data[0]) : undefined);
    const params = parseParameters(request.parameters(), { tokenIntervalMs: this.#tokenIntervalMs });
    return { prompt, maxTokens, params };
  }

  async #stream(request: InferenceRequest, sender: ResponseSender, job: Job): Promise<void> {
    try {
      const tokens = generate({
        vocabulary: this.#vocabulary!,
        nextLogits: (context) => this.#nextLogits(context),
        contextLength: this.#contextLength,
        prompt: job.prompt,
        maxTokens: job.maxTokens,
        params: job.params,
      });
      let first = true;
      for await (const ch of tokens) {
        if (!first && job.params.tokenIntervalMs > 0) await sleep(job.params.tokenIntervalMs);
        first = false;
        // A cancelled request (client gone, or cancelled) stops quietly: no more tokens, then FINAL.
        if (request.isCancelled()) break;
        if (this.#closing) {
          sender.send(new InferenceResponse({ error: new TritonError("the model is unloading", TritonError.UNAVAILABLE) }));
          break;
        }
        sender.send(new InferenceResponse({ outputTensors: [new Tensor("text_output", [ch], [1], "BYTES")] }));
      }
    } catch (err) {
      Logger.logError(`text_generator: generation failed: ${(err as Error)?.stack ?? err}`);
      sender.send(new InferenceResponse({ error: new TritonError(`generation failed: ${(err as Error)?.message ?? err}`, TritonError.INTERNAL) }));
    }
    sender.send(undefined, TRITONSERVER_RESPONSE_COMPLETE_FINAL);
  }

  async #nextLogits(context: number[]): Promise<Float32Array> {
    if (!this.#session) throw new Error("the ONNX session is closed");
    const input = new Tensor(this.#input, BigInt64Array.from(context, BigInt), [1, context.length]);
    const out = await this.#session.run({ [this.#input]: input.toOrt() });
    return out[this.#output].data as Float32Array;
  }
}
