import { Tensor, batchInputs, splitOutputs, type InferenceRequest } from "tessera";

/** add_sub over a whole batch: stack, compute once, split. */
export default class AddSubBatch {
  execute(requests: InferenceRequest[]) {
    const a = batchInputs(requests, "INPUT0");
    const b = batchInputs(requests, "INPUT1");
    const x = a.data as Float32Array, y = b.data as Float32Array;
    const sum = new Float32Array(x.length), diff = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      sum[i] = x[i] + y[i];
      diff[i] = x[i] - y[i];
    }
    return splitOutputs(requests, [new Tensor("OUTPUT0", sum, a.shape()), new Tensor("OUTPUT1", diff, a.shape())]);
  }
}
