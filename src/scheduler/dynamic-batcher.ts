/**
 * Triton's dynamic batcher: requests wait in per-priority queues; when an instance is free, the
 * oldest compatible requests are joined into one call. A batch goes at once when it reaches the
 * largest preferred size (or max_batch_size); otherwise it waits for more until the oldest
 * request has waited max_queue_delay_microseconds. A batch never exceeds max_batch_size rows, and
 * requests whose non-batch shapes differ are not joined (unless every input allows ragged batches).
 *
 * Queue policy per priority level: max_queue_size (UNAVAILABLE when full) and a timeout
 * (default_timeout_microseconds, or the request's "timeout" parameter where allowed) whose expiry
 * REJECTs the request or DELAYs it behind every request still in time.
 *
 * Calls go round robin: the least busy instance, and among equals the one after the instance
 * that took the last call (instance-ring.ts). An instance whose handler proved fast may hold one
 * call ahead, but only a batch that waiting could not grow (full, or at the largest preferred
 * size): it waits in the stub's memory instead of here, so the stub does not idle through a round
 * trip, and no batch is sent smaller than it would have been.
 *
 * Costs per request, whatever the queue's length: each level keeps two linked FIFOs (in time,
 * then delayed), so a batch is always taken from their fronts and a cancellation or timeout
 * removes its request in O(1); forming a batch walks only the requests it takes. One timer serves
 * the whole batcher, armed to the earliest deadline (the oldest request's max_queue_delay, or the
 * first queue timeout, kept in a heap) and re-armed only when that deadline moves earlier.
 */
import { cancelled, toServerError, unavailable } from "../errors/index.js";
import type { InstanceResult, ModelInstance } from "../backends/backend.js";
import type { ModelConfig, ModelQueuePolicy } from "../config/schema.js";
import { markDispatched, markEnqueued, markRejected } from "../core/statistics.js";
import type { CoreRequest } from "../core/types.js";
import { DeadlineHeap } from "./deadline-heap.js";
import { InstanceRing, isFast, type Room } from "./instance-ring.js";
import { LinkedQueue } from "./linked-queue.js";
import type { Scheduler } from "./scheduler.js";

interface Pending {
  request: CoreRequest;
  rows: number;
  /** Requests with the same key may share a batch. */
  shapeKey: string;
  level: number;
  enqueuedMs: number;
  /** Its queue timeout expired with action DELAY: it now waits in its level's delayed queue. */
  delayed: boolean;
  seq: number;
  /** When its queue timeout expires (performance.now() ms); Infinity without one. */
  deadline: number;
  /** Its slot in the timeout heap, -1 when not there. */
  heapAt: number;
  /** The queue it waits in (null once it left: sent, cancelled, timed out, failed). */
  queue: LinkedQueue<Pending> | null;
  prev: Pending | null;
  next: Pending | null;
  onAbort?: () => void;
  resolve(r: InstanceResult): void;
  reject(e: Error): void;
}

interface LevelPolicy {
  timeoutUs: number;
  allowOverride: boolean;
  action: "REJECT" | "DELAY";
  maxQueueSize: number;
}

/** One priority level's requests, in the order they are served: in time, then delayed. */
interface Level {
  policy: LevelPolicy;
  inTime: LinkedQueue<Pending>;
  /** By arrival (seq), as the in-time queue: expiry order may differ when timeouts differ. */
  delayed: LinkedQueue<Pending>;
}

/** Observes each call the batcher sends (statistics). */
export type BatchObserver = (batch: { rows: number; requests: number; queueUs: number[] }) => void;

function policyOf(p: ModelQueuePolicy | undefined): LevelPolicy {
  return {
    timeoutUs: p?.default_timeout_microseconds ?? 0,
    allowOverride: p?.allow_timeout_override ?? false,
    action: p?.timeout_action === "DELAY" ? "DELAY" : "REJECT",
    maxQueueSize: p?.max_queue_size ?? 0,
  };
}

