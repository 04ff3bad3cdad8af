/**
 * Triton's dynamic batcher: requests wait in per-priority queues (batch-queue.ts); when an
 * instance is free, the oldest compatible requests are joined into one call. A batch goes at once
 * when it reaches the largest preferred size (or max_batch_size); otherwise it waits for more until
 * the oldest request has waited max_queue_delay_microseconds. A batch never exceeds max_batch_size
 * rows, and requests whose non-batch shapes differ are not joined (unless every input allows
 * ragged batches).
 *
 * Queue policy per priority level: max_queue_size (UNAVAILABLE when full) and a timeout
 * (default_timeout_microseconds, or the request's "timeout" parameter where allowed) whose expiry
 * REJECTs the request or DELAYs it behind every request still in time.
 *
 * Calls go round robin: the least busy instance, and among equals the one after the instance
 * that took the last call (instance-pool.ts). An instance whose handler proved fast may hold one
 * call ahead, but only a batch that waiting could not grow (full, or at the largest preferred
 * size): it waits in the stub's memory instead of here, so the stub does not idle through a round
 * trip, and no batch is sent smaller than it would have been.
 *
 * One timer serves the whole batcher, armed to the earliest deadline (the oldest request's
 * max_queue_delay, or the first queue timeout) and re-armed only when that deadline moves earlier.
 */
import { queueFull, requestTimeoutExpired } from "../errors/index.js";
import type { ModelInstance } from "../backends/backend.js";
import type { ModelConfig } from "../config/schema.js";
import { markEnqueued, markRejected } from "../core/statistics.js";
import type { CoreRequest } from "../core/types.js";
import { BatchQueue, type Waiting } from "./batch-queue.js";
import { CloseLatch } from "./close-latch.js";
import { InOrder } from "./in-order.js";
import { InstancePool, isFast, type Room } from "./instance-pool.js";
import { QueuedRequest, executeCall } from "./queued-request.js";
import type { RequestOutputs, Scheduler } from "./scheduler.js";

/** An idle instance takes any batch that is ready. */
const IDLE: Room = () => 1;
/** A fast instance may hold one batch ahead (only a complete one: see the top of the file). */
const AHEAD: Room = (instance) => (isFast(instance) ? 2 : 1);

export class DynamicBatcher implements Scheduler {
  readonly #model: string;
  readonly #maxPreferred: number;
  readonly #delayMs: number;
  readonly #queue: BatchQueue;
  readonly #pool = new InstancePool();
  readonly #latch: CloseLatch;
  /** preserve_ordering: results held until every earlier request has its answer. */
  readonly #order: InOrder | null;
  #executing = 0;
  #seq = 0;
  /** The one timer, and the deadline it is armed to (Infinity when none is armed). */
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Infinity;

  constructor(cfg: ModelConfig) {
    const db = cfg.dynamic_batching!;
    this.#model = cfg.name;
    const maxRows = Math.max(1, cfg.max_batch_size);
    const preferred = (db.preferred_batch_size ?? []).filter((n) => n > 0 && n <= maxRows);
    this.#maxPreferred = preferred.length > 0 ? Math.max(...preferred) : maxRows;
    this.#delayMs = (db.max_queue_delay_microseconds ?? 0) / 1000;
    this.#order = db.preserve_ordering ? new InOrder() : null;
    this.#queue = new BatchQueue(cfg);
    this.#latch = new CloseLatch(cfg.name, () => this.pending);
  }

  get pending(): number {
    return this.#queue.size + this.#executing;
  }

  get queued(): number {
    return this.#queue.size;
  }

  setInstances(instances: readonly ModelInstance[]): void {
    this.#pool.set(instances);
    this.#schedule();
  }

