/**
 * How the scheduler sees a model instance, whatever runs it. An instance executes one call at a
 * time, in the order received; every request of a call ends in a result or an error, exactly once.
 */
import type { ServerError } from "../errors/index.js";
import type { CoreRequest, CoreTensor, Parameters } from "../core/types.js";

export type InstanceResult =
  | { outputs: CoreTensor[]; parameters: Parameters; error?: undefined; release(): void }
  | { error: ServerError };

export type InstanceState = "starting" | "ready" | "busy" | "dead";

export interface ModelInstance {
  readonly name: string;
  readonly state: InstanceState;
  /** Calls sent and not yet answered (the instance runs them one at a time, in order). */
  readonly pending: number;
  /** Runs one call with these requests; resolves one result per request, in order. */
  execute(requests: CoreRequest[]): Promise<InstanceResult[]>;
}
