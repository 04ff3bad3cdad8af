/**
 * Triton's sequence batcher (core sequence_batch_scheduler.cc), as a policy over the shared parts:
 * a request names its sequence (sequence_id, with sequence_start / sequence_end); a sequence gets
 * one batch slot of one instance at its START (InstancePool.reserve: the instance; a Lane: the
 * slot) and keeps it until its END ran, or until max_sequence_idle_microseconds pass with no
 * request for it; sequences beyond the free slots wait in arrival order (Triton's backlog). Each
 * request goes with the control inputs its model asks for (sequence-controls.ts), and the lane's
 * BatchRule (direct or oldest, sequence-lanes.ts) decides which ready requests go together.
 *
 * Afterwards a request without START for that id is refused with Triton's text, as Triton's is
 * once its reaper released the slot. A sequence whose instance died fails its waiting requests,
 * and its next request, with an error naming the instance (its implicit state died with it).
 * close() refuses new sequences (Triton's "Server is stopping" text) and ends the idle ones (no
 * request can reach an unloading model); requests already queued still run, until the exit
 * timeout, when what is left is ended with an error.
 */
import { sequenceBacklogExpired, sequenceEndedByUnload, sequenceInstanceDied, sequenceSchedulerStopping, sequenceStartMissing, type ServerError } from "../errors/index.js";
import type { ModelInstance } from "../backends/backend.js";
import type { ModelConfig } from "../config/schema.js";
import { markEnqueued } from "../core/statistics.js";
import type { CoreRequest } from "../core/types.js";
import { CloseLatch } from "./close-latch.js";
import { InstancePool, type Room } from "./instance-pool.js";
import { QueuedRequest, executeCall } from "./queued-request.js";
import type { RequestOutputs, Scheduler } from "./scheduler.js";
import { SequenceControls } from "./sequence-controls.js";
import { BatchRule, Lane, LostSequences, Sequence, handOut, stamped, type Step } from "./sequence-lanes.js";

/** Ids of sequences lost with their instance that are remembered (for the error of their next request). */
const MAX_LOST = 4096;

export interface SequenceBatcherOptions {
  /** How long close() lets open sequences go on before it ends them (--exit-timeout-secs). */
  exitTimeoutMs?: number;
}

export class SequenceBatcher implements Scheduler {
  readonly #model: string;
  readonly #controls: SequenceControls;
  readonly #rule: BatchRule;
  readonly #idleMs: number;
  /** iterative_sequence: a request may run again (rescheduled) and ends its sequence when it does not. */
  readonly #iterative: boolean;
  readonly #exitTimeoutMs: number;
  readonly #pool = new InstancePool();
  readonly #lanes = new Map<ModelInstance, Lane>();
  /** Open sequences by id key (an ended one leaves at its END, before its slot is freed). */
  readonly #open = new Map<string, Sequence>();
  /** Sequences holding a slot or waiting for one. */
  readonly #live = new Set<Sequence>();
  readonly #backlog: Sequence[] = [];
  /** Ids whose instance died: their next request is told so (once). */
  readonly #lost = new LostSequences(MAX_LOST);
  readonly #latch: CloseLatch;
  #waiting = 0;
  #executing = 0;
  /** Room for a new sequence on an instance: a free slot in its lane. */
  readonly #room: Room = (instance) => (this.#lanes.get(instance)?.hasFreeSlot ? Infinity : 0);

  constructor(cfg: ModelConfig, options: SequenceBatcherOptions = {}) {
    this.#model = cfg.name;
    this.#controls = new SequenceControls(cfg);
    this.#rule = new BatchRule(cfg);
    this.#idleMs = cfg.sequence_batching!.max_sequence_idle_microseconds / 1000;
    this.#iterative = cfg.sequence_batching!.iterative_sequence;
    this.#exitTimeoutMs = options.exitTimeoutMs ?? 0;
    this.#latch = new CloseLatch(cfg.name, () => this.pending);
  }

  /** Requests waiting or executing, and open sequences (an unload waits for them). */
  get pending(): number {
    return this.#waiting + this.#executing + this.#live.size;
  }

