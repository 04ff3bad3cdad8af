/**
 * DB (differentiable binarization) post-processing, as PaddleOCR's DBPostProcess does it: threshold
 * the probability map, take each connected region (its contour), fit its minimum-area rectangle,
 * score it by the mean probability inside, and grow ("unclip") it by area·ratio/perimeter, since
 * DB's maps shrink text regions during training.
 */
export type Point = [number, number];
/** Four corners, clockwise from top-left (in the map's pixels). */
export type Quad = [Point, Point, Point, Point];

export interface DbOptions {
  threshold: number;      // pixel → text when its probability exceeds this (PaddleOCR: 0.3)
  boxThreshold: number;   // a region is kept when its mean probability exceeds this (0.6)
  unclipRatio: number;    // 1.5
  minSize: number;        // the rectangle's shorter side, in map pixels (3)
  maxCandidates: number;  // 1000
}

export const DB_DEFAULTS: DbOptions = { threshold: 0.3, boxThreshold: 0.6, unclipRatio: 1.5, minSize: 3, maxCandidates: 1000 };

/** Connected regions (8-neighbour) of pixels above the threshold: each region's pixel indices. */
function regions(prob: Float32Array, width: number, height: number, threshold: number): number[][] {
  const seen = new Uint8Array(width * height);
  const out: number[][] = [];
  const stack: number[] = [];
  for (let start = 0; start < prob.length; start++) {
    if (seen[start] || prob[start] <= threshold) continue;
    const region: number[] = [];
    seen[start] = 1;
    stack.push(start);
    while (stack.length > 0) {
      const p = stack.pop()!;
      region.push(p);
      const x = p % width;
      const y = (p - x) / width;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        const nx = x + dx;
        const ny = y + dy;
        if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
        const q = ny * width + nx;
        if (!seen[q] && prob[q] > threshold) {
          seen[q] = 1;
          stack.push(q);
        }
      }
    }
    out.push(region);
  }
  return out;
}

/**
 * Convex hull (Andrew's monotone chain) of the region's pixel squares. Only each row's leftmost
 * and rightmost pixels can be on it, so those rows' corners are all it looks at.
 */
function hull(region: number[], width: number): Point[] {
  const rows = new Map<number, [number, number]>();
  for (const p of region) {
    const x = p % width;
    const y = (p - x) / width;
    const r = rows.get(y);
    if (!r) rows.set(y, [x, x]);
    else if (x < r[0]) r[0] = x;
    else if (x > r[1]) r[1] = x;
  }
  const pts: Point[] = [];
  for (const [y, [x0, x1]] of rows) pts.push([x0, y], [x0, y + 1], [x1 + 1, y], [x1 + 1, y + 1]);
  pts.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o: Point, a: Point, b: Point) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const half = (list: Point[]) => {
    const h: Point[] = [];
    for (const p of list) {
      while (h.length >= 2 && cross(h[h.length - 2], h[h.length - 1], p) <= 0) h.pop();
      h.push(p);
    }
    h.pop();
    return h;
  };
  return [...half(pts), ...half(pts.slice().reverse())];
}

/** The minimum-area rectangle around a convex polygon (one side lies on a hull edge). */
function minAreaRect(poly: Point[]): { center: Point; axis: Point; w: number; h: number } {
  let best = { area: Infinity, center: [0, 0] as Point, axis: [1, 0] as Point, w: 0, h: 0 };
  for (let i = 0; i < poly.length; i++) {
    const [ax, ay] = poly[i];
    const [bx, by] = poly[(i + 1) % poly.length];
    const len = Math.hypot(bx - ax, by - ay);
    if (len === 0) continue;
    const ux = (bx - ax) / len;
    const uy = (by - ay) / len;
    let minU = Infinity, maxU = -Infinity, minV = Infinity, maxV = -Infinity;
    for (const [px, py] of poly) {
      const u = px * ux + py * uy;
      const v = -px * uy + py * ux;
      minU = Math.min(minU, u); maxU = Math.max(maxU, u);
      minV = Math.min(minV, v); maxV = Math.max(maxV, v);
    }
    const area = (maxU - minU) * (maxV - minV);
    if (area < best.area) {
      const cu = (minU + maxU) / 2;
      const cv = (minV + maxV) / 2;
      best = { area, center: [cu * ux - cv * uy, cu * uy + cv * ux], axis: [ux, uy], w: maxU - minU, h: maxV - minV };
    }
  }
  return best;
}

/** The rectangle's corners, clockwise from the top-left, with its long side horizontal-ish. */
function corners(center: Point, axis: Point, w: number, h: number): Quad {
  let [ux, uy] = axis;
  // Make u the long side, pointing right (so the text reads left to right).
  if (h > w) {
    [ux, uy] = [-uy, ux];
    [w, h] = [h, w];
  }
  if (ux < 0) [ux, uy] = [-ux, -uy];
  const [vx, vy] = [-uy, ux]; // points down in image coordinates
  const [cx, cy] = center;
  const at = (su: number, sv: number): Point => [cx + su * ux * w / 2 + sv * vx * h / 2, cy + su * uy * w / 2 + sv * vy * h / 2];
  return [at(-1, -1), at(1, -1), at(1, 1), at(-1, 1)];
}

/** Text boxes in the map's pixel coordinates, with their scores, top to bottom. */
export function dbBoxes(prob: Float32Array, width: number, height: number, opts: DbOptions = DB_DEFAULTS): { box: Quad; score: number }[] {
  const found: { box: Quad; score: number }[] = [];
  for (const region of regions(prob, width, height, opts.threshold).slice(0, opts.maxCandidates)) {
    let sum = 0;
    for (const p of region) sum += prob[p];
    const score = sum / region.length;
    if (score < opts.boxThreshold) continue;
    const rect = minAreaRect(hull(region, width));
    if (Math.min(rect.w, rect.h) < opts.minSize) continue;
    // Unclip: grow every side by d = area·ratio / perimeter (the polygon offset DB uses).
    const d = (rect.w * rect.h * opts.unclipRatio) / (2 * (rect.w + rect.h));
    const box = corners(rect.center, rect.axis, rect.w + 2 * d, rect.h + 2 * d);
    if (Math.min(rect.w, rect.h) + 2 * d < opts.minSize + 2) continue;
    found.push({ box, score });
  }
  return found.sort((a, b) => a.box[0][1] - b.box[0][1] || a.box[0][0] - b.box[0][0]);
}
