/**
 * One request's run through a decoupled ensemble (one with a decoupled step), as Triton's ensemble
 * scheduler runs it. Every step's responses are streamed: each response of a decoupled step is a
 * new iteration of the tensors it writes, and each step downstream runs once per iteration, on the
 * tensors of that iteration (a non-decoupled step's response keeps its inputs' iteration). Each
 * time the requested ensemble outputs all exist for one iteration, they go out as one ensemble
 * response. The run is over once no step is in flight: the response that made it so carries the
 * final flag, else a bare final flag follows (no response at all is no deadlock here, as a
 * decoupled model may send none). A step's error (mid-stream included) stops new steps and
 * responses; it ends the stream, with Triton's "in ensemble" prefix, once the steps in flight end.
 *
 * Step responses stay unreleased while a tensor of theirs may still be read: by a step not yet
 * started, a step running on it, or an ensemble response not yet released (Pin counts them).
 */
import { inEnsemble, requestCancelled, toServerError, type ServerError } from "../errors/index.js";
import type { ModelConfig } from "../config/schema.js";
import type { ResponseStream, StreamItem } from "../core/response-stream.js";
import type { CoreRequest, CoreTensor, ResponseSink } from "../core/types.js";

/** Runs a request on a composing model; its responses as a stream. Throws for a refusal before it ran. */
export type ComposingStream = (request: CoreRequest) => ResponseStream;

type Step = NonNullable<ModelConfig["ensemble_scheduling"]>["step"][number];

/** A step response, released once nothing reads its tensors any more. */
class Pin {
  #holds = 1;
  readonly #release: () => void;

  constructor(release: () => void) {
    this.#release = release;
  }

  take(): void {
    this.#holds++;
  }

  drop(): void {
    if (--this.#holds === 0) this.#release();
  }
}

/** The request's own inputs: nothing to release. */
const UNPINNED = new Pin(() => {});

interface Held {
  tensor: CoreTensor;
  pin: Pin;
  /** Readers still to take it: steps reading the tensor, plus the response if it is a requested output. */
  readers: number;
}

export class DecoupledEnsembleRun {
  readonly #config: ModelConfig;
  readonly #steps: readonly Step[];
  readonly #decoupled: readonly boolean[];
  readonly #open: ComposingStream;
  readonly #request: CoreRequest;
  readonly #sink: ResponseSink;
  /** Ensemble tensor → iteration → its tensor. */
  readonly #tensors = new Map<string, Map<number, Held>>();
  /** The requested ensemble outputs, in config order. */
  readonly #wanted: string[];
  /** Per decoupled step: its next response's iteration (over all its runs, as Triton counts). */
  readonly #iterations: number[];
  #inFlight = 0;
  #failure: ServerError | null = null;
  #ended = false;
  #done: () => void = () => {};

  constructor(config: ModelConfig, decoupledSteps: readonly boolean[], open: ComposingStream, request: CoreRequest, sink: ResponseSink) {
    this.#config = config;
    this.#steps = config.ensemble_scheduling!.step;
    this.#decoupled = decoupledSteps;
    this.#open = open;
    this.#request = request;
    this.#sink = sink;
    const asked = request.outputs?.length ? new Set(request.outputs.map((o) => o.name)) : null;
    this.#wanted = config.output.map((o) => o.name).filter((name) => !asked || asked.has(name));
    this.#iterations = this.#steps.map(() => 0);
  }

  /** Resolves once the final event went to the sink. */
  run(): Promise<void> {
    return new Promise((resolve) => {
      this.#done = resolve;
      const names = this.#request.inputs.map((t) => t.name);
      for (const t of this.#request.inputs) this.#put(t.name, 0, t, UNPINNED);
      this.#advance(names, 0);
      this.#endIfIdle();
    });
  }

  #aborted(): boolean {
    return this.#request.signal?.aborted === true;
  }

  #readers(tensor: string): number {
    const steps = this.#steps.filter((s) => Object.values(s.input_map).includes(tensor)).length;
    return steps + (this.#wanted.includes(tensor) ? 1 : 0);
  }

  #put(name: string, iteration: number, tensor: CoreTensor, pin: Pin): void {
    const readers = this.#readers(name);
    if (readers === 0) return;
    let byIteration = this.#tensors.get(name);
    if (!byIteration) this.#tensors.set(name, (byIteration = new Map()));
    pin.take();
    byIteration.set(iteration, { tensor, pin, readers });
  }

