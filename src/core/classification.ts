/**
 * Triton's classification extension: an output asked for with `classification: N` is returned
 * as BYTES "value:index" (or "value:index:label" with the output's label_filename), the top N
 * classes per batch entry, highest first. The value is printed as Triton prints it (std::to_string:
 * "0.750000" for floats, exact integers), so clients that compare or parse the text see the same.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { classificationTooLarge, classificationUnsupportedType } from "../errors/index.js";
import { bytesElementsSize, datatypeSize, encodeBytesElements, typedArrayFor } from "../ipc/datatypes.js";
import type { CoreTensor } from "./types.js";

/**
 * Label files, read once per loaded version (`owner`): a reload (an edited label file in poll
 * mode) makes a new version object and so reads the file again; a retired one's entry goes with it.
 */
const labelCache = new WeakMap<object, Map<string, string[]>>();

export function readLabels(owner: object, modelDir: string, labelFile: string): string[] {
  let files = labelCache.get(owner);
  if (!files) labelCache.set(owner, (files = new Map()));
  const path = join(modelDir, labelFile);
  let labels = files.get(path);
  if (!labels) {
    labels = readFileSync(path, "utf8").split(/\r?\n/);
    if (labels.at(-1) === "") labels.pop();
    files.set(path, labels);
  }
  return labels;
}

/**
 * classification.cc's kMaxClassificationElements: a larger output is refused before it is read
 * (pathological memory and CPU otherwise). Checked after BYTES (no element size, so refused as
 * unsupported first) and before the other unclassifiable types, in Triton's order.
 */
export const MAX_CLASSIFICATION_ELEMENTS = 1_000_000;

// Types Triton classifies (classification.cc); anything else is refused with its text.
const CLASSIFIABLE = new Set(["UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP32", "FP64"]);

/** Each element as a number to rank by and the text Triton prints for it (std::to_string). */
function elements(t: CoreTensor): { value: number; text: string }[] {
  if (t.datatype === "BYTES") throw classificationUnsupportedType(t.datatype);
  if (t.data.byteLength / datatypeSize(t.datatype) > MAX_CLASSIFICATION_ELEMENTS) throw classificationTooLarge();
  if (!CLASSIFIABLE.has(t.datatype)) {
    throw classificationUnsupportedType(t.datatype);
  }
  const Ctor = typedArrayFor(t.datatype)!;
  const aligned = t.data.byteOffset % datatypeSize(t.datatype) === 0 ? t.data : t.data.slice();
  const view = new Ctor(aligned.buffer, aligned.byteOffset, aligned.byteLength / datatypeSize(t.datatype));
  const float = t.datatype === "FP32" || t.datatype === "FP64";
  // Integers print exactly (BigInt for 64-bit); floats as C's "%f", which std::to_string uses.
  return Array.from(view as ArrayLike<number | bigint>, (v) => ({ value: Number(v), text: float ? printfF(v as number) : String(v) }));
}

/** C's printf("%f"): six decimals, "inf"/"nan" spelled as glibc spells them. */
function printfF(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  // toFixed switches to exponent form from 1e21; such a double has no fraction left to print.
  if (Math.abs(v) >= 1e21) return `${BigInt(v)}.000000`;
  return Object.is(v, -0) ? "-0.000000" : v.toFixed(6);
}

export function classify(t: CoreTensor, topN: number, batched: boolean, labels: string[] | null): CoreTensor {
  const values = elements(t);
  const rows = batched && t.shape.length > 0 ? t.shape[0] : 1;
  const perRow = rows > 0 ? values.length / rows : 0;
  const k = Math.min(topN, perRow);
  const out: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (let r = 0; r < rows; r++) {
    const row = values.slice(r * perRow, (r + 1) * perRow).map((v, i) => [v, i] as const);
    row.sort((a, b) => b[0].value - a[0].value || a[1] - b[1]);
    for (const [v, i] of row.slice(0, k)) {
      const label = labels?.[i];
      out.push(enc.encode(label !== undefined ? `${v.text}:${i}:${label}` : `${v.text}:${i}`));
    }
  }
  const data = new Uint8Array(bytesElementsSize(out));
  encodeBytesElements(out, data);
  return { name: t.name, datatype: "BYTES", shape: batched ? [rows, k] : [k], data };
}
