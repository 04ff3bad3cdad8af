/**
 * Which scheduler a model gets, from its final config: an ensemble runs its steps on the composing
 * models; a model with sequence_batching gets the sequence batcher; one with dynamic_batching the
 * dynamic batcher; any other runs each request alone (direct). The one place that maps config to policy.
 */
import { ensembleWithoutInferPath } from "../errors/index.js";
import type { ModelConfig } from "../config/schema.js";
import { DirectScheduler } from "./direct.js";
import { DynamicBatcher } from "./dynamic-batcher.js";
import { EnsembleScheduler, type ComposingInfer } from "./ensemble.js";
import type { ComposingStream } from "./ensemble-stream.js";
import type { Scheduler } from "./scheduler.js";
import { SequenceBatcher } from "./sequence-batcher.js";

export type { Scheduler } from "./scheduler.js";
export type { ComposingInfer } from "./ensemble.js";
export type { ComposingStream } from "./ensemble-stream.js";

export interface SchedulerContext {
  /** The model's name, as requests and error texts give it. */
  name: string;
  /** How an ensemble's steps reach their models (the server's inference path); ensembles only. */
  composingInfer?: ComposingInfer;
  /**
   * How a decoupled ensemble's steps reach their models, streamed, and which are decoupled
   * (config/ensemble-decoupling.ts); decoupled ensembles only.
   */
  composingStream?: ComposingStream;
  decoupledSteps?: readonly boolean[];
  /** How long an unload lets open sequences go on before it ends them (sequence batching). */
  exitTimeoutMs?: number;
}

export function createScheduler(config: ModelConfig, context: SchedulerContext): Scheduler {
  if (config.platform === "ensemble") {
    if (!context.composingInfer) throw ensembleWithoutInferPath(context.name);
    if (!config.model_transaction_policy?.decoupled) return new EnsembleScheduler(config, context.composingInfer);
    if (!context.composingStream) throw ensembleWithoutInferPath(context.name);
    const decoupled = context.decoupledSteps ?? config.ensemble_scheduling!.step.map(() => false);
    return new EnsembleScheduler(config, context.composingInfer, { open: context.composingStream, decoupled });
  }
  if (config.sequence_batching) return new SequenceBatcher(config, { exitTimeoutMs: context.exitTimeoutMs });
  return config.dynamic_batching ? new DynamicBatcher(config) : new DirectScheduler(context.name);
}
