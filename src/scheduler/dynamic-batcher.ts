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
 */
import { cancelled, toServerError, unavailable } from "../errors/index.js";
import type { InstanceResult, ModelInstance } from "../backends/backend.js";
import type { ModelConfig, ModelQueuePolicy } from "../config/schema.js";
import { markDispatched, markEnqueued, markRejected } from "../core/statistics.js";
import type { CoreRequest } from "../core/types.js";
import type { Scheduler } from "./scheduler.js";

interface Pending {
  request: CoreRequest;
  rows: number;
  /** Requests with the same key may share a batch. */
  shapeKey: string;
  level: number;
  enqueuedMs: number;
  delayed: boolean;
  seq: number;
  timer?: NodeJS.Timeout;
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

export class DynamicBatcher implements Scheduler {
  readonly #model: string;
  readonly #maxRows: number;
  readonly #preferred: number[];
  readonly #delayMs: number;
  readonly #preserveOrdering: boolean;
  readonly #ragged: boolean;
  readonly #defaultLevel: number;
  readonly #policies: LevelPolicy[];
  /** Index l holds priority level l + 1 (1 = highest). */
  readonly #queues: Pending[][];
  #instances: ModelInstance[] = [];
  #executing = 0;
  #seq = 0;
  #delayTimer: NodeJS.Timeout | null = null;
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
    this.#preferred = preferred.length > 0 ? [...preferred].sort((a, b) => a - b) : [this.#maxRows];
    this.#delayMs = (db.max_queue_delay_microseconds ?? 0) / 1000;
    this.#preserveOrdering = db.preserve_ordering ?? false;
    this.#ragged = cfg.input.length > 0 && cfg.input.every((i) => i.allow_ragged_batch);
    const levels = Math.max(1, db.priority_levels ?? 0);
    this.#defaultLevel = Math.min(levels, Math.max(1, db.default_priority_level || levels));
    const overrides = (db.priority_queue_policy ?? {}) as Record<string, ModelQueuePolicy>;
    this.#policies = Array.from({ length: levels }, (_, l) => policyOf(overrides[String(l + 1)] ?? db.default_queue_policy));
    this.#queues = Array.from({ length: levels }, () => []);
  }

  get pending(): number {
    return this.#queued() + this.#executing;
  }

  get queued(): number {
    return this.#queued();
  }

  setInstances(instances: readonly ModelInstance[]): void {
    this.#instances = [...instances];
    this.#schedule();
  }

  enqueue(request: CoreRequest): Promise<InstanceResult> {
    if (this.#closed) return Promise.reject(unavailable(`model '${this.#model}' is unloading`));
    const level = this.#levelOf(request);
    const policy = this.#policies[level - 1];
    const queue = this.#queues[level - 1];
    if (policy.maxQueueSize > 0 && queue.length >= policy.maxQueueSize) {
      markRejected(request);
      return Promise.reject(unavailable("Exceeds maximum queue size"));
    }
    const seq = this.#seq++;
    const settled = new Promise<InstanceResult>((resolve, reject) => {
      const p: Pending = {
        request, rows: this.#rowsOf(request), shapeKey: this.#ragged ? "" : shapeKey(request),
        level, enqueuedMs: performance.now(), delayed: false, seq, resolve, reject,
      };
      const signal = request.signal;
      if (signal?.aborted) return reject(cancelled(`request for model '${this.#model}' was cancelled`));
      if (signal) {
        p.onAbort = () => this.#remove(p) && p.reject(cancelled(`request for model '${this.#model}' was cancelled`));
        signal.addEventListener("abort", p.onAbort, { once: true });
      }
      const timeoutUs = this.#timeoutOf(request, policy);
      if (timeoutUs > 0) {
        p.timer = setTimeout(() => this.#expire(p, policy), timeoutUs / 1000);
        p.timer.unref();
      }
      markEnqueued(request);
      queue.push(p);
    });
    this.#schedule();
    return this.#preserveOrdering ? this.#inOrder(seq, settled) : settled;
  }

  failQueued(error: Error): void {
    for (const q of this.#queues) for (const p of q.splice(0)) this.#settle(p, () => p.reject(error));
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
    return Number.isInteger(p) && p >= 1 && p <= this.#queues.length ? p : this.#defaultLevel;
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

  #queued(): number {
    let n = 0;
    for (const q of this.#queues) n += q.length;
    return n;
  }

  #expire(p: Pending, policy: LevelPolicy): void {
    if (policy.action === "DELAY") {
      p.delayed = true; // served after everything still in time
      this.#schedule();
      return;
    }
    if (this.#remove(p)) {
      markRejected(p.request);
      p.reject(unavailable("Request timeout expired"));
    }
  }

  #remove(p: Pending): boolean {
    const q = this.#queues[p.level - 1];
    const i = q.indexOf(p);
    if (i < 0) return false;
    q.splice(i, 1);
    this.#detach(p);
    this.#checkDrained();
    return true;
  }

  #detach(p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    if (p.onAbort) p.request.signal!.removeEventListener("abort", p.onAbort);
  }

  #settle(p: Pending, finish: () => void): void {
    this.#detach(p);
    finish();
  }

