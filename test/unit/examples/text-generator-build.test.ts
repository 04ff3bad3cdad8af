/**
 * examples/text_generation/build.js: the text_generator model is trained and exported
 * deterministically, and the ONNX graph serves exactly the JS log-probability table.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ort from "onnxruntime-node";
// @ts-expect-error: a plain JS build script, no declarations
import * as builder from "../../../examples/text_generation/build.js";

const { build, encodeModel, readCorpus, train, verify, CONTEXT, INPUT, OUTPUT } = builder as Record<string, any>;

let dirs: string[] = [];
let first: { modelPath: string; vocabPath: string; modelBytes: number; vocabSize: number };
let trained: { vocab: string[]; pad: number; logits: Float32Array };

const tempRepo = () => {
  const d = mkdtempSync(join(tmpdir(), "tessera-textgen-"));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  first = await build(tempRepo());
  trained = train(readCorpus());
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

describe("text_generator build", () => {
  it("writes model.onnx and vocab.json under text_generator/1, a small model", () => {
    expect(first.modelPath).toMatch(/text_generator[/\\]1[/\\]model\.onnx$/);
    expect(statSync(first.modelPath).size).toBe(first.modelBytes);
    expect(first.modelBytes).toBeLessThan(5_000_000);
    const vocab = JSON.parse(readFileSync(first.vocabPath, "utf8"));
    expect(vocab).toEqual({ vocab: trained.vocab, pad: " ", context: 2, input: "context", output: "logits" });
    expect(first.vocabSize).toBe(trained.vocab.length);
    // The corpus' characters, sorted, each once, with the newline and letters of both cases.
    expect([...trained.vocab].sort()).toEqual(trained.vocab);
    expect(new Set(trained.vocab).size).toBe(trained.vocab.length);
    expect(trained.vocab).toEqual(expect.arrayContaining(["\n", " ", "a", "S", "."]));
  });

  it("is deterministic: a second build writes the same bytes", async () => {
    const second = await build(tempRepo());
    expect(Buffer.compare(readFileSync(second.modelPath), readFileSync(first.modelPath))).toBe(0);
    expect(readFileSync(second.vocabPath, "utf8")).toBe(readFileSync(first.vocabPath, "utf8"));
  });

  it("keeps the credits paragraph out of the training text", () => {
    const corpus = readCorpus();
    expect(corpus).not.toContain("public domain");
    expect(corpus.startsWith("I\nFrom fairest creatures")).toBe(true);
  });

  it("bakes in a smoothed distribution: every row sums to 1 and no character is impossible", () => {
    const V = trained.vocab.length;
    let worst = 0;
    let impossible = 0;
    for (let row = 0; row < V * V; row++) {
      let sum = 0;
      for (let c = 0; c < V; c++) {
        const l = trained.logits[row * V + c];
        if (!Number.isFinite(l)) impossible++;
        sum += Math.exp(l);
      }
      worst = Math.max(worst, Math.abs(sum - 1));
    }
    expect(impossible).toBe(0);
    expect(worst).toBeLessThan(1e-4);
  });

  it("has learned the corpus: after 'th' comes 'e', after 'Shal' comes 'l'", () => {
    const V = trained.vocab.length;
    const id = (ch: string) => trained.vocab.indexOf(ch);
    const best = (a: string, b: string) => {
      const row = trained.logits.subarray((id(a) * V + id(b)) * V, (id(a) * V + id(b) + 1) * V);
      return trained.vocab[row.indexOf(Math.max(...row))];
    };
    expect(best("t", "h")).toBe("e");
    expect(best("a", "l")).toBe("l");
  });

  it("serves exactly the JS table through onnxruntime-node, for every context, batched", async () => {
    const V = trained.vocab.length;
    const session = await ort.InferenceSession.create(first.modelPath);
    try {
      expect(session.inputNames).toEqual([INPUT]);
      expect(session.outputNames).toEqual([OUTPUT]);
      const context = new BigInt64Array(V * V * CONTEXT);
      for (let i = 0; i < V * V; i++) {
        context[2 * i] = BigInt(Math.floor(i / V));
        context[2 * i + 1] = BigInt(i % V);
      }
      const out = await session.run({ [INPUT]: new ort.Tensor("int64", context, [V * V, CONTEXT]) });
      expect(out[OUTPUT].dims).toEqual([V * V, V]);
      expect(Buffer.compare(Buffer.from((out[OUTPUT].data as Float32Array).buffer, 0, V * V * V * 4),
        Buffer.from(trained.logits.buffer))).toBe(0);
      // One context at a time, as the handler asks: row (a, b) of the table.
      const [a, b] = [trained.vocab.indexOf("t"), trained.vocab.indexOf("h")];
      const one = await session.run({ [INPUT]: new ort.Tensor("int64", BigInt64Array.from([BigInt(a), BigInt(b)]), [1, 2]) });
      expect(Array.from(one[OUTPUT].data as Float32Array)).toEqual(Array.from(trained.logits.subarray((a * V + b) * V, (a * V + b + 1) * V)));
    } finally {
      await session.release();
    }
  });

  it("verify() rejects a model whose logits differ from the table", async () => {
    const other = { ...trained, logits: trained.logits.slice() };
    other.logits[12345] += 0.5;
    await expect(verify(first.modelPath, other)).rejects.toThrow(/logit 12345/);
    const dir = tempRepo();
    const path = join(dir, "m.onnx");
    (await import("node:fs")).writeFileSync(path, encodeModel(other));
    await expect(verify(path, other)).resolves.toBeUndefined();
  });
});
