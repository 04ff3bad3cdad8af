import {
  InferenceResponse, Logger, Tensor, getInputTensorByName,
  type InferenceRequest, type ModelArgs,
} from "tessera";

/** OUTPUT0 = INPUT0 + 1: the smallest useful handler. */
export default class AddOne {
  initialize(args: ModelArgs): void {
    Logger.logInfo(`initialized ${args.model_instance_name} on ${args.model_instance_kind}`);
  }

  execute(requests: InferenceRequest[]): InferenceResponse[] {
    return requests.map((request) => {
      const input = getInputTensorByName(request, "INPUT0")!;
      const x = input.data as Float32Array;
      const y = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) y[i] = x[i] + 1;
      return new InferenceResponse({ outputTensors: [new Tensor("OUTPUT0", y, input.shape())] });
    });
  }
}