  /** One reader takes the tensor: the caller holds its pin until done with it. */
  #take(name: string, iteration: number): Held {
    const byIteration = this.#tensors.get(name)!;
    const held = byIteration.get(iteration)!;
    held.pin.take();
    if (--held.readers === 0) {
      byIteration.delete(iteration);
      held.pin.drop();
    }
    return held;
  }

  #has(name: string, iteration: number): boolean {
    return this.#tensors.get(name)?.has(iteration) === true;
  }

  /** Tensors of `iteration` were written: start the steps now ready, then answer if the outputs are. */
  #advance(written: readonly string[], iteration: number): void {
    const ready = new Set<number>();
    this.#steps.forEach((step, index) => {
      const reads = Object.values(step.input_map);
      if (reads.some((t) => written.includes(t)) && reads.every((t) => this.#has(t, iteration))) ready.add(index);
    });
    for (const index of ready) this.#start(index, iteration);
    const wanted = this.#wanted;
    if (this.#failure) return; // a step refused just now: the error ends the stream instead
    if (wanted.length > 0 && wanted.some((t) => written.includes(t)) && wanted.every((t) => this.#has(t, iteration))) {
      this.#respond(wanted.map((name) => this.#take(name, iteration)));
    }
  }

  #start(index: number, iteration: number): void {
    const step = this.#steps[index];
    const taken = Object.entries(step.input_map).map(([input, tensor]) => [input, this.#take(tensor, iteration)] as const);
    const dropAll = () => taken.forEach(([, held]) => held.pin.drop());
    const request = this.#request;
    this.#inFlight++;
    let stream: ResponseStream;
    try {
      stream = this.#open({
        model: step.model_name,
        version: step.model_version > 0 ? String(step.model_version) : undefined, // -1 (or unset): latest
        id: request.id,
        inputs: taken.map(([input, held]) => ({ ...held.tensor, name: input })),
        outputs: Object.keys(step.output_map).map((name) => ({ name })),
        parameters: request.parameters,
        signal: request.signal,
        trace: request.trace, // a traced ensemble's steps are traced as its children
      });
    } catch (err) {
      this.#inFlight--;
      dropAll();
      this.#failure ??= toServerError(err);
      return;
    }
    void this.#consume(index, iteration, stream).finally(dropAll);
  }

  async #consume(index: number, iteration: number, stream: ResponseStream): Promise<void> {
    for await (const item of stream) {
      if (item.final) this.#inFlight--; // before its outputs count, as Triton's step counter
      this.#onItem(index, iteration, item);
      this.#endIfIdle();
    }
  }

  #onItem(index: number, iteration: number, item: StreamItem): void {
    if (item.error) {
      this.#failure ??= item.error;
      return;
    }
    const response = item.response;
    if (!response) return;
    if (this.#failure || this.#aborted() || this.#ended) {
      response.release();
      return;
    }
    const at = this.#decoupled[index] ? this.#iterations[index]++ : iteration;
    const pin = new Pin(() => response.release());
    const written: string[] = [];
    for (const [output, tensor] of Object.entries(this.#steps[index].output_map)) {
      const t = response.outputs.find((o) => o.name === output);
      if (!t) continue;
      this.#put(tensor, at, { ...t, name: tensor }, pin);
      written.push(tensor);
    }
    this.#advance(written, at);
    pin.drop();
  }

  #respond(held: Held[]): void {
    let released = false;
    const final = this.#inFlight === 0;
    if (final) this.#end();
    this.#sink({
      outputs: held.map((h) => h.tensor),
      parameters: {},
      release: () => {
        if (released) return;
        released = true;
        held.forEach((h) => h.pin.drop());
      },
    }, final);
    if (final) this.#done();
  }

  #endIfIdle(): void {
    if (this.#inFlight > 0 || this.#ended) return;
    this.#end();
    const name = this.#config.name;
    const error = this.#aborted() ? requestCancelled(name) : this.#failure && inEnsemble(this.#failure, name);
    this.#sink(error ? { error } : null, true);
    this.#done();
  }

  /** No more events: whatever tensors are left unread give their responses back. */
  #end(): void {
    this.#ended = true;
    for (const byIteration of this.#tensors.values()) for (const held of byIteration.values()) held.pin.drop();
    this.#tensors.clear();
  }
}
