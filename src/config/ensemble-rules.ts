/**
 * Triton's static checks of an ensemble's scheduling config (ValidateEnsembleSchedulingConfig):
 * the steps form a data-flow graph over ensemble tensors in which every ensemble input is used,
 * every ensemble output is written, and no tensor is dangling. Checks that need the composing
 * models' configs (datatypes, shapes, versions) happen when the ensemble is loaded, not here.
 * Messages are Triton's, including its unbalanced quotes.
 */
import {
  ensembleInstanceGroup, ensembleIoUnused, ensembleOptimization, ensembleOutputNotWritten, ensembleSchedulingMisplaced,
  ensembleStepFieldMissing, ensembleStepsMissing, ensembleTensorUnused, ensembleTensorWrittenTwice, ensembleWarmup,
} from "../errors/index.js";
import type { ModelConfig, ModelEnsembling } from "./model-config.js";

interface TensorNode {
  name: string;
  /** Written by some step's output_map (at most once). */
  isOutput: boolean;
  ready: boolean;
  prev: TensorNode[];
  next: TensorNode[];
}

export function validateEnsembleScheduling(cfg: ModelConfig, ens: ModelEnsembling): void {
  const name = cfg.name;
  if (cfg.platform !== "ensemble") {
    throw ensembleSchedulingMisplaced(name);
  }
  if (cfg.instance_group.length !== 0) throw ensembleInstanceGroup(name);
  if (cfg.optimization) throw ensembleOptimization(name);
  if (cfg.model_warmup.length !== 0) throw ensembleWarmup(name);
  if (ens.step.length === 0) throw ensembleStepsMissing(name);

  const tensors = buildGraph(name, ens);

  // Propagate readiness from the ensemble inputs: a tensor is ready once every tensor that the
  // step writing it reads is ready.
  const queue: TensorNode[] = [];
  for (const input of cfg.input) {
    const node = tensors.get(input.name);
    if (!node) throw ensembleIoUnused("input", input.name, name);
    node.ready = true;
    queue.push(node);
  }
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const next of node.next) {
      if (next.ready) continue;
      next.ready = next.prev.every((p) => p.ready);
      if (next.ready) queue.push(next);
    }
  }

  const outputs = new Set<string>();
  for (const output of cfg.output) {
    const node = tensors.get(output.name);
    if (!node) throw ensembleIoUnused("output", output.name, name);
    if (!node.ready) throw ensembleOutputNotWritten(name, output.name, disconnectedUpstream(node));
    outputs.add(output.name);
  }
  for (const [tensorName, node] of tensors) {
    if (outputs.has(tensorName)) continue;
    if (!node.ready || node.next.length === 0) {
      throw ensembleTensorUnused(tensorName, name);
    }
  }
}

function buildGraph(name: string, ens: ModelEnsembling): Map<string, TensorNode> {
  const tensors = new Map<string, TensorNode>();
  const node = (tensorName: string, isOutput: boolean): TensorNode => {
    let n = tensors.get(tensorName);
    if (!n) {
      n = { name: tensorName, isOutput, ready: false, prev: [], next: [] };
      tensors.set(tensorName, n);
    }
    return n;
  };
  ens.step.forEach((step, index) => {
    if (!step.model_name) throw ensembleStepFieldMissing("model_name", index, name);
    if (Object.keys(step.input_map).length === 0) {
      throw ensembleStepFieldMissing("input_map", index, name);
    }
    if (Object.keys(step.output_map).length === 0) {
      throw ensembleStepFieldMissing("output_map", index, name);
    }
    const written: TensorNode[] = [];
    for (const tensorName of Object.values(step.output_map)) {
      const existing = tensors.get(tensorName);
      if (existing?.isOutput) {
        throw ensembleTensorWrittenTwice(tensorName, name, index);
      }
      const n = existing ?? node(tensorName, true);
      n.isOutput = true;
      written.push(n);
    }
    // input_map keys are unique by construction (a map), so Triton's "mapped to multiple
    // ensemble tensors" error cannot arise from a parsed config.
    for (const tensorName of Object.values(step.input_map)) {
      const read = node(tensorName, false);
      for (const out of written) {
        out.prev.push(read);
        read.next.push(out);
      }
    }
  });
  return tensors;
}

/** The first not-ready tensor upstream of an unwritten output, as Triton names it; none if it is the output. */
function disconnectedUpstream(node: TensorNode): string | undefined {
  let last = node;
  const seen = new Set<string>();
  let prev: TensorNode[] | undefined = node.prev;
  while (prev && prev.length > 0) {
    const candidates: TensorNode[] = prev;
    prev = undefined;
    for (const p of candidates) {
      if (!p.ready && !seen.has(p.name)) {
        seen.add(p.name);
        last = p;
        prev = p.prev;
        break;
      }
    }
  }
  return last.name !== node.name ? last.name : undefined;
}
