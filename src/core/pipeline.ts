/**
 * The server's request pipeline: admit → (interceptors) → account → shape → schedule, composed
 * once. Request hooks run in that order; a response passes shape, then the settle hooks run
 * account (statistics), then admit (the in-flight count). An interceptor is one file in stages/
 * and one element of the list given to compose() below.
 *
 * Four kinds of callers, one dispatch function each (core/dispatch.ts): clients asking for one
 * response, clients streaming, handlers' BLS calls and ensemble steps (one response each, or
 * streamed in a decoupled ensemble), the latter two taken while the server drains since the
 * requests in flight depend on them.
 */
import { ResponseCacheStage } from "../cache/stage.js";
import type { ResponseCache } from "../cache/response-cache.js";
import { decoupledEnsembleStep, decoupledNeedsStream } from "../errors/index.js";
import { dispatchOne, dispatchStream, type Dispatch, type EntryPolicy } from "./dispatch.js";
import { compose, type ComposeOptions, type Stage } from "./exchange.js";
import type { ResponseStream } from "./response-stream.js";
import { account } from "./stages/account.js";
import { Admission, type Resolve } from "./stages/admit.js";
import { schedule } from "./stages/schedule.js";
import { shape } from "./stages/shape.js";
import type { CoreRequest, CoreResponse } from "./types.js";

const CLIENT_ONE: EntryPolicy = {
  internal: false,
  // The front ends refuse these first, each with Triton's own text; this guards the rest.
  refuseDecoupled: decoupledNeedsStream,
};
const CLIENT_STREAM: EntryPolicy = { internal: false };
const BLS: EntryPolicy = { internal: true };
const ENSEMBLE_STEP: EntryPolicy = {
  internal: true,
  refuseDecoupled: decoupledEnsembleStep,
};
/** A decoupled ensemble's steps: any model, streamed (each response may start later steps). */
const ENSEMBLE_STREAMED_STEP: EntryPolicy = { internal: true };

export interface PipelineOptions extends ComposeOptions {
  /** The version a request goes to (the model manager's resolve). */
  resolve: Resolve;
  /** The server's response cache (--cache-config); unset: no request is cached. */
  cache?: ResponseCache;
  /** Interceptors run right after admission (the request has its version and timestamps): tracing. */
  interceptors?: readonly Stage[];
}

export class RequestPipeline {
  readonly #admission: Admission;
  readonly #one: Dispatch;
  readonly #stream: Dispatch;
  readonly #bls: Dispatch;
  readonly #step: Dispatch;
  readonly #streamedStep: Dispatch;

  constructor(options: PipelineOptions) {
    this.#admission = new Admission(options.resolve);
    // Interceptors (tracing) first, so that a cache hit is traced too; the cache then sits right
    // after them: a hit skips everything behind it, a miss's response is stored once shaped.
    const cache = options.cache ? [new ResponseCacheStage(options.cache)] : [];
    const pipeline = compose([this.#admission, ...(options.interceptors ?? []), ...cache, account, shape, schedule], options);
    this.#one = pipeline.entry(CLIENT_ONE);
    this.#stream = pipeline.entry(CLIENT_STREAM);
    this.#bls = pipeline.entry(BLS);
    this.#step = pipeline.entry(ENSEMBLE_STEP);
    this.#streamedStep = pipeline.entry(ENSEMBLE_STREAMED_STEP);
  }

  /** A client's request for one response (ServerApi.infer). */
  infer(request: CoreRequest): Promise<CoreResponse> {
    return dispatchOne(this.#one, request);
  }

  /** A client's request for a stream of responses (ServerApi.inferStream). */
  inferStream(request: CoreRequest): ResponseStream {
    return dispatchStream(this.#stream, request);
  }

  /** A handler's BLS call: any model, streamed (StubBackendOptions.bls). */
  readonly bls = (request: CoreRequest): ResponseStream => dispatchStream(this.#bls, request);

  /** An ensemble's step: one response (ModelManagerOptions.composingInfer). */
  readonly composingInfer = (request: CoreRequest): Promise<CoreResponse> => dispatchOne(this.#step, request);

  /** A decoupled ensemble's step: its responses streamed (ModelManagerOptions.composingStream). */
  readonly composingStream = (request: CoreRequest): ResponseStream => dispatchStream(this.#streamedStep, request);

  /** Requests admitted and not yet over. */
  get inFlight(): number {
    return this.#admission.inFlight;
  }

  /** Shutdown: refuse callers' requests from now on ("Server is shutting down"). */
  close(): void {
    this.#admission.close();
  }

  /** Resolves once nothing is in flight. */
  whenIdle(): Promise<void> {
    return this.#admission.whenIdle();
  }
}
