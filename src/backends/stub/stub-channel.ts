/**
 * Main's side of the shared-memory channel to one stub: the calls and decoupled streams in flight,
 * and a table that routes every message kind the stub sends to the one handler registered for it.
 * The channel's own handlers answer calls (RESPONSE) and streams (STREAM); services register
 * theirs from their own files (BLS_REQUEST: bls-service.ts) and observe answered calls
 * (call-timing.ts), so a new feature adds a registration, not a method here.
 *
 * A kind nobody registered is a protocol error: the channel breaks, as for a message it cannot
 * read, and its owner kills the stub. Every call and stream ends exactly once: answered by the
 * stub, or failed when the channel closes (whichever comes first; the other finds nothing).
 */
import { ServerError, channelBroken, mixedDecoupledCall, requestNotPassed } from "../../errors/index.js";
import { nowNs } from "../../core/statistics.js";
import type { CoreRequest, RequestResult, ResponseSink } from "../../core/types.js";
import type { Block, Endpoint, EndpointOptions, MessageRef } from "../../ipc/endpoint.js";
import { KIND, type BlsCancelBody, type ModelControlBody, type BlsRequestBody, type ExecuteBody, type ResponseBody, type StreamBody } from "../../ipc/protocol.js";
import type { InstanceResult } from "../backend.js";
import { viewResult, wireRequests } from "./marshal.js";
import { onRegionDropped } from "../../ipc/region-drops.js";

/** The endpoint as the channel and its services use it (unit tests pass a fake). */
export type ChannelEndpoint = Pick<Endpoint, "start" | "close" | "send" | "release" | "alloc" | "freeBlocks" | "view">;

/**
 * What each kind the stub sends carries. RELEASE and DROP_ARENA never get here: the endpoint keeps
 * those books itself.
 */
export interface StubMessageBodies {
  [KIND.RESPONSE]: ResponseBody;
  [KIND.STREAM]: StreamBody;
  [KIND.BLS_REQUEST]: BlsRequestBody;
  [KIND.BLS_CANCEL]: BlsCancelBody;
  [KIND.MODEL_CONTROL]: ModelControlBody;
}
export type StubMessageKind = keyof StubMessageBodies;
/** Owns the message from then on: it must release `ref` (at once, or when done with its views). */
export type MessageHandler<K extends StubMessageKind> = (body: StubMessageBodies[K], ref: MessageRef) => void;

/** A call whose answer arrived, as observers see it; stamps are nowNs(). */
export interface AnsweredCall {
  requests: CoreRequest[];
  /** When execute() was called, and when the inputs were in shared memory and sent. */
  startNs: number;
  sentNs: number;
  receivedNs: number;
  /** How long the handler's execute() ran (the stub's clock); undefined when it never ran. */
  execNs: number | undefined;
}
export type CallObserver = (call: AnsweredCall) => void;

export interface StubChannelOptions {
  /** The instance's name, for error messages. */
  name: string;
  /** Builds the endpoint that delivers to these handlers (not started: see start()). */
  connect(handlers: Pick<EndpointOptions, "onMessage" | "onBroken">): ChannelEndpoint;
  /** Starts forwarding the request's cancellation to the stub; returns the unwatch. */
  watchCancel(request: CoreRequest, key: number): () => void;
  /** The channel broke (why): the owner gives the stub up and closes the channel with its error. */
  onBroken(reason: string): void;
}

/** The result of a request that runs again (iterative sequences): nothing to answer yet. */
const RESCHEDULED: InstanceResult = { outputs: [], parameters: {}, release() {}, rescheduled: true };

interface InFlight {
  requests: CoreRequest[];
  /** Decoupled: the requests answer through their sinks, and the call only says execute() returned. */
  streamed: boolean;
  /** Stop watching the coupled requests' cancellation. */
  unwatch: (() => void)[];
  /** The wire keys of the requests, in order. */
  keys: number[];
  resolve(results: InstanceResult[]): void;
  reject(err: ServerError): void;
  startNs: number;
  sentNs: number;
}

