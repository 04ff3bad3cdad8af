/**
 * The dynamic batcher's queue: per-priority levels, each with its queue policy (max_queue_size, a
 * timeout whose expiry REJECTs or DELAYs), and the choice of the next batch's candidates. No
 * timers and no instances here: the batcher (dynamic-batcher.ts) decides when a batch goes.
 *
 * Costs per request, whatever the queue's length: each level keeps two linked FIFOs (in time,
 * then delayed), so a batch is always taken from their fronts and a cancellation or timeout
 * removes its request in O(1); forming a batch walks only the requests it takes. Queue timeouts
 * are kept in one heap, so the earliest is O(1) to see.
 */
import type { ModelConfig, ModelQueuePolicy } from "../config/schema.js";
import type { CoreRequest } from "../core/types.js";
import { DeadlineHeap, type HeapItem } from "./deadline-heap.js";
import { LinkedQueue, type Linked } from "./linked-queue.js";
import type { QueuedRequest } from "./queued-request.js";

/** A request waiting in the batch queue. */
export interface Waiting extends Linked<Waiting>, HeapItem {
  q: QueuedRequest;
  rows: number;
  /** Requests with the same key may share a batch. */
  shapeKey: string;
  level: number;
  enqueuedMs: number;
  /** Its queue timeout expired with action DELAY: it now waits in its level's delayed queue. */
  delayed: boolean;
  /** Arrival order (also the preserve_ordering sequence). */
  seq: number;
  /** When its queue timeout expires (performance.now() ms); Infinity without one. (HeapItem) */
  deadline: number;
}

/** The oldest compatible requests that fit one call; full: nothing more could join. */
export interface Candidate {
  batch: Waiting[];
  rows: number;
  full: boolean;
  oldestMs: number;
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
  inTime: LinkedQueue<Waiting>;
  /** By arrival (seq), as the in-time queue: expiry order may differ when timeouts differ. */
  delayed: LinkedQueue<Waiting>;
}

function policyOf(p: ModelQueuePolicy | undefined): LevelPolicy {
  return {
    timeoutUs: p?.default_timeout_microseconds ?? 0,
    allowOverride: p?.allow_timeout_override ?? false,
    action: p?.timeout_action === "DELAY" ? "DELAY" : "REJECT",
    maxQueueSize: p?.max_queue_size ?? 0,
  };
}

/** Non-batch dims of every input, in order: requests with equal keys can share a batch. */
function shapeKey(r: CoreRequest): string {
  return r.inputs.map((t) => `${t.name}:${t.shape.slice(1).join("x")}`).sort().join("|");
}

function rowsOf(r: CoreRequest): number {
  const first = r.inputs[0];
  return first && first.shape.length > 0 ? first.shape[0] : 1;
}

export class BatchQueue {
  readonly #maxRows: number;
  readonly #ragged: boolean;
  readonly #defaultLevel: number;
  /** Index l holds priority level l + 1 (1 = highest). */
  readonly #levels: Level[];
  /** Queued requests with a queue timeout, earliest first. */
  readonly #timeouts = new DeadlineHeap<Waiting>();
  #size = 0;

