/**
 * The text generator's pure logic: vocabulary, request parameters, a seeded PRNG, temperature and
 * top-p (nucleus) sampling, and the generation loop. No I/O and no "tessera" import, so unit tests
 * run it directly; model.ts wires it to the ONNX session and the response sender.
 */

export type ParamValue = string | number | boolean;

/** A request's bad input; model.ts answers it with an INVALID_ARG error response. */
export class ParameterError extends Error {}

/** Characters ⇄ ids, as the build wrote them to vocab.json. */
export class Vocabulary {
  readonly chars: readonly string[];
  readonly padId: number;
  readonly #ids: Map<string, number>;

  constructor(chars: readonly string[], pad: string) {
    this.chars = chars;
    this.#ids = new Map(chars.map((ch, i) => [ch, i]));
    const padId = this.#ids.get(pad);
    if (padId === undefined) throw new Error(`the vocabulary has no pad character ${JSON.stringify(pad)}`);
    this.padId = padId;
  }

  /** vocab.json's contents. */
  static fromJson(text: string): Vocabulary {
    const v = JSON.parse(text) as { vocab?: unknown; pad?: unknown };
    if (!Array.isArray(v.vocab) || v.vocab.some((c) => typeof c !== "string") || typeof v.pad !== "string") {
      throw new Error("vocab.json must hold {\"vocab\": [characters], \"pad\": character}");
    }
    return new Vocabulary(v.vocab as string[], v.pad);
  }

  get size(): number {
    return this.chars.length;
  }

  /** One id per character (code point); a character outside the vocabulary reads as the pad (a space). */
  encode(text: string): number[] {
    return Array.from(text, (ch) => this.#ids.get(ch) ?? this.padId);
  }

  decode(id: number): string {
    return this.chars[id];
  }
}

/** mulberry32: a small, fast 32-bit PRNG; the same seed gives the same sequence in [0, 1). */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GenerationParameters {
  /** 0 = greedy (argmax); higher flattens the distribution. */
  temperature: number;
  /** Nucleus sampling: draw only from the smallest set of characters whose probability reaches top_p. */
  topP: number;
  /** Generation ends once the output ends with this string ("" = no stop string). */
  stop: string;
  /** The PRNG's seed; undefined = a fresh random one per request. */
  seed: number | undefined;
  /** Pause between two tokens, so a streaming client sees them arrive one by one. */
  tokenIntervalMs: number;
}

export const DEFAULT_MAX_TOKENS = 64;
export const MAX_MAX_TOKENS = 4096;
export const MAX_TOKEN_INTERVAL_MS = 10_000;

// Request parameters arrive typed (JSON numbers as numbers), but a client may send "0.7" as a string.
function numberParam(params: Record<string, ParamValue>, key: string, fallback: number): number {
  const v = params[key];
  if (v === undefined) return fallback;
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new ParameterError(`parameter '${key}' must be a number, got ${JSON.stringify(v)}`);
  return n;
}

/** Reads and checks the request parameters; throws ParameterError naming the bad one. */
export function parseParameters(params: Record<string, ParamValue>, defaults: { tokenIntervalMs: number }): GenerationParameters {
  const temperature = numberParam(params, "temperature", 1);
  if (temperature < 0) throw new ParameterError(`parameter 'temperature' must be >= 0, got ${temperature}`);
  const topP = numberParam(params, "top_p", 1);
  if (!(topP > 0 && topP <= 1)) throw new ParameterError(`parameter 'top_p' must be in (0, 1], got ${topP}`);
  const stop = params.stop ?? "";
  if (typeof stop !== "string") throw new ParameterError(`parameter 'stop' must be a string, got ${JSON.stringify(stop)}`);
  let seed: number | undefined;
  if (params.seed !== undefined) {
    seed = numberParam(params, "seed", 0);
    if (!Number.isSafeInteger(seed) || seed < 0) throw new ParameterError(`parameter 'seed' must be a non-negative integer, got ${JSON.stringify(params.seed)}`);
  }
  const tokenIntervalMs = numberParam(params, "token_interval_ms", defaults.tokenIntervalMs);
  if (tokenIntervalMs < 0 || tokenIntervalMs > MAX_TOKEN_INTERVAL_MS) {
    throw new ParameterError(`parameter 'token_interval_ms' must be in [0, ${MAX_TOKEN_INTERVAL_MS}], got ${tokenIntervalMs}`);
  }
  return { temperature, topP, stop, seed, tokenIntervalMs };
}

/** The max_tokens input's value (undefined when the request leaves it out). */
export function checkMaxTokens(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_TOKENS;
  if (!Number.isInteger(value) || value < 0 || value > MAX_MAX_TOKENS) {
    throw new ParameterError(`input 'max_tokens' must be an integer in [0, ${MAX_MAX_TOKENS}], got ${value}`);
  }
  return value;
}

/** softmax(logits / temperature), in float64; temperature > 0. */
export function softmax(logits: ArrayLike<number>, temperature: number): Float64Array {
  const p = new Float64Array(logits.length);
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] / temperature);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += p[i] = Math.exp(logits[i] / temperature - max);
  for (let i = 0; i < p.length; i++) p[i] /= sum;
  return p;
}