/** An idle instance takes any batch that is ready. */
const IDLE: Room = () => 1;
/** A fast instance may hold one batch ahead (only a complete one: see the top of the file). */
const AHEAD: Room = (instance) => (isFast(instance) ? 2 : 1);

export class DynamicBatcher implements Scheduler {
  readonly #model: string;
  readonly #maxRows: number;
  readonly #maxPreferred: number;
  readonly #delayMs: number;
  readonly #preserveOrdering: boolean;
  readonly #ragged: boolean;
  readonly #defaultLevel: number;
  /** Index l holds priority level l + 1 (1 = highest). */
  readonly #levels: Level[];
  /** Queued requests with a queue timeout, earliest first. */
  readonly #timeouts = new DeadlineHeap<Pending>();
  readonly #ring = new InstanceRing();
  /** Requests in the levels' queues. */
  #queued = 0;
  #executing = 0;
  #seq = 0;
  /** The one timer, and the deadline it is armed to (Infinity when none is armed). */
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Infinity;
  #draining: (() => void) | null = null;
  #closed = false;
  /** preserve_ordering: results held until every earlier request has its answer. */
  #nextToDeliver = 0;
  readonly #finished = new Map<number, () => void>();
  observer: BatchObserver | null = null;

  constructor(cfg: ModelConfig) {
    const db = cfg.dynamic_batching!;
    this.#model = cfg.name;
    this.#maxRows = Math.max(1, cfg.max_batch_size);
    const preferred = (db.preferred_batch_size ?? []).filter((n) => n > 0 && n <= this.#maxRows);
    this.#maxPreferred = preferred.length > 0 ? Math.max(...preferred) : this.#maxRows;
    this.#delayMs = (db.max_queue_delay_microseconds ?? 0) / 1000;
    this.#preserveOrdering = db.preserve_ordering ?? false;
    this.#ragged = cfg.input.length > 0 && cfg.input.every((i) => i.allow_ragged_batch);
    const levels = Math.max(1, db.priority_levels ?? 0);
    this.#defaultLevel = Math.min(levels, Math.max(1, db.default_priority_level || levels));
    const overrides = (db.priority_queue_policy ?? {}) as Record<string, ModelQueuePolicy>;
    this.#levels = Array.from({ length: levels }, (_, l) => ({
      policy: policyOf(overrides[String(l + 1)] ?? db.default_queue_policy),
      inTime: new LinkedQueue<Pending>(),
      delayed: new LinkedQueue<Pending>(),
    }));
  }

  get pending(): number {
    return this.#queued + this.#executing;
  }

  get queued(): number {
    return this.#queued;
  }

  setInstances(instances: readonly ModelInstance[]): void {
    this.#ring.set(instances);
    this.#schedule();
  }

  enqueue(request: CoreRequest): Promise<InstanceResult> {
    if (this.#closed) return Promise.reject(unavailable(`model '${this.#model}' is unloading`));
    const level = this.#levelOf(request);
    const lv = this.#levels[level - 1];
    const policy = lv.policy;
    if (policy.maxQueueSize > 0 && lv.inTime.size + lv.delayed.size >= policy.maxQueueSize) {
      markRejected(request);
      return Promise.reject(unavailable("Exceeds maximum queue size"));
    }
    const seq = this.#seq++;
    const settled = new Promise<InstanceResult>((resolve, reject) => {
      const signal = request.signal;
      if (signal?.aborted) return reject(cancelled(`request for model '${this.#model}' was cancelled`));
      const p: Pending = {
        request, rows: this.#rowsOf(request), shapeKey: this.#ragged ? "" : shapeKey(request),
        level, enqueuedMs: performance.now(), delayed: false, seq, deadline: Infinity, heapAt: -1,
        queue: null, prev: null, next: null, resolve, reject,
      };
      if (signal) {
        p.onAbort = () => this.#remove(p) && p.reject(cancelled(`request for model '${this.#model}' was cancelled`));
        signal.addEventListener("abort", p.onAbort, { once: true });
      }
      const timeoutUs = this.#timeoutOf(request, policy);
      if (timeoutUs > 0) {
        p.deadline = p.enqueuedMs + timeoutUs / 1000;
        this.#timeouts.push(p);
      }
      markEnqueued(request);
      lv.inTime.push(p);
      this.#queued++;
    });
    this.#schedule();
    return this.#preserveOrdering ? this.#inOrder(seq, settled) : settled;
  }

  failQueued(error: Error): void {
    for (const lv of this.#levels) {
      for (const p of [...lv.inTime.clear(), ...lv.delayed.clear()]) {
        this.#queued--;
        this.#detach(p);
        p.reject(error);
      }
    }
    this.#disarm();
    this.#checkDrained();
  }

  drain(): Promise<void> {
    this.#closed = true;
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#draining = resolve));
  }

  // A request's priority parameter: 1 is highest; 0, absent or out of range takes the default.
  #levelOf(r: CoreRequest): number {
    const p = Number(r.parameters.priority ?? 0);
    return Number.isInteger(p) && p >= 1 && p <= this.#levels.length ? p : this.#defaultLevel;
  }

  // The request's "timeout" (µs) may only shorten the level's default, and only where allowed.
  #timeoutOf(r: CoreRequest, policy: LevelPolicy): number {
    const asked = Number(r.parameters.timeout ?? 0);
    if (policy.allowOverride && Number.isFinite(asked) && asked > 0 && (policy.timeoutUs === 0 || asked < policy.timeoutUs)) return asked;
    return policy.timeoutUs;
  }

  #rowsOf(r: CoreRequest): number {
    const first = r.inputs[0];
    return first && first.shape.length > 0 ? first.shape[0] : 1;
  }

  /** Queue timeouts due by `now`: REJECT fails the request, DELAY moves it behind the in-time ones. */
  #expireDue(now: number): void {
    for (let p = this.#timeouts.peek(); p && p.deadline <= now; p = this.#timeouts.peek()) {
      this.#timeouts.pop();
      const lv = this.#levels[p.level - 1];
      if (lv.policy.action === "DELAY") {
        lv.inTime.remove(p);
        p.delayed = true;
        let at = lv.delayed.last; // usually the last: requests mostly expire in arrival order
        while (at && at.seq > p.seq) at = at.prev;
        lv.delayed.insertAfter(at, p);
      } else if (this.#remove(p)) {
        markRejected(p.request);
        p.reject(unavailable("Request timeout expired"));
      }
    }
  }

  /** Takes a queued request out (cancelled, timed out); false when it already left. */
  #remove(p: Pending): boolean {
    if (!p.queue?.remove(p)) return false;
    this.#queued--;
    this.#detach(p);
    if (this.#queued === 0) this.#disarm();
    this.#checkDrained();
    return true;
  }

  #detach(p: Pending): void {
    this.#timeouts.remove(p);
    if (p.onAbort) p.request.signal!.removeEventListener("abort", p.onAbort);
  }

  #schedule(): void {
    let wakeAt = Infinity;
    while (this.#queued > 0) {
      let instance = this.#ring.find(IDLE);
      const ahead = !instance;
      if (ahead) {
        instance = this.#ring.find(AHEAD);
        if (!instance) break; // a call finishing calls #schedule again
      }
      const { batch, rows, full, oldestMs } = this.#candidate();
      const complete = full || rows >= this.#maxPreferred;
      if (!complete) {
        if (ahead) break; // it can still grow while it waits here for an idle instance
        if (performance.now() - oldestMs < this.#delayMs) {
          // Wait for more requests, at most until the oldest has waited the configured delay.
          wakeAt = oldestMs + this.#delayMs;
          break;
        }
      }
      // After the delay, prefer a preferred size when one fits exactly; else send what is there.
      let take = batch;
      if (!full && rows >= this.#maxPreferred) {
        let acc = 0;
        take = [];
        for (const p of batch) {
          // The first request goes even when it alone is past the size: else nothing would ever
          // take it (an empty call, again after each call ends).
          if (take.length > 0 && acc + p.rows > this.#maxPreferred) break;
          take.push(p);
          acc += p.rows;
        }
      }
      this.#ring.took(instance!);
      this.#send(instance!, take);
    }
    this.#arm(Math.min(wakeAt, this.#timeouts.peek()?.deadline ?? Infinity));
  }

  /**
   * The oldest compatible requests that fit in one call, in serving order (by level, in time
   * before delayed, then arrival); full: nothing more could join. Walks only what it takes.
   */
  #candidate(): { batch: Pending[]; rows: number; full: boolean; oldestMs: number } {
    const batch: Pending[] = [];
    let rows = 0;
    let oldestMs = Infinity;
    for (const lv of this.#levels) {
      for (const queue of [lv.inTime, lv.delayed]) {
        for (let p = queue.first; p; p = p.next) {
          // The next request cannot join: what we have is all this batch will get. (A request
          // larger than max_batch_size, which validation refuses, would still go alone.)
          if (batch.length > 0 && (p.shapeKey !== batch[0].shapeKey || rows + p.rows > this.#maxRows)) {
            return { batch, rows, full: true, oldestMs };
          }
          batch.push(p);
          rows += p.rows;
          if (p.enqueuedMs < oldestMs) oldestMs = p.enqueuedMs;
        }
      }
    }
    return { batch, rows, full: rows >= this.#maxRows, oldestMs };
  }

  #send(instance: ModelInstance, batch: Pending[]): void {
    const now = performance.now();
    for (const p of batch) {
      p.queue!.remove(p);
      this.#queued--;
      this.#detach(p);
      markDispatched(p.request);
    }
    this.#executing += batch.length;
    this.observer?.({ rows: batch.reduce((n, p) => n + p.rows, 0), requests: batch.length, queueUs: batch.map((p) => (now - p.enqueuedMs) * 1000) });
    instance.execute(batch.map((p) => p.request)).then(
      (results) => batch.forEach((p, i) => p.resolve(results[i])),
      (err) => {
        const e = toServerError(err);
        batch.forEach((p) => p.reject(e));
      },
    ).finally(() => {
      this.#executing -= batch.length;
      this.#schedule();
      this.#checkDrained();
    });
  }

  /**
   * Keeps the one timer armed to `at` or earlier. An armed timer that fires earlier than needed
   * only re-evaluates, so it is replaced only when the deadline moves earlier (never per enqueue).
   */
  #arm(at: number): void {
    if (at === Infinity) {
      if (this.#queued === 0) this.#disarm();
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
    this.#expireDue(performance.now());
    this.#schedule();
  };

  #inOrder(seq: number, settled: Promise<InstanceResult>): Promise<InstanceResult> {
    return new Promise((resolve, reject) => {
      settled.then(
        (r) => this.#finished.set(seq, () => resolve(r)),
        (e) => this.#finished.set(seq, () => reject(e)),
      ).then(() => {
        while (this.#finished.has(this.#nextToDeliver)) {
          const deliver = this.#finished.get(this.#nextToDeliver)!;
          this.#finished.delete(this.#nextToDeliver++);
          deliver();
        }
      });
    });
  }

  #checkDrained(): void {
    if (this.#draining && this.pending === 0) {
      const done = this.#draining;
      this.#draining = null;
      done();
    }
  }
}

/** Non-batch dims of every input, in order: requests with equal keys can share a batch. */
function shapeKey(r: CoreRequest): string {
  return r.inputs.map((t) => `${t.name}:${t.shape.slice(1).join("x")}`).sort().join("|");
}

