/**
 * Statistics: every request a known model took ends here exactly once, as one success or one
 * failure, and the call that ran it is counted once (core/statistics.ts says what each number
 * means). Settled after the request's end and its call's end, so a decoupled call's timing is in.
 */
import type { ServerError } from "../../errors/index.js";
import type { Exchange, Stage, Target } from "../exchange.js";
import { failureReason, nowNs, requestRows } from "../statistics.js";
import type { CoreRequest } from "../types.js";

/** One request's outcome into its version's statistics; `error` undefined is a success. */
export function recordOutcome(target: Target, request: CoreRequest, error?: unknown): void {
  const times = request.times!;
  const endNs = nowNs();
  const maxBatch = target.config.max_batch_size;
  if (error === undefined) target.stats.recordSuccess(times, requestRows(request, maxBatch), endNs);
  else target.stats.recordFailure(times, failureReason(times, (error as { code?: string }).code), endNs);
  const call = times.call;
  if (call) target.stats.recordExecution(call, call.requests.reduce((n, r) => n + requestRows(r, maxBatch), 0));
}

export const account: Stage = {
  onSettle(ex: Exchange, error: ServerError | undefined): void {
    recordOutcome(ex.target!, ex.request, error);
  },
};
