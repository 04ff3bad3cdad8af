/**
 * preserve_ordering: results handed back in request order, whatever order their calls end in. A
 * result is held until every earlier request (by sequence number, from 0, no gaps) has its own.
 */
import type { RequestOutputs } from "./scheduler.js";

export class InOrder {
  /** The sequence number whose result goes next. */
  #next = 0;
  /** Results that ended early, by sequence number, waiting for the earlier ones. */
  readonly #finished = new Map<number, () => void>();

  /** `result` (request number `seq`), resolved once every earlier request's result was. */
  deliver(seq: number, result: Promise<RequestOutputs>): Promise<RequestOutputs> {
    return new Promise((resolve, reject) => {
      const done = (deliver: () => void) => {
        this.#finished.set(seq, deliver);
        while (this.#finished.has(this.#next)) {
          const deliver = this.#finished.get(this.#next)!;
          this.#finished.delete(this.#next++);
          deliver();
        }
      };
      result.then((r) => done(() => resolve(r)), (err) => done(() => reject(err)));
    });
  }
}
