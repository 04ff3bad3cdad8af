/**
 * The text_generator's pure logic (examples/model_repository/text_generator/1/sampling.ts):
 * greedy and nucleus sampling, the seeded PRNG, the stop string, parameters and vocabulary.
 */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_MAX_TOKENS, ParameterError, Vocabulary, argmax, checkMaxTokens, generate, mulberry32, nucleus,
  parseParameters, sampleNext, softmax, type GenerateOptions,
} from "../../../examples/model_repository/text_generator/1/sampling.js";

const vocab = new Vocabulary(["\n", " ", ".", "a", "b", "c"], " ");
const ln = Math.log;

/** A toy model: after "a" mostly "b", after "b" mostly "c", after "c" mostly "."; else "a". */
const toyLogits = async (context: number[]) => {
  const last = vocab.decode(context[context.length - 1]);
  const next = { a: "b", b: "c", c: "." }[last] ?? "a";
  return vocab.chars.map((ch) => (ch === next ? ln(0.6) : ln(0.4 / (vocab.size - 1))));
};

async function collect(o: Partial<Omit<GenerateOptions, "params">> & { params: Partial<GenerateOptions["params"]> }): Promise<string[]> {
  const out: string[] = [];
  for await (const ch of generate({
    vocabulary: vocab, nextLogits: toyLogits, contextLength: 2, prompt: "", maxTokens: 20, ...o,
    params: { temperature: 1, topP: 1, stop: "", seed: 1, ...o.params },
  })) out.push(ch);
  return out;
}

describe("Vocabulary", () => {
  it("maps characters to ids and back; unknown characters read as the pad (space)", () => {
    expect(vocab.encode("ab.\n")).toEqual([3, 4, 2, 0]);
    expect(vocab.encode("aZé")).toEqual([3, 1, 1]);
    expect(vocab.encode("a😀")).toEqual([3, 1]); // one id per code point, not per UTF-16 unit
    expect(vocab.decode(5)).toBe("c");
    expect(vocab.padId).toBe(1);
  });

  it("loads vocab.json and refuses one without its pad character", () => {
    expect(Vocabulary.fromJson(JSON.stringify({ vocab: ["x", " "], pad: " " })).encode("x?")).toEqual([0, 1]);
    expect(() => Vocabulary.fromJson(JSON.stringify({ vocab: ["x"], pad: " " }))).toThrow(/pad/);
    expect(() => Vocabulary.fromJson(JSON.stringify({ vocab: "x", pad: " " }))).toThrow(/vocab\.json/);
  });
});

describe("mulberry32", () => {
  it("reproduces its sequence from a seed, in [0, 1), and differs between seeds", () => {
    const a = mulberry32(42), b = mulberry32(42), c = mulberry32(43);
    const sa = Array.from({ length: 1000 }, a), sb = Array.from({ length: 1000 }, b), sc = Array.from({ length: 1000 }, c);
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
    expect(sa.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = sa.reduce((x, y) => x + y, 0) / sa.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
  });
});

describe("sampling", () => {
  const logits = [ln(0.1), ln(0.5), ln(0.25), ln(0.15)];

  it("temperature 0 is greedy: always the argmax, never consults the PRNG", () => {
    const random = () => { throw new Error("greedy must not draw"); };
    expect(sampleNext(logits, 0, 1, random)).toBe(1);
    expect(sampleNext(logits, 0, 0.1, random)).toBe(1);
    expect(argmax([3, 7, 7, 1])).toBe(1); // ties: the lowest id
  });

  it("softmax divides by the temperature", () => {
    expect(Array.from(softmax(logits, 1)).map((p) => +p.toFixed(6))).toEqual([0.1, 0.5, 0.25, 0.15]);
    const cold = softmax(logits, 0.1);
    expect(cold[1]).toBeGreaterThan(0.99);
    const hot = softmax(logits, 100);
    expect(Math.max(...hot) - Math.min(...hot)).toBeLessThan(0.01);
  });

  it("top_p keeps the smallest nucleus whose probability reaches top_p", () => {
    const p = [0.1, 0.5, 0.25, 0.15];
    expect(nucleus(p, 0.5)).toEqual([1]);
    expect(nucleus(p, 0.51)).toEqual([1, 2]);
    expect(nucleus(p, 0.75)).toEqual([1, 2]);
    expect(nucleus(p, 0.76)).toEqual([1, 2, 3]);
    expect(nucleus(p, 0.9)).toEqual([1, 2, 3]);
    expect(nucleus(p, 0.95)).toEqual([1, 2, 3, 0]);
    expect(nucleus(p, 1)).toEqual([1, 2, 3, 0]);
    expect(nucleus(p, 0.01)).toEqual([1]); // never empty
  });

  it("draws only from the nucleus, in proportion to the renormalized probabilities", () => {
    const random = mulberry32(7);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20_000; i++) counts[sampleNext(logits, 1, 0.75, random)]++;
    expect(counts[0]).toBe(0);
    expect(counts[3]).toBe(0);
    expect(counts[1] / 20_000).toBeCloseTo(0.5 / 0.75, 1);
    expect(counts[2] / 20_000).toBeCloseTo(0.25 / 0.75, 1);
    const all = [0, 0, 0, 0];
    for (let i = 0; i < 20_000; i++) all[sampleNext(logits, 1, 1, random)]++;
    [0.1, 0.5, 0.25, 0.15].forEach((p, i) => expect(Math.abs(all[i] / 20_000 - p)).toBeLessThan(0.02));
  });
});

