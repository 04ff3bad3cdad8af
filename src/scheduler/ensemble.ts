/**
 * Triton's ensemble scheduler: one request to an ensemble runs its steps as a data-flow graph.
 * A step starts once every ensemble tensor its input_map reads exists (from the request, or from
 * an earlier step's output_map), and goes to its composing model through the server like any
 * request, so that model's scheduler, batching and statistics apply. The responses of the steps
 * stay unreleased until the ensemble's own response is, since later steps and the answer view
 * their outputs in place. An ensemble with a decoupled step is decoupled itself: its requests run
 * as a DecoupledEnsembleRun (ensemble-stream.ts), every step streamed, answers to the request's sink.
 */
import { decoupledNeedsStream, ensembleDeadlock, inEnsemble, requestCancelled, toServerError, type ServerError } from "../errors/index.js";
import type { ModelInstance } from "../backends/backend.js";
import type { ModelConfig } from "../config/schema.js";
import { markDispatched, markEnqueued } from "../core/statistics.js";
import type { CoreRequest, CoreResponse, CoreTensor } from "../core/types.js";
import { CloseLatch } from "./close-latch.js";
import { DecoupledEnsembleRun, type ComposingStream } from "./ensemble-stream.js";
import type { RequestOutputs, Scheduler } from "./scheduler.js";

/** Runs a request on a composing model; resolves with its response, rejects with its error. */
export type ComposingInfer = (request: CoreRequest) => Promise<CoreResponse>;

type Step = NonNullable<ModelConfig["ensemble_scheduling"]>["step"][number];

/** How a decoupled ensemble runs its steps: each streamed; which steps' models are decoupled. */
export interface StreamedSteps {
  open: ComposingStream;
  /** Per step (config order): its model is decoupled, each response a new iteration. */
  decoupled: readonly boolean[];
}

export class EnsembleScheduler implements Scheduler {
  readonly #config: ModelConfig;
  readonly #infer: ComposingInfer;
  readonly #streamed: StreamedSteps | undefined;
  readonly #latch: CloseLatch;
  #pending = 0;

  /** `streamed` is required when the config is decoupled (model_transaction_policy, as loaded). */
  constructor(config: ModelConfig, infer: ComposingInfer, streamed?: StreamedSteps) {
    this.#config = config;
    this.#infer = infer;
    this.#streamed = config.model_transaction_policy?.decoupled ? streamed : undefined;
    this.#latch = new CloseLatch(config.name, () => this.#pending);
  }

  get pending(): number {
    return this.#pending;
  }

  /** Nothing waits here: each step queues at its own model. */
  get queued(): number {
    return 0;
  }

  setInstances(_instances: readonly ModelInstance[]): void {}

  failQueued(_error: Error): void {}

  async enqueue(request: CoreRequest): Promise<RequestOutputs> {
    if (this.#latch.closed) throw this.#latch.refusal();
    markEnqueued(request);
    markDispatched(request);
    this.#pending++;
    try {
      if (!this.#streamed) return await this.#run(request);
      const sink = request.sink;
      if (!sink) throw decoupledNeedsStream(this.#config.name); // the pipeline refuses these first
      await new DecoupledEnsembleRun(this.#config, this.#streamed.decoupled, this.#streamed.open, request, sink).run();
      return { outputs: [], parameters: {}, release() {} };
    } catch (err) {
      throw toServerError(err);
    } finally {
      this.#pending--;
      this.#latch.check();
    }
  }

  close(): Promise<void> {
    return this.#latch.close();
  }

  async #run(request: CoreRequest): Promise<RequestOutputs> {
    const steps = this.#config.ensemble_scheduling!.step;
    const tensors = new Map<string, CoreTensor>(request.inputs.map((t) => [t.name, t]));
    const held: CoreResponse[] = [];
    const releaseAll = () => held.splice(0).forEach((r) => r.release());
    const waiting = new Set(steps);
    const running = new Map<Step, Promise<void>>();
    let failure: ServerError | null = null;
    try {
      while (waiting.size > 0 || running.size > 0) {
        if (request.signal?.aborted) throw requestCancelled(this.#config.name);
        for (const step of [...waiting]) {
          if (!Object.values(step.input_map).every((t) => tensors.has(t))) continue;
          waiting.delete(step);
          running.set(step, this.#step(request, step, tensors).then(
            (response) => {
              held.push(response);
              for (const [output, tensor] of Object.entries(step.output_map)) {
                const t = response.outputs.find((o) => o.name === output);
                if (t) tensors.set(tensor, { ...t, name: tensor });
              }
            },
            (err) => {
              failure ??= toServerError(err);
            },
          ).finally(() => running.delete(step)));
        }
        if (running.size === 0) throw this.#deadlock();
        await Promise.race(running.values());
        if (failure) {
          const f: ServerError = failure;
          throw inEnsemble(f, this.#config.name);
        }
      }
      const outputs = this.#config.output.map((o) => {
        const t = tensors.get(o.name);
        if (!t) throw this.#deadlock();
        return t;
      });
      const responses = held.splice(0);
      let released = false;
      return {
        outputs,
        parameters: {},
        release: () => {
          if (released) return;
          released = true;
          responses.forEach((r) => r.release());
        },
      };
    } catch (err) {
      // Steps still running finish first: their responses are released with the others.
      await Promise.allSettled(running.values());
      throw err;
    } finally {
      releaseAll();
    }
  }

  /** Triton's text for steps that cannot produce every output (a step left an output unset). */
  #deadlock(): ServerError {
    return ensembleDeadlock(this.#config.name);
  }

  /** One step's request: its model inputs from ensemble tensors, its mapped outputs requested. */
  #step(request: CoreRequest, step: Step, tensors: Map<string, CoreTensor>): Promise<CoreResponse> {
    return this.#infer({
      model: step.model_name,
      version: step.model_version > 0 ? String(step.model_version) : undefined, // -1 (or unset): latest
      id: request.id,
      inputs: Object.entries(step.input_map).map(([input, tensor]) => ({ ...tensors.get(tensor)!, name: input })),
      outputs: Object.keys(step.output_map).map((name) => ({ name })),
      parameters: request.parameters,
      signal: request.signal,
      trace: request.trace, // a traced ensemble's steps are traced as its children
    });
  }
}
