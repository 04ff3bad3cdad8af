/**
 * A response as its client asked for it: with requested outputs, those, in the order asked,
 * classified (the classification extension) where asked; without, every output the model made.
 */
import { outputNotProduced, toServerError } from "../errors/index.js";
import type { ModelConfig } from "../config/schema.js";
import { classify, readLabels } from "./classification.js";
import type { CoreRequest, CoreResponse } from "./types.js";

/** What shaping reads of the model version (its identity keys the label cache): its outputs' label files live in its folder. */
export interface ShapeSource {
  readonly modelDir: string;
  readonly config: Pick<ModelConfig, "output" | "max_batch_size">;
}

/**
 * Replaces `response.outputs` with the requested ones and returns it. Throws a ServerError (a
 * missing output, an output that cannot be classified); the caller then owns the release.
 */
export function shapeResponse(request: CoreRequest, source: ShapeSource, response: CoreResponse): CoreResponse {
  const requested = request.outputs;
  if (!requested || requested.length === 0) return response;
  const outputs = response.outputs;
  const shaped = [];
  try {
    for (const want of requested) {
      const t = outputs.find((o) => o.name === want.name);
      if (!t) throw outputNotProduced(request.model, want.name);
      if (want.classification === undefined) {
        shaped.push(t);
        continue;
      }
      const spec = source.config.output.find((o) => o.name === want.name);
      const labels = spec?.label_filename ? readLabels(source, source.modelDir, spec.label_filename) : null;
      shaped.push(classify(t, want.classification, source.config.max_batch_size > 0, labels));
    }
  } catch (err) {
    throw toServerError(err);
  }
  response.outputs = shaped;
  return response;
}
