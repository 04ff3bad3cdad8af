import { InferenceResponse, Tensor, getInputTensorByName, type InferenceRequest } from "tessera";

/**
 * The sequence bench's model: Y = the running sum of X over the sequence, kept in implicit state
 * (STATE_IN → STATE_OUT). Loaded without sequence_batching (the stateless baseline) it has no
 * STATE_IN and answers Y = X: the same work per request, minus the sequence bookkeeping.
 */
export default class SeqStep {
  execute(requests: InferenceRequest[]) {
    return requests.map((r) => {
      const x = (getInputTensorByName(r, "X")!.data as Float32Array)[0]!;
      const state = getInputTensorByName(r, "STATE_IN");
      const y = state ? (state.data as Float32Array)[0]! + x : x;
      const outputs = [new Tensor("Y", Float32Array.of(y), [1, 1])];
      if (state) outputs.push(new Tensor("STATE_OUT", Float32Array.of(y), [1, 1]));
      return new InferenceResponse({ outputTensors: outputs });
    });
  }
}
