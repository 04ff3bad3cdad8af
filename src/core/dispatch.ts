/**
 * The one way a request enters the server's inference path: `dispatch(request, handler)`. The
 * handler hears the request's responses and exactly one terminal event: a response with `final`
 * set, or onError. Nothing reaches it after that (a late response is released instead).
 *
 * Refusals before the request is scheduled (unknown model, invalid request, shutting down) reach
 * onError synchronously, inside dispatch(); everything later comes asynchronously, as the scheduler
 * answers. The adapters below rely on that to keep ServerApi's contract: inferStream throws for the
 * former, and streams the latter.
 */
import { endedWithoutResponse, type ServerError } from "../errors/index.js";
import { ResponseStream } from "./response-stream.js";
import type { CoreRequest, CoreResponse } from "./types.js";

export interface DispatchHandler {
  /**
   * One response; `final` marks the last event of the request. A decoupled model may end with a
   * bare final flag (response null). The handler owns each response: it calls release().
   */
  onResponse(response: CoreResponse | null, final: boolean): void;
  /** The request failed: its terminal event. */
  onError(err: ServerError): void;
  /**
   * A decoupled model's error that does not end its stream (the handler sent it with final unset):
   * not a terminal event, more responses may follow. Only stream callers see these; a request that
   * takes one response never does, since decoupled models are refused there.
   */
  onStreamError?(err: ServerError): void;
}

export type Dispatch = (request: CoreRequest, handler: DispatchHandler) => void;

/** What kind of caller a dispatch function serves: fixed when the function is made. */
export interface EntryPolicy {
  /** Taken while the server drains: BLS calls and ensemble steps, which in-flight requests await. */
  readonly internal: boolean;
  /**
   * The caller takes exactly one response: a decoupled model is refused with this error
   * (UNSUPPORTED). Unset: any model, its responses streamed.
   */
  readonly refuseDecoupled?: (model: string) => ServerError;
}

/** One response, or the rejection: ServerApi.infer and an ensemble's steps. */
export function dispatchOne(dispatch: Dispatch, request: CoreRequest): Promise<CoreResponse> {
  return new Promise((resolve, reject) => {
    dispatch(request, {
      onResponse(response, final) {
        if (!final) {
          response?.release(); // cannot happen: only decoupled models send more than one
          return;
        }
        if (response) resolve(response);
        else reject(endedWithoutResponse(request.model));
      },
      onError: reject,
    });
  });
}

/**
 * Every response as a stream item: ServerApi.inferStream and handlers' BLS calls. A refusal before
 * the request was scheduled throws here; later failures are items of the stream.
 */
export function dispatchStream(dispatch: Dispatch, request: CoreRequest): ResponseStream {
  const stream = new ResponseStream();
  let refused: ServerError | null = null;
  let inside = true;
  dispatch(request, {
    onResponse: (response, final) => stream.push(response ? { response, final } : { final }),
    onError: (error) => {
      if (inside) refused = error;
      else stream.push({ error, final: true });
    },
    onStreamError: (error) => stream.push({ error, final: false }),
  });
  inside = false;
  if (refused) throw refused;
  return stream;
}
