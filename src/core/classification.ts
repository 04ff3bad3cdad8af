/**
 * Triton's classification extension: an output asked for with `classification: N` is returned
 * as BYTES "value:index" (or "value:index:label" with the output's label_filename), the top N
 * classes per batch entry, highest first.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { invalidArg } from "../errors/index.js";
import { bytesElementsSize, datatypeSize, encodeBytesElements, typedArrayFor } from "../ipc/datatypes.js";
import type { CoreTensor } from "./types.js";

const labelCache = new Map<string, string[]>();

export function readLabels(modelDir: string, labelFile: string): string[] {
  const path = join(modelDir, labelFile);
  let labels = labelCache.get(path);
  if (!labels) {
    labels = readFileSync(path, "utf8").split(/\r?\n/);
    if (labels.at(-1) === "") labels.pop();
    labelCache.set(path, labels);
  }
  return labels;
}

function asNumbers(t: CoreTensor): number[] {
  if (t.datatype === "BYTES" || t.datatype === "FP16" || t.datatype === "BF16") {
    throw invalidArg(`classification is not supported for output '${t.name}' of datatype ${t.datatype}`);
  }
  const Ctor = typedArrayFor(t.datatype)!;
  const aligned = t.data.byteOffset % datatypeSize(t.datatype) === 0 ? t.data : t.data.slice();
  const view = new Ctor(aligned.buffer, aligned.byteOffset, aligned.byteLength / datatypeSize(t.datatype));
  return Array.from(view as ArrayLike<number | bigint>, Number);
}

export function classify(t: CoreTensor, topN: number, batched: boolean, labels: string[] | null): CoreTensor {
  const values = asNumbers(t);
  const rows = batched && t.shape.length > 0 ? t.shape[0] : 1;
  const perRow = rows > 0 ? values.length / rows : 0;
  const k = Math.min(topN, perRow);
  const elements: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (let r = 0; r < rows; r++) {
    const row = values.slice(r * perRow, (r + 1) * perRow).map((v, i) => [v, i] as const);
    row.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    for (const [v, i] of row.slice(0, k)) {
      const label = labels?.[i];
      elements.push(enc.encode(label !== undefined ? `${v}:${i}:${label}` : `${v}:${i}`));
    }
  }
  const data = new Uint8Array(bytesElementsSize(elements));
  encodeBytesElements(elements, data);
  return { name: t.name, datatype: "BYTES", shape: batched ? [rows, k] : [k], data };
}