/**
 * The nucleus: the smallest set of ids, most probable first (ties: lower id first), whose
 * probabilities sum to at least topP. Always holds at least the most probable id.
 */
export function nucleus(probs: ArrayLike<number>, topP: number): number[] {
  const order = Array.from({ length: probs.length }, (_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
  if (topP >= 1) return order;
  const kept: number[] = [];
  let cumulative = 0;
  for (const id of order) {
    kept.push(id);
    cumulative += probs[id];
    if (cumulative >= topP) break;
  }
  return kept;
}

/** The id of the largest logit (the lowest such id on a tie). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** Picks the next id: greedy at temperature 0, else a draw from the top-p nucleus with `random`. */
export function sampleNext(logits: ArrayLike<number>, temperature: number, topP: number, random: () => number): number {
  if (temperature === 0) return argmax(logits);
  const probs = softmax(logits, temperature);
  const kept = nucleus(probs, topP);
  let total = 0;
  for (const id of kept) total += probs[id];
  let r = random() * total;
  for (const id of kept) {
    r -= probs[id];
    if (r < 0) return id;
  }
  return kept[kept.length - 1]; // r landed on the rounding error past the last one
}

export interface GenerateOptions {
  vocabulary: Vocabulary;
  /** The model: next-character logits (one per vocabulary id) for the last `context` ids. */
  nextLogits: (context: number[]) => Promise<ArrayLike<number>>;
  /** How many ids of context nextLogits takes. */
  contextLength: number;
  prompt: string;
  maxTokens: number;
  params: Pick<GenerationParameters, "temperature" | "topP" | "stop" | "seed">;
}

/**
 * Yields the generated text one character at a time: at most maxTokens characters, ending early
 * once the output ends with the stop string (which is the last text yielded). Lazy: each character
 * is computed when the consumer asks for it, so a consumer that stops asking stops the work.
 */
export async function* generate(o: GenerateOptions): AsyncGenerator<string> {
  const { vocabulary, contextLength, params } = o;
  const random = mulberry32(params.seed ?? Math.floor(Math.random() * 2 ** 32));
  const context = [...Array<number>(contextLength).fill(vocabulary.padId), ...vocabulary.encode(o.prompt)].slice(-contextLength);
  let output = "";
  for (let i = 0; i < o.maxTokens; i++) {
    const id = sampleNext(await o.nextLogits(context), params.temperature, params.topP, random);
    const ch = vocabulary.decode(id);
    yield ch;
    output += ch;
    if (params.stop !== "" && output.endsWith(params.stop)) return;
    context.push(id);
    context.shift();
  }
}
