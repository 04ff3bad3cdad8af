/**
 * How the scheduler sees a model instance, whatever runs it. An instance executes one call at a
 * time, in the order received; every request of a call ends in a result or an error, exactly once.
 */
import type { CoreRequest, RequestResult } from "../core/types.js";

export type InstanceResult = RequestResult;

export type InstanceState = "starting" | "ready" | "busy" | "dead";

export interface ModelInstance {
  readonly name: string;
  readonly state: InstanceState;
  /** Calls sent and not yet answered (the instance runs them one at a time, in order). */
  readonly pending: number;
  /** How long its handler's execute() took lately (ns, a moving average); undefined before any call. */
  readonly recentExecNs?: number;
  /**
   * Runs one call with these requests; resolves one result per request, in order, once the
   * handler returned. Requests with a sink (decoupled) get their responses there instead, until
   * the final one, and their result here is empty.
   */
  execute(requests: CoreRequest[]): Promise<InstanceResult[]>;
}