  constructor(cfg: ModelConfig) {
    const db = cfg.dynamic_batching!;
    this.#maxRows = Math.max(1, cfg.max_batch_size);
    this.#ragged = cfg.input.length > 0 && cfg.input.every((i) => i.allow_ragged_batch);
    const levels = Math.max(1, db.priority_levels ?? 0);
    this.#defaultLevel = Math.min(levels, Math.max(1, db.default_priority_level || levels));
    const overrides = (db.priority_queue_policy ?? {}) as Record<string, ModelQueuePolicy>;
    this.#levels = Array.from({ length: levels }, (_, l) => ({
      policy: policyOf(overrides[String(l + 1)] ?? db.default_queue_policy),
      inTime: new LinkedQueue<Waiting>(),
      delayed: new LinkedQueue<Waiting>(),
    }));
  }

  /** Requests waiting, in every level. */
  get size(): number {
    return this.#size;
  }

  /** The earliest queue timeout (performance.now() ms); Infinity when none. */
  get nextTimeout(): number {
    return this.#timeouts.peek()?.deadline ?? Infinity;
  }

  /** The level `request` would wait at; null when that level's queue is full. */
  admit(request: CoreRequest): number | null {
    const level = this.#levelOf(request);
    const lv = this.#levels[level - 1];
    const max = lv.policy.maxQueueSize;
    return max > 0 && lv.inTime.size + lv.delayed.size >= max ? null : level;
  }

  /** Queues `q` at `level` (from admit()), in time, with its queue timeout. */
  push(q: QueuedRequest, level: number, seq: number): Waiting {
    const lv = this.#levels[level - 1];
    const w: Waiting = {
      q, rows: rowsOf(q.request), shapeKey: this.#ragged ? "" : shapeKey(q.request),
      level, enqueuedMs: performance.now(), delayed: false, seq, deadline: Infinity, heapAt: -1,
      queue: null, prev: null, next: null,
    };
    const timeoutUs = this.#timeoutOf(q.request, lv.policy);
    if (timeoutUs > 0) {
      w.deadline = w.enqueuedMs + timeoutUs / 1000;
      this.#timeouts.push(w);
    }
    lv.inTime.push(w);
    this.#size++;
    return w;
  }

  /** Takes a waiting request out (cancelled, timed out); false when it already left. */
  remove(w: Waiting): boolean {
    if (!w.queue?.remove(w)) return false;
    this.#size--;
    this.#timeouts.remove(w);
    return true;
  }

  /** Takes a batch (from candidate()) out: it goes to an instance. */
  take(batch: readonly Waiting[]): void {
    for (const w of batch) this.remove(w);
  }

  /** Takes everything out, in serving order. */
  clear(): Waiting[] {
    const out: Waiting[] = [];
    for (const lv of this.#levels) out.push(...lv.inTime.clear(), ...lv.delayed.clear());
    for (const w of out) this.#timeouts.remove(w);
    this.#size = 0;
    return out;
  }

  /**
   * Queue timeouts due by `now`: a DELAY one moves behind its level's in-time requests; a REJECT
   * one is taken out and returned, for the caller to fail.
   */
  expireDue(now: number): Waiting[] {
    const rejected: Waiting[] = [];
    for (let w = this.#timeouts.peek(); w && w.deadline <= now; w = this.#timeouts.peek()) {
      this.#timeouts.pop();
      const lv = this.#levels[w.level - 1];
      if (lv.policy.action === "DELAY") {
        lv.inTime.remove(w);
        w.delayed = true;
        let at = lv.delayed.last; // usually the last: requests mostly expire in arrival order
        while (at && at.seq > w.seq) at = at.prev;
        lv.delayed.insertAfter(at, w);
      } else if (this.remove(w)) {
        rejected.push(w);
      }
    }
    return rejected;
  }

  /**
   * The oldest compatible requests that fit in one call, in serving order (by level, in time
   * before delayed, then arrival); full: nothing more could join. Walks only what it takes.
   */
  candidate(): Candidate {
    const batch: Waiting[] = [];
    let rows = 0;
    let oldestMs = Infinity;
    for (const lv of this.#levels) {
      for (const queue of [lv.inTime, lv.delayed]) {
        for (let w = queue.first; w; w = w.next) {
          // The next request cannot join: what we have is all this batch will get. (A request
          // larger than max_batch_size, which validation refuses, would still go alone.)
          if (batch.length > 0 && (w.shapeKey !== batch[0].shapeKey || rows + w.rows > this.#maxRows)) {
            return { batch, rows, full: true, oldestMs };
          }
          batch.push(w);
          rows += w.rows;
          if (w.enqueuedMs < oldestMs) oldestMs = w.enqueuedMs;
        }
      }
    }
    return { batch, rows, full: rows >= this.#maxRows, oldestMs };
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
}