  get queued(): number { return this.#waiting; }

  /** Open sequences (holding a slot or in the backlog). */
  get sequences(): number {
    return this.#live.size;
  }

  setInstances(instances: readonly ModelInstance[]): void {
    this.#pool.set(instances);
    const now = new Set(this.#pool.instances);
    for (const [instance, lane] of this.#lanes) if (!now.has(instance)) this.#laneDied(lane);
    for (const instance of now) if (!this.#lanes.has(instance)) this.#lanes.set(instance, new Lane(instance, this.#rule.slots, this.#rule.preserveOrdering));
    this.#fillSlots();
    for (const lane of this.#lanes.values()) this.#run(lane);
  }

  enqueue(request: CoreRequest): Promise<RequestOutputs> {
    try {
      return this.#admit(request);
    } catch (err) {
      return Promise.reject(err as ServerError);
    }
  }

  #admit(request: CoreRequest): Promise<RequestOutputs> {
    const { id, start, end } = this.#controls.admit(request);
    if (start && this.#latch.closed) throw sequenceSchedulerStopping();
    let seq = this.#open.get(id.key);
    if (!seq) {
      const died = this.#lost.take(id.key);
      if (!start) throw died === undefined ? sequenceStartMissing(id.text, this.#model) : sequenceInstanceDied(id.text, this.#model, died);
      seq = new Sequence(id);
      this.#open.set(id.key, seq);
      this.#live.add(seq);
      if (!this.#place(seq)) this.#backlog.push(seq);
    }
    // A START for an open sequence continues in its slot (Triton logs a conflict and does the same).
    const q = new QueuedRequest(this.#controls.withControls(request, id, start, end), this.#model);
    if (end) this.#ended(seq);
    if (q.cancelledOnArrival()) {
      this.#settled(seq);
      return q.result;
    }
    markEnqueued(request);
    const step: Step = { q, base: request, start, end, at: performance.now() };
    const result = this.#rule.preserveOrdering ? handOut(step) : q.result;
    seq.waiting.push(step);
    seq.lane?.order(step);
    this.#waiting++;
    q.watchAbort(() => this.#cancel(seq, step));
    this.#touch(seq);
    if (seq.lane) this.#run(seq.lane);
    // Triton's backlog timeout: the request's "timeout" (µs) bounds its sequence's wait for a slot.
    else if (Number(request.parameters.timeout) > 0) seq.expireIn(Number(request.parameters.timeout) / 1000, () => this.#endOpen((s) => s === seq, sequenceBacklogExpired));
    return result;
  }


  failQueued(error: Error): void {
    for (const seq of [...this.#live]) this.#end(seq, () => error);
    this.#latch.check();
  }

  close(openWaitMs = this.#exitTimeoutMs): Promise<void> {
    if (this.#latch.closed) return this.#latch.close();
    const done = this.#latch.close();
    // The model is off the lookup path: an idle sequence gets no more requests. It ends now, so
    // that its slot serves the backlog's waiting requests; what still waits after openWaitMs too.
    const unloading = (seq: Sequence) => sequenceEndedByUnload(seq.id.text, this.#model);
    this.#endOpen((seq) => seq.waiting.length === 0 && seq.executing === 0, unloading);
    if (this.#live.size > 0) setTimeout(() => this.#endOpen(() => true, unloading), openWaitMs).unref();
    return done;
  }

  #endOpen(which: (seq: Sequence) => boolean, error: (seq: Sequence) => Error): void {
    for (const seq of [...this.#live]) if (which(seq)) this.#end(seq, () => error(seq));
    this.#fillSlots();
    this.#latch.check();
  }

  /** A slot on the instance reserve() picks; false when none is free. */
  #place(seq: Sequence): boolean {
    const instance = this.#pool.reserve(seq.id.key, this.#room);
    const lane = instance && this.#lanes.get(instance);
    if (!lane?.hasFreeSlot) {
      if (instance) this.#pool.release(seq.id.key);
      return false;
    }
    lane.take(seq);
    this.#touch(seq);
    this.#run(lane);
    return true;
  }

  /** Backlogged sequences, in order, into the slots that are free now. */
  #fillSlots(): void {
    while (this.#backlog.length > 0 && this.#place(this.#backlog[0]!)) this.#backlog.shift();
  }

  /** Its idle clock starts again; when max_sequence_idle_microseconds pass, its slot goes (none running). */
  #touch(seq: Sequence): void {
    seq.touch(this.#idleMs, () => {
      if (seq.waiting.length > 0 || seq.executing > 0) return this.#touch(seq);
      seq.ended = true;
      this.#settled(seq);
    });
  }

  #cancel(seq: Sequence, step: Step): void {
    const i = seq.waiting.indexOf(step);
    if (i < 0) return;
    seq.waiting.splice(i, 1);
    this.#waiting--;
    step.q.cancel();
    this.#settled(seq);
  }

  /** Something of `seq` ended: once it is finished its slot goes to the next sequence. */
  #settled(seq: Sequence): void {
    if (seq.finished && this.#live.delete(seq)) {
      this.#release(seq);
      this.#fillSlots();
    }
    this.#latch.check();
  }

  #release(seq: Sequence): void {
    if (this.#open.get(seq.id.key) === seq) this.#open.delete(seq.id.key);
    if (seq.idle) clearTimeout(seq.idle);
    seq.idle = null;
    const lane = seq.lane;
    if (lane) {
      lane.free(seq);
      this.#pool.release(seq.id.key);
    } else {
      const i = this.#backlog.indexOf(seq);
      if (i >= 0) this.#backlog.splice(i, 1);
    }
    this.#live.delete(seq);
  }

  /** Ends `seq` now: its waiting requests fail with `error()`; one running finishes. */
  #end(seq: Sequence, error: () => Error): void {
    this.#waiting -= seq.waiting.length;
    for (const step of seq.waiting.splice(0)) step.q.fail(error());
    this.#ended(seq);
    if (seq.executing === 0) this.#release(seq);
  }

  /** The lane's instance died or left: its sequences end, naming it. */
  #laneDied(lane: Lane): void {
    this.#lanes.delete(lane.instance);
    if (lane.timer) clearTimeout(lane.timer);
    const name = lane.instance.name;
    for (const seq of lane.sequences()) {
      if (!seq.finished && this.#open.get(seq.id.key) === seq) this.#lost.remember(seq.id.key, name);
      this.#end(seq, () => sequenceInstanceDied(seq.id.text, this.#model, name));
      this.#release(seq);
    }
    this.#latch.check();
  }

  /** The lane's next call, when its instance is free and its rule says so. */
  #run(lane: Lane): void {
    if (lane.busy || this.#lanes.get(lane.instance) !== lane) return;
    const state = lane.instance.state;
    if (state === "dead" || state === "starting") return;
    const batch = lane.nextBatch(this.#rule, () => this.#run(lane));
    if (batch.length === 0) return;
    const steps = batch.map((seq) => seq.waiting.shift()!);
    for (const seq of batch) seq.executing++;
    this.#waiting -= steps.length;
    this.#executing += steps.length;
    lane.busy = true;
    const again = new Set<QueuedRequest>();
    void executeCall(lane.instance, steps.map((s, i) => stamped(s, batch[i]!)), () => {
      lane.busy = false;
      this.#executing -= steps.length;
      batch.forEach((seq, i) => {
        seq.executing--;
        const step = steps[i]!;
        if (!again.has(step.q)) {
          if (this.#iterative) this.#ended(seq);
        } else if (seq.lane === lane) this.#again(seq, step);
        else step.q.fail(sequenceInstanceDied(seq.id.text, this.#model, lane.instance.name)); // its slot is gone
      });
      if (lane.instance.state === "dead" && this.#lanes.get(lane.instance) === lane) this.#laneDied(lane);
      for (const seq of batch) this.#settled(seq);
      this.#run(lane);
    }, (q) => again.add(q));
  }

  /** Iterative: the handler asked for `step` to run again; it goes first in its sequence, without START. */
  #again(seq: Sequence, step: Step): void {
    const q = step.q;
    if (q.request.signal?.aborted) {
      q.cancel();
      return this.#ended(seq);
    }
    q.request = this.#controls.withControls(step.base, seq.id, false, false);
    seq.waiting.unshift({ ...step, start: false, end: false }); // its arrival time kept: it is the oldest
    this.#waiting++;
    q.watchAbort(() => this.#cancel(seq, seq.waiting.find((w) => w.q === q)!));
    this.#touch(seq);
  }

  /** No request joins `seq` any more (its END ran, or an iterative request did not run again). */
  #ended(seq: Sequence): void {
    seq.ended = true;
    if (this.#open.get(seq.id.key) === seq) this.#open.delete(seq.id.key);
  }
}
