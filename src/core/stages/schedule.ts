/**
 * The last stage: the request goes to its version's scheduler. A response comes back as the call's
 * result; a decoupled model's responses through request.sink, as the instance delivers them, the
 * call's result then carrying only a failure before the handler ran. The scheduler answers
 * asynchronously, so whatever fails from here on reaches the handler after dispatch() returned.
 */
import { toServerError } from "../../errors/index.js";
import type { Exchange, Stage } from "../exchange.js";
import { nowNs, responseKind } from "../statistics.js";
import type { CoreResponse, RequestResult } from "../types.js";

/** A result's outputs as a response, all outputs still (the shape stage picks the requested ones). */
function responseOf(ex: Exchange, result: RequestResult & { error?: undefined }): CoreResponse {
  const request = ex.request;
  return {
    model: request.model, version: String(ex.target!.version), id: request.id,
    outputs: result.outputs, parameters: result.parameters, release: result.release,
  };
}

function deliver(ex: Exchange, result: RequestResult | null, final: boolean): void {
  if (result === null) ex.respond(null, final);
  else if (result.error) ex.fail(result.error, final);
  else ex.respond(responseOf(ex, result), final);
}

export const schedule: Stage = {
  onRequest(ex: Exchange): boolean {
    const target = ex.target!;
    const request = ex.request;
    const decoupled = target.config.model_transaction_policy.decoupled;
    if (decoupled) {
      ex.openCall();
      // Each response is counted in response_stats once handed on (core/statistics.ts); one
      // after the stream ended is dropped, uncounted.
      request.sink = (result, final) => {
        const arrivedNs = nowNs();
        const counted = !ex.ended && request.times !== undefined;
        deliver(ex, result, final);
        if (counted) target.stats.recordResponse(request.times!, responseKind(result), arrivedNs, nowNs());
      };
    }
    let call: Promise<RequestResult>;
    try {
      call = target.scheduler.enqueue(request);
    } catch (err) {
      call = Promise.reject(err);
    }
    // Schedulers resolve with the outputs and reject every failure (scheduler.ts).
    if (!decoupled) {
      call.then(
        (result) => deliver(ex, result, true),
        (err) => ex.fail(toServerError(err)),
      );
    } else {
      // The call's own result is empty; a failure before the handler ran ends the stream here.
      call.then(
        () => {},
        (err) => ex.fail(toServerError(err)),
      ).finally(() => ex.closeCall());
    }
    return false;
  },
};
