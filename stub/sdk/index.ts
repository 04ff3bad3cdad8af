/**
 * "tessera": the module handlers import, the TypeScript twin of triton_python_backend_utils.
 * Public API: see handler-api.md. Everything here is typed and stable; extend, never change.
 */
export { Tensor, type Datatype, type TypedArray, type TensorData } from "./tensor.js";
export {
  InferenceRequest, InferenceResponse, getInputTensorByName, getOutputTensorByName,
  TRITONSERVER_RESPONSE_COMPLETE_FINAL, TRITONSERVER_REQUEST_FLAG_SEQUENCE_START, TRITONSERVER_REQUEST_FLAG_SEQUENCE_END,
  TRITONSERVER_REQUEST_RELEASE_ALL, TRITONSERVER_REQUEST_RELEASE_RESCHEDULE,
  type InferenceRequestOptions, type InferenceResponseOptions, type ResponseSender, type ResponseIterator, type ParamValue,
} from "./request.js";
export { TritonError, type TritonErrorCode } from "./errors.js";
export { Logger } from "./logger.js";
export { MetricFamily, Metric, type MetricOptions } from "./metrics.js";
export { AutoCompleteConfig, type TensorConfig } from "./auto-complete.js";
export { batchInputs, splitOutputs, requestBatchSizes } from "./batching.js";
export {
  createSession, chooseExecutionProvider, configuredGpuAccelerators,
  type ExecutionProviderName, type InstanceKind, type ProviderChoice, type ProviderProbe,
} from "./onnx.js";
export { loadModel, unloadModel, isModelReady, type LoadModelOptions, type UnloadModelOptions } from "./model-control.js";
export type { ModelArgs } from "../../src/ipc/protocol.js";

import type { AutoCompleteConfig } from "./auto-complete.js";
import type { ModelArgs } from "../../src/ipc/protocol.js";
import type { InferenceRequest, InferenceResponse } from "./request.js";

/** The class a model.ts exports (default, or named TritonPythonModel / TritonModel). */
export interface TritonModel {
  initialize?(args: ModelArgs): void | Promise<void>;
  execute(requests: InferenceRequest[]): InferenceResponse[] | Promise<InferenceResponse[] | undefined> | undefined;
  finalize?(): void | Promise<void>;
  /** pb_utils' is_ready: asked when readiness is checked (5 s limit); false or a throw: not ready. */
  isReady?(): boolean | Promise<boolean>;
}

export interface TritonModelClass {
  new (): TritonModel;
  autoCompleteConfig?(config: AutoCompleteConfig): AutoCompleteConfig | Promise<AutoCompleteConfig>;
}
