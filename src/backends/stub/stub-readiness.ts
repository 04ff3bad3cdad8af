/**
 * A stub's readiness as its handler sees it: python_backend's is_ready rules. No isReady(): ready
 * while the process is healthy, and no message is sent. With one: each check asks the stub, at most
 * one question in flight per instance (concurrent checks share its answer), and a stub that does
 * not answer within five seconds is "not ready" for that check. The last answer is kept, for the
 * synchronous readers (the model index, BLS isModelReady) between checks.
 */

/** python_backend's kUserModelReadinessTimeoutMs. */
export const READINESS_TIMEOUT_MS = 5000;

export interface ReadinessAnswer {
  ready: boolean;
  /** Why not, when the handler threw, gave no boolean, or did not answer in time. */
  error?: string;
}

export class StubReadiness {
  /** Set once initialize() reported whether the class has isReady(). */
  hasCheck = false;
  /** The last answer (ready until a check says otherwise). */
  last: ReadinessAnswer = { ready: true };
  readonly #ask: (seq: number) => void;
  readonly #dead: () => boolean;
  #seq = 0;
  #inFlight: { seq: number; promise: Promise<ReadinessAnswer>; settle(a: ReadinessAnswer): void; timer: NodeJS.Timeout } | null = null;

  constructor(ask: (seq: number) => void, dead: () => boolean) {
    this.#ask = ask;
    this.#dead = dead;
  }

  check(timeoutMs = READINESS_TIMEOUT_MS): Promise<ReadinessAnswer> {
    if (!this.hasCheck) return Promise.resolve({ ready: true });
    if (this.#dead()) return Promise.resolve(this.#keep({ ready: false, error: "Stub process is not healthy while waiting for is_ready()" }));
    if (this.#inFlight) return this.#inFlight.promise;
    const seq = ++this.#seq;
    let settle!: (a: ReadinessAnswer) => void;
    const promise = new Promise<ReadinessAnswer>((resolve) => { settle = resolve; });
    const timer = setTimeout(() => this.#settle(seq, { ready: false, error: "Timed out waiting for user-defined is_ready() response" }), timeoutMs);
    timer.unref();
    this.#inFlight = { seq, promise, settle, timer };
    this.#ask(seq);
    return promise;
  }

  /** The stub's answer to check `seq` (a late one, after its timeout, is dropped). */
  answer(seq: number, ready: boolean, error?: string): void {
    this.#settle(seq, error ? { ready: false, error } : { ready: ready === true });
  }

  /** The process is gone: a pending check ends not ready. */
  fail(reason: string): void {
    if (this.#inFlight) this.#settle(this.#inFlight.seq, { ready: false, error: reason });
    this.last = { ready: false, error: reason };
  }

  #settle(seq: number, a: ReadinessAnswer): void {
    const f = this.#inFlight;
    if (!f || f.seq !== seq) return;
    clearTimeout(f.timer);
    this.#inFlight = null;
    f.settle(this.#keep(a));
  }

  #keep(a: ReadinessAnswer): ReadinessAnswer {
    this.last = a;
    return a;
  }
}
