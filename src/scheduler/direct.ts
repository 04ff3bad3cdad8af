/**
 * Without dynamic batching, Triton runs each request alone, in arrival order, on the next free
 * instance. Requests wait in one FIFO; the least-busy live instance takes the head.
 *
 * An instance may hold several calls: it still executes them one at a time, but the next ones
 * already wait in its shared memory, so the stub never idles through an IPC round trip. How many
 * depends on the handler's speed: a fast one (isFast, instance-ring.ts) gets DEEP calls, since then
 * the wake-ups saved are most of the cost (+35–45% throughput for add_sub over HTTP at c=64); a slow
 * one gets SHALLOW, so that requests wait here, where a cancellation removes them and a crash of the
 * stub cannot take them down with it. Which instance: the least busy, round robin among equals.
 */
import { cancelled, toServerError, unavailable } from "../errors/index.js";
import type { InstanceResult, ModelInstance } from "../backends/backend.js";
import { markDispatched, markEnqueued } from "../core/statistics.js";
import type { CoreRequest } from "../core/types.js";
import { InstanceRing, isFast } from "./instance-ring.js";
import type { Scheduler } from "./scheduler.js";

const SHALLOW = 2;
const DEEP = 8;

/** Calls an instance may hold: DEEP once its handler proved fast, else SHALLOW. */
export function pipelineDepth(instance: ModelInstance): number {
  return isFast(instance) ? DEEP : SHALLOW;
}

interface Queued {
  request: CoreRequest;
  resolve(result: InstanceResult): void;
  reject(err: Error): void;
  onAbort?: () => void;
}

export class DirectScheduler implements Scheduler {
  readonly #model: string;
  readonly #ring = new InstanceRing();
  readonly #queue: Queued[] = [];
  #executing = 0;
  #draining: (() => void) | null = null;
  #closed = false;

  constructor(model: string) {
    this.#model = model;
  }

  get pending(): number {
    return this.#queue.length + this.#executing;
  }

  get queued(): number {
    return this.#queue.length;
  }

  setInstances(instances: readonly ModelInstance[]): void {
    this.#ring.set(instances);
    this.#dispatch();
  }

  enqueue(request: CoreRequest): Promise<InstanceResult> {
    if (this.#closed) return Promise.reject(unavailable(`model '${this.#model}' is unloading`));
    return new Promise((resolve, reject) => {
      const item: Queued = { request, resolve, reject };
      const signal = request.signal;
      if (signal?.aborted) return reject(cancelled(`request for model '${this.#model}' was cancelled`));
      markEnqueued(request);
      this.#queue.push(item);
      this.#dispatch();
      // Still queued (no instance had room): cancelled now, it leaves the queue and never reaches
      // a stub. (A request dispatched at once needs no listener here: the instance has its own.)
      if (signal && this.#queue[this.#queue.length - 1] === item) {
        item.onAbort = () => {
          const i = this.#queue.indexOf(item);
          if (i < 0) return;
          this.#queue.splice(i, 1);
          reject(cancelled(`request for model '${this.#model}' was cancelled`));
          this.#checkDrained();
        };
        signal.addEventListener("abort", item.onAbort, { once: true });
      }
    });
  }

  failQueued(error: Error): void {
    for (const item of this.#queue.splice(0)) {
      if (item.onAbort) item.request.signal!.removeEventListener("abort", item.onAbort);
      item.reject(error);
    }
    this.#checkDrained();
  }

  drain(): Promise<void> {
    this.#closed = true;
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#draining = resolve;
    });
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const instance = this.#ring.find(pipelineDepth);
      if (!instance) return;
      this.#ring.took(instance);
      const item = this.#queue.shift()!;
      if (item.onAbort) item.request.signal!.removeEventListener("abort", item.onAbort);
      this.#executing++;
      markDispatched(item.request);
      instance.execute([item.request]).then(
        (results) => {
          item.resolve(results[0]);
          this.#settled();
        },
        (err) => {
          item.reject(toServerError(err));
          this.#settled();
        },
      );
    }
  }

  /** A call ended: its instance has room again. */
  #settled(): void {
    this.#executing--;
    this.#dispatch();
    this.#checkDrained();
  }

  #checkDrained(): void {
    if (this.#draining && this.pending === 0) {
      const done = this.#draining;
      this.#draining = null;
      done();
    }
  }
}
