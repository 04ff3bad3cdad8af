import { InferenceResponse, Tensor, getInputTensorByName, type InferenceRequest } from "tessera";

/**
 * A running mean per sequence. STATE_IN holds [sum, count] as the previous request of the same
 * sequence left it ([0, 0] at the sequence's START: the config's zero initial state); the handler
 * writes the next one as STATE_OUT. The server keeps the state in the instance between requests
 * and drops it at the sequence's END: this class holds nothing itself.
 */
export class TritonPythonModel {
  execute(requests: InferenceRequest[]): InferenceResponse[] {
    return requests.map((request) => {
      const value = (getInputTensorByName(request, "VALUE")!.data as Float32Array)[0]!;
      const state = getInputTensorByName(request, "STATE_IN")!.data as Float32Array;
      const sum = state[0]! + value;
      const count = state[1]! + 1;
      return new InferenceResponse({
        outputTensors: [
          new Tensor("MEAN", Float32Array.of(sum / count), [1, 1]),
          new Tensor("COUNT", Float32Array.of(count), [1, 1]),
          new Tensor("STATE_OUT", Float32Array.of(sum, count), [1, 2]),
        ],
      });
    });
  }
}
