/**
 * Admission: the shutting-down check, the model version the request goes to, validation against
 * its config, the caller's one-response policy, and the in-flight count that shutdown waits on.
 * A known model's invalid request counts as its failure (as Triton counts it); the other refusals
 * here count nowhere.
 */
import { serverShuttingDown } from "../../errors/index.js";
import type { Exchange, Stage, Target } from "../exchange.js";
import { nowNs } from "../statistics.js";
import { validateRequest } from "../validate.js";
import { recordOutcome } from "./account.js";

/** The version a request names: throws (NOT_FOUND, UNAVAILABLE, ...) when there is none to serve it. */
export type Resolve = (model: string, version: string | undefined) => Target;

export class Admission implements Stage {
  readonly #resolve: Resolve;
  #closing = false;
  #inFlight = 0;
  #idle: (() => void) | null = null;

  constructor(resolve: Resolve) {
    this.#resolve = resolve;
  }

  /** Requests admitted and not yet settled. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Shutdown: callers' requests are refused from now on; internal ones (BLS, ensemble steps) still pass. */
  close(): void {
    this.#closing = true;
  }

  /** Resolves once no request is in flight. */
  whenIdle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#idle = resolve));
  }

  onRequest(ex: Exchange): void {
    const request = ex.request;
    if (this.#closing && !ex.policy.internal) throw serverShuttingDown();
    const startNs = nowNs();
    const target = this.#resolve(request.model, request.version);
    request.times = { startNs };
    ex.target = target;
    try {
      validateRequest(request, target.config);
    } catch (err) {
      recordOutcome(target, request, err);
      throw err;
    }
    const refusal = ex.policy.refuseDecoupled;
    if (refusal && target.config.model_transaction_policy.decoupled) throw refusal(request.model);
    this.#inFlight++;
  }

  onSettle(): void {
    if (--this.#inFlight === 0 && this.#idle) {
      const idle = this.#idle;
      this.#idle = null;
      idle();
    }
  }
}
