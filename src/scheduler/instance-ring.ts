/**
 * Which instance takes the next call, for every scheduler: the live instance with the fewest
 * calls in flight, and among equals the first one after the instance that took the last call.
 * Without the rotation, "the first free one" is always instance 0 whenever calls are fast (it is
 * free again before the next call is formed), and the model's other instances never run.
 */
import type { ModelInstance } from "../backends/backend.js";

/** Calls an instance may hold at once (it runs them one at a time; the rest wait in its memory). */
export type Room = (instance: ModelInstance) => number;

/** A handler faster than this (its recent execute(), in ns) is "fast": see pipelineDepth. */
export const FAST_CALL_NS = 1_000_000;

export function isFast(instance: ModelInstance): boolean {
  const ns = instance.recentExecNs;
  return ns !== undefined && ns < FAST_CALL_NS;
}

export class InstanceRing {
  #instances: readonly ModelInstance[] = [];
  /** Where the next search starts: just after the instance that took the last call. */
  #next = 0;

  get instances(): readonly ModelInstance[] {
    return this.#instances;
  }

  set(instances: readonly ModelInstance[]): void {
    this.#instances = [...instances];
    if (this.#next >= this.#instances.length) this.#next = 0;
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
      if (inst.state === "dead" || inst.state === "starting" || inst.pending >= room(inst)) continue;
      if (!best || inst.pending < best.pending) best = inst;
    }
    return best;
  }

  /** A call went to `instance`: the next search starts after it. */
  took(instance: ModelInstance): void {
    const at = this.#instances.indexOf(instance); // a handful of instances: cheaper than a map
    if (at >= 0) this.#next = (at + 1) % this.#instances.length;
  }
}
