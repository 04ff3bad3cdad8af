/**
 * A model's instances as every scheduler sees them (piscina's pool with its findAvailable): which
 * instance takes the next call, and which instance a key is pinned to.
 *
 * Choice: the live instance with the fewest calls in flight, and among equals the first one after
 * the instance that took the last call. Without the rotation, "the first free one" is always
 * instance 0 whenever calls are fast (it is free again before the next call is formed), and the
 * model's other instances never run.
 *
 * Affinity: reserve(key) pins a key (a sequence, for the sequence batcher) to one instance for as
 * long as that instance lives; release(key) unpins it. A reservation whose instance died or left
 * the pool is dropped, so a key is never sent to a dead instance.
 */
import type { ModelInstance } from "../backends/backend.js";

/** Calls an instance may hold at once (it runs them one at a time; the rest wait in its memory). */
export type Room = (instance: ModelInstance) => number;

/** Any number of calls: for a choice that only wants a live instance. */
export const ANY_ROOM: Room = () => Infinity;

/** A handler faster than this (its recent execute(), in ns) is "fast": see pipelineDepth. */
export const FAST_CALL_NS = 1_000_000;

export function isFast(instance: ModelInstance): boolean {
  const ns = instance.recentExecNs;
  return ns !== undefined && ns < FAST_CALL_NS;
}

/** Can take calls now: not dead, and past its start. */
function isLive(instance: ModelInstance): boolean {
  return instance.state !== "dead" && instance.state !== "starting";
}

export class InstancePool {
  #instances: readonly ModelInstance[] = [];
  /** Where the next search starts: just after the instance that took the last call. */
  #next = 0;
  readonly #reserved = new Map<string, ModelInstance>();

  /** The instances calls may go to (dead ones were left out when they were set). */
  get instances(): readonly ModelInstance[] {
    return this.#instances;
  }

  /** Keys pinned to an instance. */
  get reservations(): number {
    return this.#reserved.size;
  }

  /**
   * Replaces the instances (a replacement after a crash comes here). Dead ones are left out, and
   * reservations on an instance no longer here are dropped. The rotation keeps its place.
   */
  set(instances: readonly ModelInstance[]): void {
    this.#instances = instances.filter((i) => i.state !== "dead");
    if (this.#next >= this.#instances.length) this.#next = 0;
    for (const [key, instance] of this.#reserved) {
      if (!this.#instances.includes(instance)) this.#reserved.delete(key);
    }
  }

  /**
   * The least busy live instance holding fewer calls than `room` allows it, the first after the
   * last one taken on ties; undefined when none has room. Finding is not taking: call took()
   * once a call goes to it, so that an instance found but not used keeps its turn.
   */
  find(room: Room): ModelInstance | undefined {
    const n = this.#instances.length;
    let best: ModelInstance | undefined;
    for (let k = 0; k < n; k++) {
      const inst = this.#instances[(this.#next + k) % n];
      if (!isLive(inst) || inst.pending >= room(inst)) continue;
      if (!best || inst.pending < best.pending) best = inst;
    }
    return best;
  }

  /** A call went to `instance`: the next search starts after it. */
  took(instance: ModelInstance): void {
    const at = this.#instances.indexOf(instance); // a handful of instances: cheaper than a map
    if (at >= 0) this.#next = (at + 1) % this.#instances.length;
  }

  /**
   * The instance `key` is pinned to; pins it first, to the instance find(room) picks, when it is
   * not (or its instance died). Undefined when it is not pinned and no instance has room.
   */
  reserve(key: string, room: Room = ANY_ROOM): ModelInstance | undefined {
    const held = this.reservedFor(key);
    if (held) return held;
    const instance = this.find(room);
    if (!instance) return undefined;
    this.took(instance);
    this.#reserved.set(key, instance);
    return instance;
  }

  /** The live instance `key` is pinned to, if any; a pin on a dead instance is dropped here. */
  reservedFor(key: string): ModelInstance | undefined {
    const instance = this.#reserved.get(key);
    if (!instance) return undefined;
    if (instance.state === "dead" || !this.#instances.includes(instance)) {
      this.#reserved.delete(key);
      return undefined;
    }
    return instance;
  }

  /** Unpins `key`; false when it was not pinned. */
  release(key: string): boolean {
    return this.#reserved.delete(key);
  }
}
