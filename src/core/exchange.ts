/**
 * The request pipeline's machinery: stages composed into a dispatch function (as undici's
 * Dispatcher.compose composes interceptors, and fastify's handle-request runs its hooks), and the
 * Exchange, one request's trip through them, which keeps the exactly-once rules in one place:
 *  - the handler gets exactly one terminal event (a final response or an error), even when a stage
 *    throws, and nothing after it (late responses are released);
 *  - a throwing response hook turns that response into an error (same `final`), the response
 *    released;
 *  - every stage whose onRequest completed is settled exactly once, after the terminal event and
 *    after the call behind a decoupled request ended (which brings its timing);
 *  - a throwing handler or settle hook is reported, never turned into a second event.
 *
 * Stages are plain objects run in a loop (no per-request closure chain): request hooks in order,
 * response and settle hooks in reverse, over the stages the request passed.
 */
import { channel } from "node:diagnostics_channel";
import { noStageTook, toServerError, type ServerError } from "../errors/index.js";
import type { ModelConfig } from "../config/schema.js";
import type { Dispatch, DispatchHandler, EntryPolicy } from "./dispatch.js";
import type { ModelStatistics } from "./statistics.js";
import type { CoreRequest, CoreResponse, RequestResult } from "./types.js";

/** A model version as the pipeline sees it (the repository's LoadedVersion is one). */
export interface Target {
  readonly version: number;
  readonly modelDir: string;
  readonly config: ModelConfig;
  readonly scheduler: { enqueue(request: CoreRequest): Promise<RequestResult> };
  readonly stats: ModelStatistics;
}

export interface Stage {
  /**
   * Request side, in stage order. Return false when this stage answered the request (through
   * ex.respond / ex.fail) or took it over (it answers later): later stages are skipped. Throwing
   * fails the request; the stage then counts as not passed.
   */
  onRequest?(ex: Exchange): boolean | void;
  /** A response on its way out, innermost stage first; returns it, or a replacement. */
  onResponse?(ex: Exchange, response: CoreResponse): CoreResponse;
  /** Once per request that passed this stage, when it is over; `error` is its terminal error. */
  onSettle?(ex: Exchange, error: ServerError | undefined): void;
}

/** Published (when someone subscribes) as a request enters the pipeline, and once it settled. */
export const requestStartChannel = channel("tessera:request:start");
export const requestSettleChannel = channel("tessera:request:settle");

export class Exchange {
  readonly request: CoreRequest;
  readonly policy: EntryPolicy;
  /** The model version it goes to, once admitted. */
  target: Target | null = null;
  /** The response cache's state for this request (cache/stage.ts); unset when it is not cached. */
  cacheNote: unknown = undefined;
  readonly #stages: readonly Stage[];
  readonly #handler: DispatchHandler;
  readonly #report: (err: unknown) => void;
  /** Stages whose onRequest completed: they see the responses and are settled. */
  #passed = 0;
  #ended = false;
  #settled = false;
  #error: ServerError | undefined = undefined;
  /** Calls still open that answer through respond() (a decoupled request's). */
  #openCalls = 0;

  constructor(stages: readonly Stage[], policy: EntryPolicy, request: CoreRequest, handler: DispatchHandler, report: (err: unknown) => void) {
    this.#stages = stages;
    this.policy = policy;
    this.request = request;
    this.#handler = handler;
    this.#report = report;
  }

  /** The terminal event was delivered. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Runs the request hooks; the last stage is expected to take the request over. */
  start(): void {
    const stages = this.#stages;
    try {
      while (this.#passed < stages.length) {
        const stage = stages[this.#passed];
        if (stage.onRequest && stage.onRequest(this) === false) return;
        if (this.#ended) return; // it answered without saying so
        this.#passed++;
      }
    } catch (err) {
      this.fail(toServerError(err));
      return;
    }
    this.fail(noStageTook(this.request.model));
  }

  /** A response (or a bare final flag): through the passed stages' response hooks to the handler. */
  respond(response: CoreResponse | null, final: boolean): void {
    if (this.#ended) {
      response?.release();
      return;
    }
    if (response) {
      const stages = this.#stages;
      let at: CoreResponse = response;
      try {
        for (let i = this.#passed - 1; i >= 0; i--) {
          const hook = stages[i].onResponse;
          if (hook) at = hook.call(stages[i], this, at);
        }
      } catch (err) {
        at.release();
        this.fail(toServerError(err), final);
        return;
      }
      response = at;
    }
    if (final) this.#ended = true;
    try {
      this.#handler.onResponse(response, final);
    } catch (err) {
      this.#report(err);
    }
    if (final) this.#settle();
  }

  /** An error: the terminal event, or (final false) a decoupled model's error mid-stream. */
  fail(error: ServerError, final = true): void {
    if (this.#ended) return;
    if (final) {
      this.#ended = true;
      this.#error = error;
    }
    try {
      if (final) this.#handler.onError(error);
      else this.#handler.onStreamError?.(error);
    } catch (err) {
      this.#report(err);
    }
    if (final) this.#settle();
  }

  /** A call that answers through respond() began: the request settles only once it closed too. */
  openCall(): void {
    this.#openCalls++;
  }

  closeCall(): void {
    this.#openCalls--;
    this.#settle();
  }

  #settle(): void {
    if (!this.#ended || this.#openCalls > 0 || this.#settled) return;
    this.#settled = true;
    const stages = this.#stages;
    for (let i = this.#passed - 1; i >= 0; i--) {
      const hook = stages[i].onSettle;
      if (!hook) continue;
      try {
        hook.call(stages[i], this, this.#error);
      } catch (err) {
        this.#report(err);
      }
    }
    if (requestSettleChannel.hasSubscribers) requestSettleChannel.publish({ request: this.request, error: this.#error });
  }
}

export interface ComposeOptions {
  /** Where a throwing handler or settle hook is reported (the request itself is already over). */
  onHandlerError?: (err: unknown) => void;
}

/** Loud by default: a handler that throws is a bug, but it must not settle the request twice. */
const rethrowLater = (err: unknown) => queueMicrotask(() => {
  throw err;
});

/**
 * The stages as one pipeline; `entry` makes the dispatch function for one kind of caller. Adding
 * an interceptor (a response cache, tracing, client shared memory) is one more element of `stages`.
 */
export function compose(stages: readonly Stage[], options: ComposeOptions = {}): { entry(policy: EntryPolicy): Dispatch } {
  const list = [...stages];
  const report = options.onHandlerError ?? rethrowLater;
  return {
    entry(policy: EntryPolicy): Dispatch {
      return (request, handler) => {
        if (requestStartChannel.hasSubscribers) requestStartChannel.publish({ request, policy });
        new Exchange(list, policy, request, handler, report).start();
      };
    },
  };
}
