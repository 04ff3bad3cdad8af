/**
 * examples/embedding/build.js: the generated text encoder is the same bytes on every build, and
 * its graph pools over the attention mask only and answers unit rows, one per text.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ort from "onnxruntime-node";
// @ts-expect-error: a plain JS build script, no declarations
import * as builder from "../../../examples/embedding/build.js";

const { build, encodeModel, DIM } = builder as Record<string, any>;

let dir: string;
let session: ort.InferenceSession;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tessera-embedding-build-"));
  const r = await build(dir);
  expect(r.modelPath).toBe(join(dir, "text_encoder", "1", "model.onnx"));
  session = await ort.InferenceSession.create(r.modelPath, { intraOpNumThreads: 1 });
}, 60_000);

afterAll(async () => {
  await session?.release();
  rmSync(dir, { recursive: true, force: true });
});

async function embed(ids: number[][], mask: number[][]): Promise<Float32Array[]> {
  const n = ids.length;
  const L = ids[0].length;
  const t = (rows: number[][]) => new ort.Tensor("int64", BigInt64Array.from(rows.flat().map(BigInt)), [n, L]);
  const out = (await session.run({ input_ids: t(ids), attention_mask: t(mask) })).output__0;
  expect(out.dims).toEqual([n, DIM]);
  const data = out.data as Float32Array;
  return ids.map((_, i) => data.slice(i * DIM, (i + 1) * DIM));
}

const cosine = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

describe("the generated text encoder", () => {
  it("is the same bytes on every build", () => {
    const again = createHash("sha256").update(encodeModel()).digest("hex");
    expect(createHash("sha256").update(readFileSync(join(dir, "text_encoder", "1", "model.onnx"))).digest("hex")).toBe(again);
  });

  it("answers unit rows, ignores what the mask leaves out, and sees the tokens it keeps", async () => {
    const [a, padded, other, empty] = await embed(
      [[10, 20, 30, 0, 0], [10, 20, 30, 99, 98], [40, 50, 60, 0, 0], [151643, 0, 0, 0, 0]],
      [[1, 1, 1, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]],
    );
    for (const row of [a, padded, other, empty]) expect(Math.hypot(...row)).toBeCloseTo(1, 5);
    for (let c = 0; c < DIM; c++) expect(padded[c]).toBeCloseTo(a[c], 6);
    expect(cosine(a, other)).toBeLessThan(0.9);
  });

  it("gives texts that share tokens closer vectors than texts that share none", async () => {
    const [base, overlap, disjoint] = await embed(
      [[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 70, 80], [11, 12, 13, 14, 15, 16]],
      [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]],
    );
    expect(cosine(base, overlap)).toBeGreaterThan(cosine(base, disjoint));
  });
});