export class StubChannel {
  readonly #o: StubChannelOptions;
  readonly #endpoint: ChannelEndpoint;
  readonly #handlers = new Map<number, (body: never, ref: MessageRef) => void>();
  readonly #observers: CallObserver[] = [];
  readonly #calls = new Map<number, InFlight>();
  /** Decoupled requests whose final response has not arrived, by wire key. */
  readonly #streams = new Map<number, { sink: ResponseSink; unwatch(): void; request: CoreRequest }>();
  #streamsIdle: (() => void)[] = [];
  #nextId = 1;
  #nextKey = 1;
  #closed = false;
  /** Client shared-memory regions sent to this stub (it may have mapped them): told when each goes. */
  readonly #regionsSent = new Set<number>();
  readonly #unsubscribeRegions: () => void;

  constructor(options: StubChannelOptions) {
    this.#o = options;
    this.#endpoint = options.connect({
      onMessage: (kind, body, ref) => this.#dispatch(kind, body, ref),
      onBroken: (err) => this.break(`main could not read its message: ${err.message}`),
    });
    this.register(KIND.RESPONSE, (body, ref) => this.#onResponse(body, ref));
    this.register(KIND.STREAM, (body, ref) => this.#onStream(body, ref));
    this.#unsubscribeRegions = onRegionDropped((id) => this.#dropRegion(id));
  }

  /** A region this stub was sent is gone for good (no request uses it): the stub unmaps it. */
  #dropRegion(id: number): void {
    if (!this.#regionsSent.delete(id) || this.#closed) return;
    try {
      this.#endpoint.send(KIND.DROP_REGION, { id }, []);
    } catch {
      // Queue full: the mapping stays until the stub ends; nothing reads it again (ids are never reused).
    }
  }

  /** For services: they send and read their own messages through it. */
  get endpoint(): ChannelEndpoint {
    return this.#endpoint;
  }

  /** Calls sent and not yet answered. */
  get pending(): number {
    return this.#calls.size;
  }

  get openStreams(): number {
    return this.#streams.size;
  }

  /** Closed (the stub is gone or given up): nothing more is sent or delivered. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Routes messages of `kind` to `handler`; one handler per kind. */
  register<K extends StubMessageKind>(kind: K, handler: MessageHandler<K>): void {
    if (this.#handlers.has(kind)) throw new Error(`message kind ${kind} already has a handler on the channel to '${this.#o.name}'`);
    this.#handlers.set(kind, handler as (body: never, ref: MessageRef) => void);
  }

  /** Tells `observer` about every answered call, before its requests settle. */
  observe(observer: CallObserver): void {
    this.#observers.push(observer);
  }

  /** Starts reading the stub's messages (once it attached to the segment). */
  start(): void {
    this.#endpoint.start();
  }

  /** Sends one call; resolves one result per request, or rejects once (stub error, send failure, close). */
  execute(requests: CoreRequest[]): Promise<InstanceResult[]> {
    const endpoint = this.#endpoint;
    const name = this.#o.name;
    const startNs = nowNs();
    const blocks: Block[] = [];
    let body: ExecuteBody;
    try {
      const id = this.#nextId++;
      body = { id, requests: wireRequests(requests, endpoint, blocks, () => this.#nextKey++, (r) => this.#regionsSent.add(r)) };
    } catch (err) {
      endpoint.freeBlocks(blocks);
      return Promise.reject(requestNotPassed(name, err));
    }
    // A model is decoupled or not: its requests all have sinks (answers stream) or none do.
    const streamed = requests.some((r) => r.sink);
    if (streamed && !requests.every((r) => r.sink)) {
      endpoint.freeBlocks(blocks);
      return Promise.reject(mixedDecoupledCall(name));
    }
    const unwatch: (() => void)[] = [];
    requests.forEach((r, i) => {
      const key = body.requests[i].key;
      const stop = this.#o.watchCancel(r, key);
      if (streamed) this.#streams.set(key, { sink: r.sink!, unwatch: stop, request: r });
      else unwatch.push(stop);
    });
    return new Promise((resolve, reject) => {
      const call: InFlight = { requests, streamed, unwatch, keys: body.requests.map((r) => r.key), resolve, reject, startNs, sentNs: 0 };
      this.#calls.set(body.id, call);
      // Stamped before the send: the stub may start the call before this thread runs again.
      call.sentNs = nowNs();
      try {
        endpoint.send(KIND.EXECUTE, body, blocks);
      } catch (err) {
        // Shared memory ran out: nothing was sent, so undo what this call set up.
        endpoint.freeBlocks(blocks);
        this.#calls.delete(body.id);
        for (const stop of unwatch) stop();
        if (streamed) for (const r of body.requests) this.#endStream(r.key);
        reject(requestNotPassed(name, err));
      }
    });
  }

  /** Resolves once no decoupled request is open (at once if none is), or after `waitMs`. */
  async streamsClosed(waitMs: number): Promise<void> {
    if (this.#streams.size === 0) return;
    const closed = new Promise<void>((r) => this.#streamsIdle.push(r));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
  }

  /**
   * The channel cannot go on (a message it cannot read, or of a kind nobody handles). The owner
   * hears why and closes the channel with its own error; should it not, the channel closes itself.
   */
  break(reason: string): void {
    if (this.#closed) return;
    this.#endpoint.close();
    this.#o.onBroken(reason);
    this.close(channelBroken(this.#o.name, reason));
  }

  /** Closes the endpoint and fails every call and open stream with `error`, once. */
  close(error: ServerError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribeRegions();
    this.#endpoint.close();
    const calls = [...this.#calls.values()];
    this.#calls.clear();
    for (const call of calls) {
      for (const stop of call.unwatch) stop();
      call.reject(error);
    }
    for (const [key, stream] of [...this.#streams]) {
      this.#endStream(key);
      stream.sink({ error }, true);
    }
  }

  #dispatch(kind: number, body: unknown, ref: MessageRef): void {
    const handler = this.#handlers.get(kind);
    if (!handler) return this.break(`main could not read its message: protocol error: no handler for message kind ${kind}`);
    handler(body as never, ref);
  }

  #onResponse(reply: ResponseBody, ref: MessageRef): void {
    const endpoint = this.#endpoint;
    const call = this.#calls.get(reply.id);
    if (!call) return endpoint.release(ref);
    const receivedNs = nowNs();
    this.#calls.delete(reply.id);
    for (const stop of call.unwatch) stop();
    if (reply.error || call.streamed) {
      endpoint.release(ref);
      this.#answered(call, reply.execNs, receivedNs);
      if (reply.error) return call.reject(ServerError.from(reply.error));
      const again = new Set(reply.reschedule ?? []);
      return call.resolve(call.requests.map((_, i) => {
        if (!again.has(i)) return { outputs: [], parameters: {}, release() {} };
        this.#endStream(call.keys[i]!); // its next call streams under a new key
        return RESCHEDULED;
      }));
    }
    // Outputs stay views over the stub's memory until every response of the call is released.
    let pending = 0;
    const releaseOne = () => {
      if (--pending === 0) endpoint.release(ref);
    };
    const results: InstanceResult[] = reply.responses!.map((r, i) => {
      const result = viewResult(r, endpoint, releaseOne, call.requests[i]);
      if (!result.error) pending++;
      return result;
    });
    if (pending === 0) endpoint.release(ref);
    this.#answered(call, reply.execNs, receivedNs);
    for (const i of reply.reschedule ?? []) if (i < results.length) results[i] = RESCHEDULED;
    call.resolve(results);
  }

  #answered(call: InFlight, execNs: number | undefined, receivedNs: number): void {
    const answered: AnsweredCall = { requests: call.requests, startNs: call.startNs, sentNs: call.sentNs, receivedNs, execNs };
    for (const observe of this.#observers) observe(answered);
  }

  /** One response of a decoupled request, delivered to its sink as it comes. */
  #onStream(body: StreamBody, ref: MessageRef): void {
    const endpoint = this.#endpoint;
    const stream = this.#streams.get(body.key);
    if (!stream) return endpoint.release(ref);
    if (body.final) this.#endStream(body.key);
    let result: RequestResult | null = null;
    if (body.response) result = viewResult(body.response, endpoint, () => endpoint.release(ref), stream.request);
    if (!result || result.error) endpoint.release(ref);
    stream.sink(result, body.final);
  }

  #endStream(key: number): void {
    this.#streams.get(key)?.unwatch();
    this.#streams.delete(key);
    if (this.#streams.size === 0 && this.#streamsIdle.length > 0) {
      for (const idle of this.#streamsIdle.splice(0)) idle();
    }
  }
}
