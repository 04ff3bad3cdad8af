/**
 * Pins the public surface of "tessera" (stub/sdk/index.ts, built to package.json's exports["."]):
 * every exported name and the signatures handlers rely on (docs/handler-api.md). Removing or
 * renaming an export fails `npm run typecheck` (the type-level half) and this test (the runtime
 * half); adding one means adding it here and to the doc, on purpose.
 */
import { readFileSync } from "node:fs";
import { describe, expect, expectTypeOf, it } from "vitest";
import * as sdk from "../../../stub/sdk/index.js";

const ROOT = new URL("../../../", import.meta.url);

/** The values "tessera" exports, each with what `typeof` says of it. */
const VALUES = {
  AutoCompleteConfig: "function",
  InferenceRequest: "function",
  InferenceResponse: "function",
  Logger: "object",
  Metric: "function",
  MetricFamily: "function",
  TRITONSERVER_REQUEST_FLAG_SEQUENCE_END: "number",
  TRITONSERVER_REQUEST_FLAG_SEQUENCE_START: "number",
  TRITONSERVER_REQUEST_RELEASE_ALL: "number",
  TRITONSERVER_REQUEST_RELEASE_RESCHEDULE: "number",
  TRITONSERVER_RESPONSE_COMPLETE_FINAL: "number",
  Tensor: "function",
  TritonError: "function",
  batchInputs: "function",
  chooseExecutionProvider: "function",
  configuredGpuAccelerators: "function",
  createSession: "function",
  getInputTensorByName: "function",
  getOutputTensorByName: "function",
  isModelReady: "function",
  loadModel: "function",
  requestBatchSizes: "function",
  splitOutputs: "function",
  unloadModel: "function",
} as const;

type ValueName = keyof typeof VALUES;
type OrtTensor = import("onnxruntime-node").Tensor;
type OrtSession = import("onnxruntime-node").InferenceSession;
type OrtSessionOptions = import("onnxruntime-node").InferenceSession.SessionOptions;

