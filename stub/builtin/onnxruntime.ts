/**
 * The built-in onnxruntime backend: a model with platform "onnxruntime_onnx" (backend
 * "onnxruntime") and no handler of its own runs in stubs through this class, so instances,
 * batching, restarts and errors behave exactly as for a model.ts. Main writes a one-line shim
 * that calls onnxruntimeModel(<model file>) (see handler-module.ts): no bundle, no user code.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { AutoCompleteConfig } from "../sdk/auto-complete.js";
import { batchInputs, splitOutputs } from "../sdk/batching.js";
import { TritonError } from "../sdk/errors.js";
import { createSession, withSpinningDefault } from "../sdk/onnx.js";
import { InferenceResponse, getInputTensorByName, type InferenceRequest } from "../sdk/request.js";
import { Tensor } from "../sdk/tensor.js";
import type { ModelArgs, TritonModel, TritonModelClass } from "../sdk/index.js";
import { autoCompleteFromOnnx, checkConfigAgainstOnnx, type OnnxModelIo } from "./onnx-config.js";

type Session = import("onnxruntime-node").InferenceSession;
type Ort = typeof import("onnxruntime-node");

function loadOrt(): Ort {
  return createRequire(import.meta.url)("onnxruntime-node") as Ort;
}

function modelIo(session: Session): OnnxModelIo {
  return { inputs: session.inputMetadata, outputs: session.outputMetadata };
}

function requireFile(file: string): void {
  if (!existsSync(file)) throw new TritonError(`onnxruntime model file not found: ${file}`, TritonError.NOT_FOUND);
}

/**
 * Session options from the config's parameters, with Triton's onnxruntime backend names
 * (intra_op_thread_count, inter_op_thread_count), and thread spinning as spinningEntries reads
 * it: by default intra-op threads stop spinning when a run returns (on a machine with few cores
 * they would take the core main needs to answer); allow_spinning "1" (or the onnxruntime keys
 * session.intra_op.allow_spinning / session.force_spinning_stop) brings spinning back.
 */
export function sessionOptions(config: Record<string, unknown>): import("onnxruntime-node").InferenceSession.SessionOptions {
  const params = (config.parameters ?? {}) as Record<string, { string_value?: string }>;
  const value = (key: string) => params[key]?.string_value;
  const intra = Number(value("intra_op_thread_count") ?? 0);
  const inter = Number(value("inter_op_thread_count") ?? 0);
  const options: import("onnxruntime-node").InferenceSession.SessionOptions = withSpinningDefault({}, config);
  if (intra > 0) options.intraOpNumThreads = intra;
  if (inter > 0) options.interOpNumThreads = inter;
  return options;
}

/** The model class for one ONNX file. */
export function onnxruntimeModel(modelFile: string): TritonModelClass {
  return class OnnxruntimeModel implements TritonModel {
    #session: Session | null = null;
    #batching = false;
    #outputs: string[] = [];
    /** Per-request shapes (after the batch dim) of tensors with a config reshape. */
    #inputReshape = new Map<string, number[]>();
    #outputDims = new Map<string, number[]>();

    static async autoCompleteConfig(cfg: AutoCompleteConfig): Promise<AutoCompleteConfig> {
      requireFile(modelFile);
      // Metadata only: no graph optimization, released at once.
      const session = await loadOrt().InferenceSession.create(modelFile, { graphOptimizationLevel: "disabled" });
      try {
        return new AutoCompleteConfig(autoCompleteFromOnnx(cfg.asDict(), modelIo(session)));
      } finally {
        await session.release();
      }
    }

    async initialize(args: ModelArgs): Promise<void> {
      requireFile(modelFile);
      const config = JSON.parse(args.model_config) as Record<string, unknown>;
      this.#session = await createSession(args, modelFile, sessionOptions(config));
      // Also with --strict-model-config: a config that contradicts the graph is a load error.
      checkConfigAgainstOnnx(config, modelIo(this.#session), args.model_name);
      this.#batching = Number(config.max_batch_size ?? 0) > 0;
      this.#outputs = [...this.#session.outputNames];
      type Io = { name: string; dims?: number[]; reshape?: { shape?: number[] } };
      for (const t of (config.input ?? []) as Io[]) if (t.reshape) this.#inputReshape.set(t.name, (t.reshape.shape ?? []).map(Number));
      for (const t of (config.output ?? []) as Io[]) if (t.reshape) this.#outputDims.set(t.name, (t.dims ?? []).map(Number));
    }

    async execute(requests: InferenceRequest[]): Promise<InferenceResponse[]> {
      if (this.#batching) return this.#run(requests);
      const out: InferenceResponse[] = [];
      for (const r of requests) out.push(...(await this.#run([r])));
      return out;
    }

    async finalize(): Promise<void> {
      await this.#session?.release();
      this.#session = null;
    }

    /** One session.run for `requests` (stacked along the batch dim when the model batches). */
    async #run(requests: InferenceRequest[]): Promise<InferenceResponse[]> {
      const session = this.#session!;
      const feeds: Record<string, import("onnxruntime-node").Tensor> = {};
      for (const name of session.inputNames) {
        const t = requests.length === 1 ? getInputTensorByName(requests[0], name) : batchInputs(requests, name);
        if (!t) throw new TritonError(`expected input '${name}' is missing from the request`, TritonError.INVALID_ARG);
        const reshape = this.#inputReshape.get(name);
        feeds[name] = reshape ? new Tensor(name, t.data as never, this.#batching ? [t.shape()[0], ...reshape] : reshape, t.datatype()).toOrt() : t.toOrt();
      }
      const wanted = requests.map((r) => {
        const names = r.requestedOutputNames();
        return names.length > 0 ? names : this.#outputs;
      });
      const fetch = this.#outputs.filter((n) => wanted.some((w) => w.includes(n)));
      const results = await session.run(feeds, fetch);
      const tensors = fetch.map((n) => {
        const t = Tensor.fromOrt(n, results[n]);
        const dims = this.#outputDims.get(n);
        if (!dims) return t;
        return new Tensor(n, t.data as never, this.#batching ? [t.shape()[0], ...dims] : dims, t.datatype());
      });
      const responses = requests.length === 1 ? [new InferenceResponse({ outputTensors: tensors })] : splitOutputs(requests, tensors);
      // Requested outputs only, per request (another request of the batch may have asked for more).
      return responses.map((resp, i) => wanted[i].length === fetch.length ? resp
        : new InferenceResponse({ outputTensors: resp.outputTensors().filter((t) => wanted[i].includes(t.name())) }));
    }
  };
}
