/**
 * The stub's dispatch tables: each incoming message kind (shared-memory kinds, control message
 * types) maps to the one handler registered for it, by the file that serves it (executor.ts:
 * EXECUTE, bls.ts: BLS_RESPONSE, model-control.ts: MODEL_CONTROL_RESULT, main.ts: the control messages), instead of a switch that grows.
 * A kind with no handler is a protocol error, thrown: over shared memory the endpoint then breaks
 * the channel (the stub reports it and exits, main replaces it); on the control channel the stub
 * reports the failure and exits. (Main's twin is src/backends/stub/stub-channel.ts: supervisor
 * and worker share only src/ipc.)
 */
import type { MessageRef } from "../src/ipc/endpoint.js";
import { KIND, type BlsResponseBody, type DropRegionBody, type ExecuteBody, type ModelControlResultBody } from "../src/ipc/protocol.js";

export class KindTable<Handlers extends { [K in keyof Handlers]: (...args: never[]) => unknown }> {
  readonly #what: string;
  readonly #handlers = new Map<PropertyKey, Handlers[keyof Handlers]>();

  /** `what` names the kinds in errors ("message kind", "control message"). */
  constructor(what: string) {
    this.#what = what;
  }

  register<K extends keyof Handlers>(kind: K, handler: Handlers[K]): void {
    if (this.#handlers.has(kind)) throw new Error(`${this.#what} ${String(kind)} already has a handler`);
    this.#handlers.set(kind, handler);
  }

  /** The handler of `kind`; throws the protocol error when there is none. */
  handler(kind: PropertyKey): Handlers[keyof Handlers] {
    const handler = this.#handlers.get(kind);
    if (!handler) throw new Error(`protocol error: no handler for ${this.#what} ${String(kind)}`);
    return handler;
  }
}

/** What main sends over shared memory, by kind (RELEASE and DROP_ARENA stay in the endpoint). */
export interface MessageHandlers {
  [KIND.EXECUTE]: (body: ExecuteBody, ref: MessageRef) => void;
  [KIND.BLS_RESPONSE]: (body: BlsResponseBody, ref: MessageRef) => void;
  [KIND.MODEL_CONTROL_RESULT]: (body: ModelControlResultBody, ref: MessageRef) => void;
  /** client-regions.ts: a client shared-memory region main no longer uses. */
  [KIND.DROP_REGION]: (body: DropRegionBody, ref: MessageRef) => void;
}

export type MessageTable = KindTable<MessageHandlers>;
