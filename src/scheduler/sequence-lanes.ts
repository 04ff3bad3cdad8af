/**
 * The sequence batcher's bookkeeping (sequence-batcher.ts is the policy over it): a Sequence is one
 * correlation id's requests in arrival order; a Lane is one instance's batch slots, each held by at
 * most one sequence for that sequence's lifetime (Triton's BatcherSequenceSlot). A lane runs one
 * call at a time, with at most one request per sequence, so a sequence's requests run in order.
 *
 * Which requests of a lane go together (Triton's two strategies), as a BatchRule:
 *  - direct: one slot per batch row (max_batch_size, at least 1); every ready slot goes at once,
 *    unless fewer than minimum_slot_utilization of the slots are ready and the oldest has waited
 *    less than max_queue_delay_microseconds;
 *  - oldest: max_candidate_sequences slots; a batch takes the oldest ready requests, up to
 *    max_batch_size, and goes at once when it reaches the largest preferred_batch_size, else
 *    once the oldest has waited max_queue_delay_microseconds.
 */
import type { ModelInstance } from "../backends/backend.js";
import type { ModelConfig } from "../config/schema.js";
import type { CoreRequest } from "../core/types.js";
import { REQUEST_FLAG } from "../ipc/protocol.js";
import { InOrder } from "./in-order.js";
import type { QueuedRequest } from "./queued-request.js";
import type { RequestOutputs } from "./scheduler.js";
import type { SequenceId } from "./sequence-controls.js";

/** One request of a sequence, waiting for its turn. */
export interface Step {
  q: QueuedRequest;
  /** The request as the client sent it (q.request adds the control inputs). */
  base: CoreRequest;
  /** Carries the START flag. */
  start: boolean;
  /** Carries the END flag: the sequence's slot is freed once it ran. */
  end: boolean;
  /** performance.now() at arrival (the oldest strategy's delay). */
  at: number;
  /** preserve_ordering: where its result goes once its lane hands it out in arrival order. */
  hand?: Hand;
}

/** The caller's end of a step's result under preserve_ordering: settled by its lane's InOrder. */
export interface Hand {
  resolve: (r: RequestOutputs) => void;
  reject: (err: unknown) => void;
  /** Numbered in a lane's arrival order (a backlogged step is numbered when its sequence gets a slot). */
  numbered: boolean;
}

/**
 * preserve_ordering: the caller's promise for `step`, settled by its lane in arrival order. A step
 * that ends before its sequence got a slot (it failed in the backlog) was never numbered and goes
 * straight through.
 */
export function handOut(step: Step): Promise<RequestOutputs> {
  return new Promise((resolve, reject) => {
    const hand: Hand = { resolve, reject, numbered: false };
    step.hand = hand;
    step.q.result.then((r) => hand.numbered || resolve(r), (err) => hand.numbered || reject(err));
  });
}

/**
 * The step's request as it goes to its instance: with the id and flags its handler sees, and the
 * slot, where the instance keeps the sequence's implicit state.
 */
export function stamped(step: Step, seq: Sequence): QueuedRequest {
  const flags = (step.start ? REQUEST_FLAG.SEQUENCE_START : 0) | (step.end ? REQUEST_FLAG.SEQUENCE_END : 0);
  step.q.request.sequence = { id: seq.id.value, flags, slot: seq.slot };
  return step.q;
}

export class Sequence {
  readonly id: SequenceId;
  readonly waiting: Step[] = [];
  /** The lane and slot it holds; null while it waits in the backlog. */
  lane: Lane | null = null;
  slot = -1;
  /** Requests of it in a call now (0 or 1). */
  executing = 0;
  /** END arrived: no request joins it any more; its slot goes once nothing is left. */
  ended = false;
  /** max_sequence_idle_microseconds, armed while it holds a slot. */
  idle: NodeJS.Timeout | null = null;
  /** The backlog timeout (its requests' "timeout"), armed while it waits for a slot. */
  #expiry: { at: number; timer: NodeJS.Timeout } | null = null;

  constructor(id: SequenceId) {
    this.id = id;
  }

  /** A request arrived or it got its slot: its idle clock starts again (`onIdle` after `ms`). */
  touch(ms: number, onIdle: () => void): void {
    if (!this.lane) return;
    if (this.idle) this.idle.refresh();
    else {
      this.idle = setTimeout(() => {
        this.idle = null;
        onIdle();
      }, ms);
      this.idle.unref();
    }
  }