describe("generate", () => {
  it("greedy generation follows the argmax chain", async () => {
    expect((await collect({ prompt: "a", maxTokens: 7, params: { temperature: 0 } })).join("")).toBe("bc.abc.");
  });

  it("uses the prompt's last characters as context (unknown ones read as a space)", async () => {
    expect((await collect({ prompt: "xxb", maxTokens: 2, params: { temperature: 0 } })).join("")).toBe("c.");
    expect((await collect({ prompt: "bZ", maxTokens: 1, params: { temperature: 0 } })).join("")).toBe("a");
    expect((await collect({ prompt: "", maxTokens: 1, params: { temperature: 0 } })).join("")).toBe("a");
  });

  it("yields one character per token, at most max_tokens of them", async () => {
    const out = await collect({ maxTokens: 13, params: { seed: 3 } });
    expect(out).toHaveLength(13);
    expect(out.every((ch) => vocab.chars.includes(ch))).toBe(true);
    expect(await collect({ maxTokens: 0, params: {} })).toEqual([]);
  });

  it("a seed reproduces the output; another seed gives another", async () => {
    const a = await collect({ maxTokens: 40, params: { seed: 123 } });
    const b = await collect({ maxTokens: 40, params: { seed: 123 } });
    const c = await collect({ maxTokens: 40, params: { seed: 124 } });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it("the stop string ends generation, and is the last text yielded", async () => {
    const out = (await collect({ prompt: "a", maxTokens: 50, params: { temperature: 0, stop: "c." } })).join("");
    expect(out).toBe("bc.");
    // A stop string that spans tokens, in sampled output: ends right where it first appears.
    for (const seed of [1, 2, 3, 4, 5]) {
      const full = (await collect({ maxTokens: 50, params: { seed } })).join("");
      const stopped = (await collect({ maxTokens: 50, params: { seed, stop: "." } })).join("");
      const at = full.indexOf(".");
      expect(stopped).toBe(at === -1 ? full : full.slice(0, at + 1));
    }
    // Without a match, max_tokens still ends it.
    expect(await collect({ prompt: "a", maxTokens: 5, params: { temperature: 0, stop: "zz" } })).toHaveLength(5);
  });

  it("is lazy: asks the model only for the characters consumed", async () => {
    let calls = 0;
    const gen = generate({
      vocabulary: vocab, contextLength: 2, prompt: "", maxTokens: 100,
      nextLogits: (c) => { calls++; return toyLogits(c); },
      params: { temperature: 0, topP: 1, stop: "", seed: 1 },
    });
    for await (const ch of gen) if (ch === "c") break;
    expect(calls).toBe(3);
  });
});

describe("parameters", () => {
  const parse = (p: Record<string, string | number | boolean>) => parseParameters(p, { tokenIntervalMs: 30 });

  it("defaults: temperature 1, top_p 1, no stop, no seed, the model's token interval", () => {
    expect(parse({})).toEqual({ temperature: 1, topP: 1, stop: "", seed: undefined, tokenIntervalMs: 30 });
    expect(checkMaxTokens(undefined)).toBe(DEFAULT_MAX_TOKENS);
    expect(DEFAULT_MAX_TOKENS).toBe(64);
  });

  it("reads every parameter, numbers also as numeric strings; ignores others", () => {
    expect(parse({ temperature: 0.7, top_p: "0.9", stop: ".", seed: 42, token_interval_ms: 0, other: true }))
      .toEqual({ temperature: 0.7, topP: 0.9, stop: ".", seed: 42, tokenIntervalMs: 0 });
    expect(parse({ temperature: 0 }).temperature).toBe(0);
    expect(parse({ seed: "7" }).seed).toBe(7);
    expect(checkMaxTokens(0)).toBe(0);
    expect(checkMaxTokens(40)).toBe(40);
  });

  it("rejects bad values with a ParameterError naming the parameter", () => {
    const bad: [Record<string, string | number | boolean>, RegExp][] = [
      [{ temperature: -0.1 }, /'temperature' must be >= 0/],
      [{ temperature: "hot" }, /'temperature' must be a number/],
      [{ temperature: true }, /'temperature' must be a number/],
      [{ top_p: 0 }, /'top_p' must be in \(0, 1\]/],
      [{ top_p: 1.5 }, /'top_p' must be in \(0, 1\]/],
      [{ top_p: -1 }, /'top_p'/],
      [{ stop: 3 }, /'stop' must be a string/],
      [{ seed: 1.5 }, /'seed' must be a non-negative integer/],
      [{ seed: -1 }, /'seed'/],
      [{ token_interval_ms: -5 }, /'token_interval_ms'/],
      [{ token_interval_ms: 1e9 }, /'token_interval_ms'/],
    ];
    for (const [p, message] of bad) {
      expect(() => parse(p)).toThrow(ParameterError);
      expect(() => parse(p)).toThrow(message);
    }
    expect(() => checkMaxTokens(-1)).toThrow(/'max_tokens'/);
    expect(() => checkMaxTokens(1e6)).toThrow(/'max_tokens'/);
  });
});