  enqueue(request: CoreRequest): Promise<RequestOutputs> {
    if (this.#latch.closed) return Promise.reject(this.#latch.refusal());
    const level = this.#queue.admit(request);
    if (level === null) {
      markRejected(request);
      return Promise.reject(queueFull());
    }
    const seq = this.#seq++;
    const q = new QueuedRequest(request, this.#model);
    if (!q.cancelledOnArrival()) {
      const w = this.#queue.push(q, level, seq);
      q.watchAbort(() => this.#leave(w) && q.cancel());
      markEnqueued(request);
    }
    this.#schedule();
    return this.#order ? this.#order.deliver(seq, q.result) : q.result;
  }

  failQueued(error: Error): void {
    for (const w of this.#queue.clear()) w.q.fail(error);
    this.#disarm();
    this.#latch.check();
  }

  close(): Promise<void> {
    return this.#latch.close();
  }

  /** Takes a waiting request out (cancelled); false when it already left. */
  #leave(w: Waiting): boolean {
    if (!this.#queue.remove(w)) return false;
    if (this.#queue.size === 0) this.#disarm();
    this.#latch.check();
    return true;
  }

  #schedule(): void {
    let wakeAt = Infinity;
    while (this.#queue.size > 0) {
      let instance = this.#pool.find(IDLE);
      const ahead = !instance;
      if (ahead) {
        instance = this.#pool.find(AHEAD);
        if (!instance) break; // a call finishing calls #schedule again
      }
      const { batch, rows, full, oldestMs } = this.#queue.candidate();
      const complete = full || rows >= this.#maxPreferred;
      if (!complete) {
        if (ahead) break; // it can still grow while it waits here for an idle instance
        if (performance.now() - oldestMs < this.#delayMs) {
          // Wait for more requests, at most until the oldest has waited the configured delay.
          wakeAt = oldestMs + this.#delayMs;
          break;
        }
      }
      this.#pool.took(instance!);
      this.#send(instance!, full ? batch : this.#preferredPart(batch, rows));
    }
    this.#arm(Math.min(wakeAt, this.#queue.nextTimeout));
  }

  /** After the delay, a preferred size when one fits exactly; else what is there. */
  #preferredPart(batch: Waiting[], rows: number): Waiting[] {
    if (rows < this.#maxPreferred) return batch;
    const take: Waiting[] = [];
    let acc = 0;
    for (const w of batch) {
      // The first request goes even when it alone is past the size: else nothing would ever
      // take it (an empty call, again after each call ends).
      if (take.length > 0 && acc + w.rows > this.#maxPreferred) break;
      take.push(w);
      acc += w.rows;
    }
    return take;
  }

  #send(instance: ModelInstance, batch: Waiting[]): void {
    this.#queue.take(batch);
    this.#executing += batch.length;
    void executeCall(instance, batch.map((w) => w.q)).finally(() => {
      this.#executing -= batch.length;
      this.#schedule();
      this.#latch.check();
    });
  }

  /**
   * Keeps the one timer armed to `at` or earlier. An armed timer that fires earlier than needed
   * only re-evaluates, so it is replaced only when the deadline moves earlier (never per enqueue).
   */
  #arm(at: number): void {
    if (at === Infinity) {
      if (this.#queue.size === 0) this.#disarm();
      return;
    }
    if (this.#timer && this.#timerAt <= at) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#wake, Math.max(0, at - performance.now()));
    // The queue holds no socket or process: what it waits for (clients, stubs) keeps the process alive.
    this.#timer.unref();
  }

  #disarm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Infinity;
  }

  readonly #wake = (): void => {
    this.#timer = null;
    this.#timerAt = Infinity;
    // Queue timeouts due now: REJECT fails the request (a DELAY one was moved back by the queue).
    const expired = this.#queue.expireDue(performance.now());
    for (const w of expired) {
      markRejected(w.q.request);
      w.q.settle({ error: requestTimeoutExpired() });
    }
    if (expired.length > 0) {
      if (this.#queue.size === 0) this.#disarm();
      this.#latch.check();
    }
    this.#schedule();
  };
}