  /** While in the backlog: `onExpire` in `ms` unless it gets a slot first (the earliest deadline counts). */
  expireIn(ms: number, onExpire: () => void): void {
    const at = performance.now() + ms;
    if (this.#expiry && this.#expiry.at <= at) return;
    if (this.#expiry) clearTimeout(this.#expiry.timer);
    this.#expiry = { at, timer: setTimeout(() => (this.#expiry = null, onExpire()), ms) };
    this.#expiry.timer.unref();
  }

  /** It got a slot, or ended: no backlog timeout any more. */
  placed(): void {
    if (this.#expiry) clearTimeout(this.#expiry.timer);
    this.#expiry = null;
  }

  /** Nothing waiting or running, and END seen (or released): the slot can go. */
  get finished(): boolean {
    return this.ended && this.waiting.length === 0 && this.executing === 0;
  }
}

/** Ids of sequences whose instance died, with its name, for their next request's error (bounded). */
export class LostSequences {
  readonly #lost = new Map<string, string>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  remember(key: string, instance: string): void {
    this.#lost.set(key, instance);
    // The oldest is forgotten first (its next request then gets the START text).
    if (this.#lost.size > this.#max) this.#lost.delete(this.#lost.keys().next().value!);
  }

  /** The instance `key` was lost with, once; undefined when it was not. */
  take(key: string): string | undefined {
    const instance = this.#lost.get(key);
    this.#lost.delete(key);
    return instance;
  }
}

export class Lane {
  readonly instance: ModelInstance;
  readonly slots: (Sequence | null)[];
  /** A call of this lane is at its instance. */
  busy = false;
  /** The delay timer of its batch rule, when one is armed. */
  timer: NodeJS.Timeout | null = null;
  /** oldest with preserve_ordering: results in the order requests reached this lane. */
  readonly #order: InOrder | null;
  #arrivals = 0;

  constructor(instance: ModelInstance, slots: number, preserveOrdering = false) {
    this.instance = instance;
    this.slots = new Array<Sequence | null>(slots).fill(null);
    this.#order = preserveOrdering ? new InOrder() : null;
  }

  /** Under preserve_ordering, `step`'s result reaches its caller after every earlier arrival's. */
  order(step: Step): void {
    const hand = step.hand;
    if (!this.#order || !hand || hand.numbered) return;
    hand.numbered = true;
    this.#order.deliver(this.#arrivals++, step.q.result).then(hand.resolve, hand.reject);
  }

  get hasFreeSlot(): boolean {
    return this.slots.includes(null);
  }

  take(seq: Sequence): void {
    const slot = this.slots.indexOf(null);
    this.slots[slot] = seq;
    seq.lane = this;
    seq.slot = slot;
    seq.placed();
    for (const step of seq.waiting) this.order(step);
  }

  free(seq: Sequence): void {
    if (seq.lane !== this) return;
    this.slots[seq.slot] = null;
    seq.lane = null;
    seq.slot = -1;
  }

  /** Sequences with a request waiting, oldest request first. */
  ready(): Sequence[] {
    const out: Sequence[] = [];
    for (const s of this.slots) if (s && s.waiting.length > 0 && s.executing === 0) out.push(s);
    return out.sort((a, b) => a.waiting[0]!.at - b.waiting[0]!.at);
  }

  /**
   * The sequences whose next requests form this lane's next call under `rule`; none when it says
   * wait, and then `wake` runs when the rule's delay is up (one timer per lane).
   */
  nextBatch(rule: BatchRule, wake: () => void): Sequence[] {
    const now = performance.now();
    const ready = this.ready();
    const { take, wakeAt } = rule.decide(ready, now);
    if (take === 0) {
      if (wakeAt !== Infinity && !this.timer) {
        this.timer = setTimeout(() => {
          this.timer = null;
          wake();
        }, Math.max(0, wakeAt - now));
        this.timer.unref();
      }
      return [];
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    return ready.slice(0, take);
  }

  sequences(): Sequence[] {
    return this.slots.filter((s): s is Sequence => s !== null);
  }
}

/** How many of `ready` go now (0: wait, until `wakeAt`). */
export interface BatchDecision {
  take: number;
  wakeAt: number;
}

export class BatchRule {
  /** Batch slots per instance. */
  readonly slots: number;
  readonly #limit: number;
  readonly #preferred: number;
  readonly #delayMs: number;
  /** oldest's preserve_ordering (direct runs each lane's calls in order already). */
  readonly preserveOrdering: boolean;
  /** Ready slots below which a direct batch waits (minimum_slot_utilization); null for oldest. */
  readonly #minReady: number | null;

  constructor(cfg: ModelConfig) {
    const sb = cfg.sequence_batching!;
    const rows = Math.max(1, cfg.max_batch_size);
    if (sb.oldest) {
      this.slots = Math.max(1, sb.oldest.max_candidate_sequences);
      this.#limit = rows;
      const preferred = sb.oldest.preferred_batch_size.filter((n) => n > 0 && n <= rows);
      this.#preferred = preferred.length > 0 ? Math.max(...preferred) : rows;
      this.#delayMs = sb.oldest.max_queue_delay_microseconds / 1000;
      this.#minReady = null;
      this.preserveOrdering = sb.oldest.preserve_ordering;
    } else {
      this.preserveOrdering = false;
      this.slots = rows;
      this.#limit = rows;
      this.#preferred = 1;
      this.#delayMs = (sb.direct?.max_queue_delay_microseconds ?? 0) / 1000;
      this.#minReady = Math.ceil((sb.direct?.minimum_slot_utilization ?? 0) * rows);
    }
  }

  decide(ready: readonly Sequence[], now: number): BatchDecision {
    const n = ready.length;
    if (n === 0) return { take: 0, wakeAt: Infinity };
    const waitedEnough = now - ready[0]!.waiting[0]!.at >= this.#delayMs;
    if (this.#minReady !== null) {
      return n >= this.#minReady || waitedEnough ? { take: n, wakeAt: Infinity } : { take: 0, wakeAt: ready[0]!.waiting[0]!.at + this.#delayMs };
    }
    if (n >= this.#limit) return { take: this.#limit, wakeAt: Infinity };
    if (n >= this.#preferred) return { take: this.#preferred, wakeAt: Infinity };
    if (waitedEnough) return { take: n, wakeAt: Infinity };
    return { take: 0, wakeAt: ready[0]!.waiting[0]!.at + this.#delayMs };
  }
}