  /** Requests in the order they are served: by level, in-time before delayed, then arrival. */
  #ordered(): Pending[] {
    const out: Pending[] = [];
    for (const q of this.#queues) {
      for (const p of q) if (!p.delayed) out.push(p);
      for (const p of q) if (p.delayed) out.push(p);
    }
    return out;
  }

  #freeInstance(): ModelInstance | undefined {
    let best: ModelInstance | undefined;
    for (const inst of this.#instances) {
      if (inst.state === "dead" || inst.state === "starting" || inst.pending > 0) continue;
      if (!best) best = inst;
    }
    return best;
  }

  #schedule(): void {
    if (this.#delayTimer) {
      clearTimeout(this.#delayTimer);
      this.#delayTimer = null;
    }
    for (;;) {
      if (this.#queued() === 0) return;
      const instance = this.#freeInstance();
      if (!instance) return; // a call finishing calls #schedule again
      const { batch, rows, full } = this.#candidate();
      const maxPreferred = this.#preferred[this.#preferred.length - 1];
      const oldest = Math.min(...batch.map((p) => p.enqueuedMs));
      const waited = performance.now() - oldest;
      if (!full && rows < maxPreferred && waited < this.#delayMs) {
        // Wait for more requests, at most until the oldest has waited the configured delay.
        this.#delayTimer = setTimeout(() => this.#schedule(), Math.max(0, this.#delayMs - waited));
        return;
      }
      // After the delay, prefer a preferred size when one fits exactly; else send what is there.
      let take = batch;
      if (!full && rows >= maxPreferred) {
        let acc = 0;
        take = [];
        for (const p of batch) {
          if (acc + p.rows > maxPreferred) break;
          take.push(p);
          acc += p.rows;
        }
      }
      this.#send(instance, take);
    }
  }

  /** The oldest compatible requests that fit in one call; full: nothing more could join. */
  #candidate(): { batch: Pending[]; rows: number; full: boolean } {
    const ordered = this.#ordered();
    const batch: Pending[] = [];
    let rows = 0;
    let full = false;
    for (const p of ordered) {
      if (batch.length > 0 && p.shapeKey !== batch[0].shapeKey) {
        full = true; // the next request cannot join: what we have is all this batch will get
        break;
      }
      if (rows + p.rows > this.#maxRows) {
        full = true;
        break;
      }
      batch.push(p);
      rows += p.rows;
    }
    if (rows >= this.#maxRows) full = true;
    return { batch, rows, full };
  }

  #send(instance: ModelInstance, batch: Pending[]): void {
    const now = performance.now();
    for (const p of batch) {
      const q = this.#queues[p.level - 1];
      q.splice(q.indexOf(p), 1);
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

