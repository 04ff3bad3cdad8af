import {
  InferenceResponse, Tensor, TritonError, getInputTensorByName,
  type InferenceRequest, type ModelArgs,
} from "tessera";

/** Triton's add_sub example: OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1. */
export class TritonPythonModel {
  #outputTypes: string[] = [];

  initialize(args: ModelArgs): void {
    const config = JSON.parse(args.model_config);
    this.#outputTypes = config.output.map((o: { data_type: string }) => o.data_type);
    if (this.#outputTypes.some((t) => t !== "TYPE_FP32")) {
      throw new TritonError("add_sub expects FP32 outputs", TritonError.INVALID_ARG);
    }
  }

  execute(requests: InferenceRequest[]): InferenceResponse[] {
    return requests.map((request) => {
      const in0 = getInputTensorByName(request, "INPUT0")!.data as Float32Array;
      const in1 = getInputTensorByName(request, "INPUT1")!.data as Float32Array;
      const sum = new Float32Array(in0.length);
      const diff = new Float32Array(in0.length);
      for (let i = 0; i < in0.length; i++) {
        sum[i] = in0[i] + in1[i];
        diff[i] = in0[i] - in1[i];
      }
      return new InferenceResponse({
        outputTensors: [new Tensor("OUTPUT0", sum), new Tensor("OUTPUT1", diff)],
      });
    });
  }

  finalize(): void {
    // Nothing to release: shown for the lifecycle.
  }
}
