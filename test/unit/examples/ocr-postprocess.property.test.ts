/**
 * The OCR example's pieces that read untrusted or model-made data: the image decoder (PNG/JPEG
 * bytes from clients) and DB post-processing (the detector's probability map). Seeded, bounded
 * fast-check properties (FUZZ_SEED / FUZZ_SCALE as elsewhere).
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { dbBoxes } from "../../../examples/model_repository/ocr/1/db.js";
import { ImageError, decodeImage } from "../../../examples/model_repository/ocr/1/image.js";
import { encodeJpeg, encodePng, type Rendered } from "../../fixtures/ocr/render-image.js";

const seed = Number(process.env.FUZZ_SEED ?? 17);
const runs = (n: number) => n * Number(process.env.FUZZ_SCALE ?? 1);

/** Decodes, or fails with ImageError; never any other exception. */
function decodeOrImageError(bytes: Uint8Array): void {
  try {
    const img = decodeImage(bytes);
    expect(img.data.length).toBe(img.width * img.height * 3);
  } catch (err) {
    expect(err).toBeInstanceOf(ImageError);
  }
}

describe("decodeImage", () => {
  const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

  it("returns the pixels of any PNG it is given (round trip)", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.infiniteStream(fc.integer({ min: 0, max: 255 })), (w, h, values) => {
      const rgb = Uint8Array.from({ length: w * h * 3 }, () => values.next().value as number);
      const img: Rendered = { width: w, height: h, rgb, boxes: [] };
      const back = decodeImage(encodePng(img));
      expect([back.width, back.height]).toEqual([w, h]);
      expect(Array.from(back.data)).toEqual(Array.from(rgb));
    }), { seed, numRuns: runs(50) });
  });

  it("reads a JPEG within its lossy tolerance", () => {
    const rgb = new Uint8Array(16 * 8 * 3).fill(200);
    const back = decodeImage(encodeJpeg({ width: 16, height: 8, rgb, boxes: [] }));
    expect([back.width, back.height]).toEqual([16, 8]);
    for (const v of back.data) expect(Math.abs(v - 200)).toBeLessThan(6);
  });

  it("answers arbitrary bytes, and PNG/JPEG headers with arbitrary or cut bodies, with ImageError only", () => {
    const valid = encodePng({ width: 5, height: 4, rgb: new Uint8Array(60).fill(9), boxes: [] });
    const validJpeg = encodeJpeg({ width: 8, height: 8, rgb: new Uint8Array(192).fill(9), boxes: [] });
    const bodies = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }).map((b) => Uint8Array.from([...PNG_MAGIC, ...b])),
      fc.uint8Array({ maxLength: 200 }).map((b) => Uint8Array.from([0xff, 0xd8, ...b])),
      fc.integer({ min: 0, max: valid.length - 1 }).map((n) => valid.subarray(0, n)),
      fc.integer({ min: 2, max: validJpeg.length - 1 }).map((n) => validJpeg.subarray(0, n)),
      fc.tuple(fc.integer({ min: 8, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })).map(([at, v]) => {
        const b = valid.slice();
        b[at] = v;
        return b;
      }),
    );
    fc.assert(fc.property(bodies, decodeOrImageError), { seed, numRuns: runs(300) });
  });
});

describe("dbBoxes (DB post-processing)", () => {
  /** A map with each rectangle (x, y, w, h) at probability 0.9 on a background of 0.05. */
  function map(width: number, height: number, rects: [number, number, number, number][]): Float32Array {
    const prob = new Float32Array(width * height).fill(0.05);
    for (const [x, y, w, h] of rects) for (let yy = y; yy < y + h; yy++) prob.fill(0.9, yy * width + x, yy * width + x + w);
    return prob;
  }

  it("finds one box per text region, containing it, grown by the unclip offset, top to bottom", () => {
    // Up to four rows of regions, each in its own band of 24 pixels (so they never touch).
    const region = (band: number) => fc.tuple(fc.integer({ min: 2, max: 40 }), fc.integer({ min: 6, max: 60 }), fc.integer({ min: 4, max: 12 }))
      .map(([x, w, h]) => [x, band * 24 + 4, w, h] as [number, number, number, number]);
    const regions = fc.integer({ min: 0, max: 4 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => region(i))));
    fc.assert(fc.property(regions, (rects) => {
      const found = dbBoxes(map(112, 100, rects), 112, 100);
      expect(found).toHaveLength(rects.length);
      found.forEach(({ box, score }, i) => {
        const [x, y, w, h] = rects[i];
        expect(score).toBeCloseTo(0.9, 5);
        const xs = box.map((p) => p[0]);
        const ys = box.map((p) => p[1]);
        expect(Math.min(...xs)).toBeLessThanOrEqual(x);
        expect(Math.max(...xs)).toBeGreaterThanOrEqual(x + w);
        expect(Math.min(...ys)).toBeLessThanOrEqual(y);
        expect(Math.max(...ys)).toBeGreaterThanOrEqual(y + h);
        // Unclip grows each side by area·1.5/perimeter, no more.
        const d = (w * h * 1.5) / (2 * (w + h));
        expect(Math.max(...xs) - Math.min(...xs)).toBeCloseTo(w + 2 * d, 3);
        expect(Math.max(...ys) - Math.min(...ys)).toBeCloseTo(h + 2 * d, 3);
      });
    }), { seed, numRuns: runs(100) });
  });

  it("keeps nothing from a map of low probabilities or specks, and only finite corners from noise", () => {
    expect(dbBoxes(new Float32Array(64 * 64).fill(0.2), 64, 64)).toEqual([]);
    expect(dbBoxes(map(64, 64, [[10, 10, 2, 2], [30, 30, 1, 9]]), 64, 64)).toEqual([]);
    fc.assert(fc.property(fc.array(fc.float({ min: 0, max: 1, noNaN: true }), { minLength: 256, maxLength: 256 }), (values) => {
      for (const { box, score } of dbBoxes(Float32Array.from(values), 16, 16)) {
        expect(score).toBeGreaterThanOrEqual(0.6);
        for (const [px, py] of box) expect(Number.isFinite(px) && Number.isFinite(py)).toBe(true);
      }
    }), { seed, numRuns: runs(100) });
  });
});