describe('the "tessera" module', () => {
  it("is stub/sdk/index.ts, built", () => {
    const pkg = JSON.parse(readFileSync(new URL("package.json", ROOT), "utf8"));
    expect(pkg.name).toBe("tessera");
    expect(pkg.exports["."]).toBe("./dist/stub/sdk/index.js");
    // tsconfig.json compiles "." into "dist", so ./dist/stub/sdk/index.js is stub/sdk/index.ts.
    const tsconfig = JSON.parse(readFileSync(new URL("tsconfig.json", ROOT), "utf8"));
    expect([tsconfig.compilerOptions.rootDir, tsconfig.compilerOptions.outDir]).toEqual([".", "dist"]);
    // And what handlers type-check against (test/tsconfig.json maps "tessera" as the bundler does).
    expectTypeOf<typeof import("tessera")>().toEqualTypeOf<typeof sdk>();
  });

  it("exports exactly these values", () => {
    expect(Object.keys(sdk).sort()).toEqual(Object.keys(VALUES).sort());
    // biome-ignore lint/performance/noDynamicNamespaceImportAccess: the test walks the SDK module's exports by name
    for (const [name, kind] of Object.entries(VALUES)) expect(typeof sdk[name as ValueName], name).toBe(kind);
    expectTypeOf<keyof typeof sdk>().toEqualTypeOf<ValueName>();
  });

  it("keeps pb_utils' constants and error codes", () => {
    expect(sdk.TRITONSERVER_RESPONSE_COMPLETE_FINAL).toBe(1);
    expect(sdk.TRITONSERVER_REQUEST_FLAG_SEQUENCE_START).toBe(1);
    expect(sdk.TRITONSERVER_REQUEST_FLAG_SEQUENCE_END).toBe(2);
    expect(sdk.TRITONSERVER_REQUEST_RELEASE_ALL).toBe(1);
    expect(sdk.TRITONSERVER_REQUEST_RELEASE_RESCHEDULE).toBe(2);
    const codes = ["UNKNOWN", "INTERNAL", "NOT_FOUND", "INVALID_ARG", "UNAVAILABLE", "UNSUPPORTED", "ALREADY_EXISTS", "CANCELLED"] as const;
    for (const code of codes) expect(sdk.TritonError[code]).toBe(code);
    expectTypeOf<sdk.TritonErrorCode>().toEqualTypeOf<(typeof codes)[number]>();
    expect(Object.keys(sdk.Logger).sort()).toEqual(["ERROR", "INFO", "VERBOSE", "WARNING", "log", "logError", "logInfo", "logVerbose", "logWarn"]);
    expect([sdk.Logger.INFO, sdk.Logger.WARNING, sdk.Logger.ERROR, sdk.Logger.VERBOSE]).toEqual(["INFO", "WARNING", "ERROR", "VERBOSE"]);
  });

  it("keeps the exported types", () => {
    expectTypeOf<sdk.Datatype>().toEqualTypeOf<
      "BOOL" | "UINT8" | "UINT16" | "UINT32" | "UINT64" | "INT8" | "INT16" | "INT32" | "INT64" | "FP16" | "FP32" | "FP64" | "BF16" | "BYTES"
    >();
    expectTypeOf<sdk.TypedArray>().toEqualTypeOf<
      | Uint8Array | Uint16Array | Uint32Array | BigUint64Array
      | Int8Array | Int16Array | Int32Array | BigInt64Array
      | Float32Array | Float64Array
    >();
    expectTypeOf<sdk.TensorData>().toEqualTypeOf<sdk.TypedArray | Uint8Array[]>();
    expectTypeOf<sdk.ParamValue>().toEqualTypeOf<string | number | boolean>();
    expectTypeOf<sdk.InferenceRequestOptions>().toEqualTypeOf<{
      modelName: string;
      modelVersion?: number;
      requestedOutputNames?: string[];
      inputs: sdk.Tensor[];
      requestId?: string;
      correlationId?: string | bigint;
      flags?: number;
      parameters?: Record<string, sdk.ParamValue>;
      timeoutMs?: number;
    }>();
    expectTypeOf<sdk.InferenceResponseOptions>().toEqualTypeOf<{
      outputTensors?: sdk.Tensor[];
      error?: sdk.TritonError;
      parameters?: Record<string, sdk.ParamValue>;
    }>();
    expectTypeOf<sdk.ResponseSender>().toEqualTypeOf<{ send(response?: sdk.InferenceResponse | null, flags?: number): void; isCancelled(): boolean }>();
    expectTypeOf<sdk.ResponseIterator>().toEqualTypeOf<AsyncGenerator<sdk.InferenceResponse> & { cancel(): void }>();
    expectTypeOf<sdk.TensorConfig>().toEqualTypeOf<{
      name: string; data_type: string; dims: number[]; optional?: boolean; [key: string]: unknown;
    }>();
    expectTypeOf<sdk.ModelArgs>().toEqualTypeOf<{
      model_config: string;
      model_instance_kind: string;
      model_instance_name: string;
      model_instance_device_id: string;
      model_repository: string;
      model_version: string;
      model_name: string;
    }>();
    expectTypeOf<sdk.TritonModel>().toEqualTypeOf<{
      initialize?(args: sdk.ModelArgs): void | Promise<void>;
      execute(requests: sdk.InferenceRequest[]): sdk.InferenceResponse[] | Promise<sdk.InferenceResponse[] | undefined> | undefined;
      finalize?(): void | Promise<void>;
      isReady?(): boolean | Promise<boolean>;
    }>();
    expectTypeOf<sdk.TritonModelClass>().toEqualTypeOf<{
      new (): sdk.TritonModel;
      autoCompleteConfig?(config: sdk.AutoCompleteConfig): sdk.AutoCompleteConfig | Promise<sdk.AutoCompleteConfig>;
    }>();
    expectTypeOf<sdk.ExecutionProviderName>().toEqualTypeOf<"cpu" | "cuda" | "webgpu">();
    expectTypeOf<sdk.InstanceKind>().toEqualTypeOf<"CPU" | "GPU" | "AUTO">();
    expectTypeOf<sdk.ProviderProbe>().toEqualTypeOf<(ep: sdk.ExecutionProviderName) => Promise<string | null>>();
    expectTypeOf<sdk.ProviderChoice>().toEqualTypeOf<{ executionProvider: sdk.ExecutionProviderName; reason: string }>();
  });

  it("keeps the classes' constructors and methods", () => {
    expectTypeOf(sdk.Tensor).constructorParameters.toEqualTypeOf<
      [name: string, data: sdk.TypedArray | readonly (string | Uint8Array)[], shape?: number[], datatype?: sdk.Datatype]
    >();
    expectTypeOf<sdk.Tensor["name"]>().toEqualTypeOf<() => string>();
    expectTypeOf<sdk.Tensor["shape"]>().toEqualTypeOf<() => number[]>();
    expectTypeOf<sdk.Tensor["datatype"]>().toEqualTypeOf<() => sdk.Datatype>();
    expectTypeOf<sdk.Tensor["data"]>().toEqualTypeOf<sdk.TensorData>();
    expectTypeOf<sdk.Tensor["asArray"]>().toEqualTypeOf<() => sdk.TensorData>();
    expectTypeOf<sdk.Tensor["isCpu"]>().toEqualTypeOf<() => boolean>();
    expectTypeOf<sdk.Tensor["toOrt"]>().toEqualTypeOf<() => OrtTensor>();
    expectTypeOf(sdk.Tensor.fromOrt).toEqualTypeOf<(name: string, t: OrtTensor) => sdk.Tensor>();

    expectTypeOf(sdk.InferenceRequest).constructorParameters.toEqualTypeOf<[options: sdk.InferenceRequestOptions]>();
    expectTypeOf<sdk.InferenceRequest["inputs"]>().toEqualTypeOf<() => sdk.Tensor[]>();
    expectTypeOf<sdk.InferenceRequest["requestedOutputNames"]>().toEqualTypeOf<() => string[]>();
    expectTypeOf<sdk.InferenceRequest["requestId"]>().toEqualTypeOf<() => string>();
    expectTypeOf<sdk.InferenceRequest["correlationId"]>().toEqualTypeOf<() => string | bigint>();
    expectTypeOf<sdk.InferenceRequest["flags"]>().toEqualTypeOf<() => number>();
    expectTypeOf<sdk.InferenceRequest["parameters"]>().toEqualTypeOf<() => Record<string, sdk.ParamValue>>();
    expectTypeOf<sdk.InferenceRequest["modelName"]>().toEqualTypeOf<() => string>();
    expectTypeOf<sdk.InferenceRequest["isCancelled"]>().toEqualTypeOf<() => boolean>();
    expectTypeOf<sdk.InferenceRequest["getResponseSender"]>().toEqualTypeOf<() => sdk.ResponseSender>();
    expectTypeOf<sdk.InferenceRequest["exec"]>().toEqualTypeOf<() => Promise<sdk.InferenceResponse>>();
    expectTypeOf<sdk.InferenceRequest["streamExec"]>().toEqualTypeOf<() => sdk.ResponseIterator>();

    expectTypeOf(sdk.InferenceResponse).constructorParameters.toEqualTypeOf<[options?: sdk.InferenceResponseOptions]>();
    expectTypeOf<sdk.InferenceResponse["outputTensors"]>().toEqualTypeOf<() => sdk.Tensor[]>();
    expectTypeOf<sdk.InferenceResponse["hasError"]>().toEqualTypeOf<() => boolean>();
    expectTypeOf<sdk.InferenceResponse["error"]>().toEqualTypeOf<() => sdk.TritonError | null>();
    expectTypeOf<sdk.InferenceResponse["parameters"]>().toEqualTypeOf<() => Record<string, sdk.ParamValue>>();

    expectTypeOf(sdk.TritonError).constructorParameters.toEqualTypeOf<[message: string, code?: sdk.TritonErrorCode]>();
    expectTypeOf<sdk.TritonError["message"]>().toEqualTypeOf<() => string>();
    expectTypeOf<sdk.TritonError["code"]>().toEqualTypeOf<() => sdk.TritonErrorCode>();

    expectTypeOf(sdk.AutoCompleteConfig).constructorParameters.toEqualTypeOf<[config: Record<string, unknown>]>();
    expectTypeOf<sdk.AutoCompleteConfig["asDict"]>().toEqualTypeOf<() => Record<string, unknown>>();
    expectTypeOf<sdk.AutoCompleteConfig["maxBatchSize"]>().toEqualTypeOf<() => number>();
    expectTypeOf<sdk.AutoCompleteConfig["setMaxBatchSize"]>().toEqualTypeOf<(n: number) => sdk.AutoCompleteConfig>();
    expectTypeOf<sdk.AutoCompleteConfig["setDynamicBatching"]>().toEqualTypeOf<() => sdk.AutoCompleteConfig>();
    expectTypeOf<sdk.AutoCompleteConfig["addInput"]>().toEqualTypeOf<(input: sdk.TensorConfig) => sdk.AutoCompleteConfig>();
    expectTypeOf<sdk.AutoCompleteConfig["addOutput"]>().toEqualTypeOf<(output: sdk.TensorConfig) => sdk.AutoCompleteConfig>();
    expectTypeOf<sdk.AutoCompleteConfig["setModelTransactionPolicy"]>()
      .toEqualTypeOf<(policy: { decoupled: boolean }) => sdk.AutoCompleteConfig>();
  });

  it("keeps the functions' signatures", () => {
    expectTypeOf(sdk.getInputTensorByName).toEqualTypeOf<(request: sdk.InferenceRequest, name: string) => sdk.Tensor | null>();
    expectTypeOf(sdk.getOutputTensorByName).toEqualTypeOf<(response: sdk.InferenceResponse, name: string) => sdk.Tensor | null>();
    expectTypeOf(sdk.batchInputs).toEqualTypeOf<(requests: readonly sdk.InferenceRequest[], name: string) => sdk.Tensor>();
    expectTypeOf(sdk.splitOutputs)
      .toEqualTypeOf<(requests: readonly sdk.InferenceRequest[], outputs: readonly sdk.Tensor[]) => sdk.InferenceResponse[]>();
    expectTypeOf(sdk.requestBatchSizes).toEqualTypeOf<(requests: readonly sdk.InferenceRequest[]) => number[]>();
    expectTypeOf(sdk.createSession)
      .toEqualTypeOf<(args: sdk.ModelArgs, path: string, options?: OrtSessionOptions) => Promise<OrtSession>>();
    expectTypeOf(sdk.chooseExecutionProvider).toEqualTypeOf<
      (kind: sdk.InstanceKind, gpuAccelerators: readonly string[], probe: sdk.ProviderProbe) => Promise<sdk.ProviderChoice>
    >();
    expectTypeOf(sdk.configuredGpuAccelerators).toEqualTypeOf<(config: Record<string, unknown>) => string[]>();
    expectTypeOf(sdk.loadModel).toEqualTypeOf<(modelName: string, options?: sdk.LoadModelOptions) => Promise<void>>();
    expectTypeOf(sdk.unloadModel).toEqualTypeOf<(modelName: string, options?: sdk.UnloadModelOptions) => Promise<void>>();
    expectTypeOf(sdk.isModelReady).toEqualTypeOf<(modelName: string, modelVersion?: string | number) => Promise<boolean>>();
    expectTypeOf<sdk.LoadModelOptions>().toEqualTypeOf<{ config?: string; files?: Record<string, Uint8Array | string> }>();
    expectTypeOf<sdk.UnloadModelOptions>().toEqualTypeOf<{ unloadDependents?: boolean }>();
    expectTypeOf(sdk.Logger.logInfo).toEqualTypeOf<(message: string) => void>();
    expectTypeOf(sdk.Logger.log).toEqualTypeOf<(message: string, level?: "INFO" | "WARNING" | "ERROR" | "VERBOSE") => void>();
  });
});
