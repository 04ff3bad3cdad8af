/** Images for the OCR pipeline: decoding, and sampling them into the models' input tensors. */
import jpeg from "jpeg-js";
import { PNG } from "pngjs";

/** 8-bit RGB, row-major, 3 bytes a pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Thrown for input that is not a readable image (the handler answers INVALID_ARG). */
export class ImageError extends Error {}

const MAX_PIXELS = 50e6;

/** A PNG or JPEG file's bytes → RGB (alpha dropped, composited on nothing). */
export function decodeImage(bytes: Uint8Array): RgbImage {
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  if (!isPng && !isJpeg) throw new ImageError("image is neither PNG nor JPEG");
  let rgba: { width: number; height: number; data: Uint8Array };
  try {
    rgba = isPng
      ? PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
      : jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_PIXELS / 1e6 });
  } catch (err) {
    throw new ImageError(`cannot decode the ${isPng ? "PNG" : "JPEG"} image: ${(err as Error).message}`);
  }
  const { width, height } = rgba;
  if (width * height > MAX_PIXELS) throw new ImageError(`image of ${width}x${height} is larger than ${MAX_PIXELS} pixels`);
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    data[3 * p] = rgba.data[4 * p];
    data[3 * p + 1] = rgba.data[4 * p + 1];
    data[3 * p + 2] = rgba.data[4 * p + 2];
  }
  return { width, height, data };
}

/** An affine map from the output grid (u, v) to the source image: x = ax·u + bx·v + cx, y likewise. */
export interface Affine {
  ax: number; bx: number; cx: number;
  ay: number; by: number; cy: number;
}

/**
 * Writes a CHW FP32 tensor [3, height, width] at `offset` of `out` (row stride `stride` ≥ width;
 * columns past `width` are left as they are), sampling `img` bilinearly (clamped at its edges)
 * through `map` at pixel centres, and normalising each channel as (pixel/255 - mean[c]) / std[c].
 */
export function toChw(img: RgbImage, map: Affine, width: number, height: number, mean: number[], std: number[], out: Float32Array, stride = width, offset = 0): void {
  const plane = height * stride;
  const { width: W, height: H, data } = img;
  const scale = std.map((s) => 1 / (255 * s));
  const shift = mean.map((m, c) => m / std[c]);
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      const x = map.ax * (u + 0.5) + map.bx * (v + 0.5) + map.cx - 0.5;
      const y = map.ay * (u + 0.5) + map.by * (v + 0.5) + map.cy - 0.5;
      const x0 = Math.min(Math.max(Math.floor(x), 0), W - 1);
      const y0 = Math.min(Math.max(Math.floor(y), 0), H - 1);
      const x1 = Math.min(x0 + 1, W - 1);
      const y1 = Math.min(y0 + 1, H - 1);
      const fx = Math.min(Math.max(x - x0, 0), 1);
      const fy = Math.min(Math.max(y - y0, 0), 1);
      const a = (y0 * W + x0) * 3, b = (y0 * W + x1) * 3, c = (y1 * W + x0) * 3, d = (y1 * W + x1) * 3;
      const at = offset + v * stride + u;
      for (let ch = 0; ch < 3; ch++) {
        const top = data[a + ch] + (data[b + ch] - data[a + ch]) * fx;
        const bottom = data[c + ch] + (data[d + ch] - data[c + ch]) * fx;
        out[at + ch * plane] = (top + (bottom - top) * fy) * scale[ch] - shift[ch];
      }
    }
  }
}
