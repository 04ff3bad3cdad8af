import { TritonError } from "./errors.js";

export interface TensorConfig {
  name: string;
  data_type: string;
  dims: number[];
  optional?: boolean;
  [key: string]: unknown;
}

type Config = Record<string, unknown> & {
  max_batch_size?: number;
  input?: TensorConfig[];
  output?: TensorConfig[];
  dynamic_batching?: Record<string, unknown>;
  model_transaction_policy?: { decoupled?: boolean };
};

/**
 * pb_utils' auto_complete_config object. It only fills what config.pbtxt left out; a value that
 * contradicts the file is a load error, reported by throwing.
 */
export class AutoCompleteConfig {
  readonly #config: Config;

  constructor(config: Record<string, unknown>) {
    this.#config = structuredClone(config) as Config;
  }

  asDict(): Record<string, unknown> {
    return structuredClone(this.#config);
  }

  maxBatchSize(): number {
    return this.#config.max_batch_size ?? 0;
  }

  setMaxBatchSize(n: number): this {
    if (!Number.isInteger(n) || n < 0) throw new TritonError(`auto-complete: invalid max_batch_size ${n}`, TritonError.INVALID_ARG);
    const current = this.#config.max_batch_size ?? 0;
    if (current !== 0 && current !== n) {
      throw new TritonError(`auto-complete: configuration specified max_batch_size ${current}, but the model sets ${n}`, TritonError.INVALID_ARG);
    }
    this.#config.max_batch_size = n;
    return this;
  }

  setDynamicBatching(): this {
    this.#config.dynamic_batching ??= {};
    return this;
  }

  addInput(input: TensorConfig): this {
    this.#add("input", input);
    return this;
  }

  addOutput(output: TensorConfig): this {
    this.#add("output", output);
    return this;
  }

  setModelTransactionPolicy(policy: { decoupled: boolean }): this {
    const current = this.#config.model_transaction_policy?.decoupled;
    if (current !== undefined && current !== policy.decoupled) {
      throw new TritonError(`auto-complete: configuration specified decoupled ${current}, but the model sets ${policy.decoupled}`, TritonError.INVALID_ARG);
    }
    this.#config.model_transaction_policy = { ...this.#config.model_transaction_policy, decoupled: policy.decoupled };
    return this;
  }

  #add(kind: "input" | "output", t: TensorConfig): void {
    if (!t || typeof t.name !== "string" || typeof t.data_type !== "string" || !Array.isArray(t.dims)) {
      throw new TritonError(`auto-complete: ${kind} needs name, data_type and dims`, TritonError.INVALID_ARG);
    }
    const list = (this.#config[kind] ??= []);
    const existing = list.find((e) => e.name === t.name);
    if (!existing) {
      list.push({ ...t, dims: [...t.dims] });
      return;
    }
    // Present in config.pbtxt: fill what is missing, refuse what contradicts.
    if (existing.data_type && existing.data_type !== "TYPE_INVALID" && existing.data_type !== t.data_type) {
      throw new TritonError(`auto-complete: ${kind} '${t.name}' has data_type ${existing.data_type} in the configuration, the model says ${t.data_type}`, TritonError.INVALID_ARG);
    }
    if (existing.dims && existing.dims.length > 0 && existing.dims.join(",") !== t.dims.join(",")) {
      throw new TritonError(`auto-complete: ${kind} '${t.name}' has dims [${existing.dims.join(",")}] in the configuration, the model says [${t.dims.join(",")}]`, TritonError.INVALID_ARG);
    }
    existing.data_type ||= t.data_type;
    if (!existing.dims || existing.dims.length === 0) existing.dims = [...t.dims];
  }
}
