/**
 * Triton's check of an ensemble's decoupled data flow, made when the ensemble loads (its composing
 * models are loaded by then, so their final configs say which are decoupled). Every decoupled step
 * starts a new "stream" of tensors: each of its responses is one iteration of the tensors it
 * writes, and the steps downstream of it run once per iteration. A step (or the ensemble's
 * outputs) fed by tensors of two different streams could never pair them, so Triton refuses the
 * ensemble; ensemble inputs and non-decoupled steps carry their inputs' stream on. The ensemble is
 * decoupled exactly when some decoupled step is reachable, whatever its own
 * model_transaction_policy said (Triton overwrites it).
 */
import { ensembleDecoupledBranching } from "../errors/index.js";
import type { ModelConfig } from "./schema.js";

export interface EnsembleDecoupling {
  /** The ensemble's own transaction policy: decoupled when any decoupled step is reachable. */
  decoupled: boolean;
  /** Per step (config order): its model is decoupled. */
  steps: boolean[];
}

/** The loaded config of a composing model (latest version, as Triton looks it up); undefined if none. */
export type StepConfigOf = (model: string) => ModelConfig | undefined;

interface TensorNode {
  /**
   * The model Triton's error names for this tensor: whoever mentions it first (the ensemble for
   * its inputs and outputs, else the first step, in config order, that reads or writes it).
   */
  owner: string;
  /** The step writing it; -1 for ensemble inputs and the outputs' sink. */
  step: number;
  prev: TensorNode[];
  next: TensorNode[];
  visited: boolean;
  /** 0: the request's own stream; n: the n-th decoupled step's. */
  label: number;
}

export function ensembleDecoupling(config: ModelConfig, stepConfigOf: StepConfigOf): EnsembleDecoupling {
  const ensemble = config.name;
  const steps = config.ensemble_scheduling!.step;
  const flags = steps.map((s) => stepConfigOf(s.model_name)?.model_transaction_policy.decoupled === true);
  const tensors = new Map<string, TensorNode>();
  const node = (name: string, owner: string, step: number): TensorNode => {
    let n = tensors.get(name);
    if (!n) tensors.set(name, (n = { owner, step, prev: [], next: [], visited: false, label: 0 }));
    return n;
  };
  for (const input of config.input) node(input.name, ensemble, -1).visited = true;
  const sink: TensorNode = { owner: ensemble, step: -1, prev: [], next: [], visited: false, label: 0 };
  for (const output of config.output) {
    const n = node(output.name, ensemble, -1);
    sink.prev.push(n);
    n.next.push(sink);
  }
  steps.forEach((s, index) => {
    for (const written of Object.values(s.output_map)) {
      const out = node(written, s.model_name, index);
      out.step = index; // its owner stays whoever mentioned it first, as in Triton
      for (const read of Object.values(s.input_map)) {
        const from = node(read, s.model_name, -1);
        out.prev.push(from);
        from.next.push(out);
      }
    }
  });

  // Breadth-first from the inputs: a tensor is visited once everything it is made from is.
  let counter = 0;
  const stepLabel = new Map<number, number>();
  const queue = [...tensors.values()].filter((n) => n.visited);
  while (queue.length > 0) {
    const current = queue.shift()!;
    for (const next of current.next) {
      if (next.visited || !next.prev.every((p) => p.visited)) continue;
      const label = next.prev[0]?.label ?? 0;
      if (next.prev.some((p) => p.label !== label)) throw ensembleDecoupledBranching(ensemble, next.owner);
      if (next.step < 0) next.label = label;
      else {
        // The outputs of one step share its stream (Triton's sibling node).
        let own = stepLabel.get(next.step);
        if (own === undefined) stepLabel.set(next.step, (own = flags[next.step] ? ++counter : label));
        next.label = own;
      }
      next.visited = true;
      queue.push(next);
    }
  }
  return { decoupled: counter > 0, steps: flags };
}

/** The config with the transaction policy the analysis found. */
export function withDecoupling(config: ModelConfig, decoupling: EnsembleDecoupling): ModelConfig {
  if (config.model_transaction_policy.decoupled === decoupling.decoupled) return config;
  return { ...config, model_transaction_policy: { ...config.model_transaction_policy, decoupled: decoupling.decoupled } };
}
