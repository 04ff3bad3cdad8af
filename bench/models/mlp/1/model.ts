import * as ort from "onnxruntime-node";
import { Tensor, batchInputs, splitOutputs, type InferenceRequest, type ModelArgs } from "tessera";

/** Runs the generated MLP on the whole batch at once: one session.run per call. */
export default class Mlp {
  #session!: ort.InferenceSession;

  async initialize(args: ModelArgs): Promise<void> {
    this.#session = await ort.InferenceSession.create(`${args.model_repository}/${args.model_version}/model.onnx`,
      { intraOpNumThreads: 1, interOpNumThreads: 1 });
  }

  async execute(requests: InferenceRequest[]) {
    const x = batchInputs(requests, "INPUT0");
    const out = await this.#session.run({ INPUT0: x.toOrt() });
    return splitOutputs(requests, [Tensor.fromOrt("OUTPUT0", out.OUTPUT0)]);
  }
}
