import { validateModelConfig } from "../../../src/config/schema.js";

/** A batching model "m" (X → Y, FP32 [2], max_batch_size 4) with these dynamic_batching fields. */
export const batching = (dynamic: Record<string, unknown>) => validateModelConfig({
  name: "m", backend: "python", max_batch_size: 4,
  input: [{ name: "X", data_type: "TYPE_FP32", dims: [2] }], output: [{ name: "Y", data_type: "TYPE_FP32", dims: [2] }],
  dynamic_batching: dynamic,
}, { modelName: "m" });
