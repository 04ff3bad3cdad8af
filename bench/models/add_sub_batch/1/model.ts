import { InferenceResponse, Tensor, batchInputs, splitOutputs, type InferenceRequest, type ModelArgs } from "tessera";

/** add_sub over a whole batch: stack, compute once, split. */
export default class AddSubBatch {
  #instance = "";
  #executions = 0;

  initialize(args: ModelArgs) {
    this.#instance = args.model_instance_name;
  }

  execute(requests: InferenceRequest[]) {
    this.#executions++;
    const a = batchInputs(requests, "INPUT0");
    const b = batchInputs(requests, "INPUT1");
    const x = a.data as Float32Array, y = b.data as Float32Array;
    const sum = new Float32Array(x.length), diff = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      sum[i] = x[i] + y[i];
      diff[i] = x[i] - y[i];
    }
    const responses = splitOutputs(requests, [new Tensor("OUTPUT0", sum, a.shape()), new Tensor("OUTPUT1", diff, a.shape())]);
    if (!requests[0].parameters().report_instance) return responses;
    // bench/batching.js counts calls per instance from these: which instance ran, and its calls so far.
    const parameters = { instance: this.#instance, executions: this.#executions };
    return responses.map((r) => new InferenceResponse({ outputTensors: r.outputTensors(), parameters }));
  }
}
