/**
 * Without dynamic batching, Triton runs each request alone, in arrival order, on the next free
 * instance. Requests wait in one FIFO; the least-busy live instance takes the head.
 *
 * An instance may hold several calls: it still executes them one at a time, but the next ones
 * already wait in its shared memory, so the stub never idles through an IPC round trip. How many
 * depends on the handler's speed: a fast one (isFast, instance-pool.ts) gets DEEP calls, since then
 * the wake-ups saved are most of the cost (+35–45% throughput for add_sub over HTTP at c=64); a slow
 * one gets SHALLOW, so that requests wait here, where a cancellation removes them and a crash of the
 * stub cannot take them down with it. Which instance: the least busy, round robin among equals.
 */
import type { ModelInstance } from "../backends/backend.js";
import { markEnqueued } from "../core/statistics.js";
import type { CoreRequest } from "../core/types.js";
import { CloseLatch } from "./close-latch.js";
import { InstancePool, isFast } from "./instance-pool.js";
import { QueuedRequest, executeCall } from "./queued-request.js";
import type { RequestOutputs, Scheduler } from "./scheduler.js";

const SHALLOW = 2;
const DEEP = 8;

/** Calls an instance may hold: DEEP once its handler proved fast, else SHALLOW. */
export function pipelineDepth(instance: ModelInstance): number {
  return isFast(instance) ? DEEP : SHALLOW;
}

export class DirectScheduler implements Scheduler {
  readonly #model: string;
  readonly #pool = new InstancePool();
  readonly #queue: QueuedRequest[] = [];
  readonly #latch: CloseLatch;
  #executing = 0;

  constructor(model: string) {
    this.#model = model;
    this.#latch = new CloseLatch(model, () => this.pending);
  }

  get pending(): number {
    return this.#queue.length + this.#executing;
  }

  get queued(): number {
    return this.#queue.length;
  }

  setInstances(instances: readonly ModelInstance[]): void {
    this.#pool.set(instances);
    this.#dispatch();
  }

  enqueue(request: CoreRequest): Promise<RequestOutputs> {
    if (this.#latch.closed) return Promise.reject(this.#latch.refusal());
    const q = new QueuedRequest(request, this.#model);
    if (q.cancelledOnArrival()) return q.result;
    markEnqueued(request);
    this.#queue.push(q);
    this.#dispatch();
    // Still queued (no instance had room): cancelled now, it leaves the queue and never reaches
    // a stub. (A request dispatched at once needs no listener here: the instance has its own.)
    if (this.#queue[this.#queue.length - 1] === q) q.watchAbort(() => this.#cancel(q));
    return q.result;
  }

  failQueued(error: Error): void {
    for (const q of this.#queue.splice(0)) q.fail(error);
    this.#latch.check();
  }

  close(): Promise<void> {
    return this.#latch.close();
  }

  #cancel(q: QueuedRequest): void {
    const i = this.#queue.indexOf(q);
    if (i < 0) return;
    this.#queue.splice(i, 1);
    q.cancel();
    this.#latch.check();
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const instance = this.#pool.find(pipelineDepth);
      if (!instance) return;
      this.#pool.took(instance);
      const q = this.#queue.shift()!;
      this.#executing++;
      void executeCall(instance, [q], this.#callEnded);
    }
  }

  /** A call ended: its instance has room again. */
  readonly #callEnded = (): void => {
    this.#executing--;
    this.#dispatch();
    this.#latch.check();
  };
}
