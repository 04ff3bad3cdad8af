/**
 * Runs execute() for one EXECUTE message: builds the SDK requests over shared-memory views,
 * checks what the handler returned, and writes the outputs into this stub's arena (the one copy
 * on the way back).
 */
import { bytesElementsSize, encodeBytesElements } from "../src/ipc/datatypes.js";
import type { Block, Endpoint, MessageRef } from "../src/ipc/endpoint.js";
import { KIND, type ExecuteBody, type ResponseBody, type WireParams, type WireRegion, type WireResponse, type WireTensor } from "../src/ipc/protocol.js";
import { clientRegions } from "./client-regions.js";
import type { ErrorInfo } from "../src/errors/index.js";
import type { Cancellations } from "./cancellation.js";
import { decoupledMustReturnNone, describeThrown, executeFailed } from "./errors.js";
import type { MessageTable } from "./kind-table.js";
import { CollectingSender, StreamingSender, moreThanOneError } from "./response-sender.js";
import { TritonError } from "./sdk/errors.js";
import { Logger } from "./sdk/logger.js";
import { InferenceRequest, InferenceResponse, TRITONSERVER_REQUEST_RELEASE_RESCHEDULE, type ResponseSender } from "./sdk/request.js";
import { Tensor } from "./sdk/tensor.js";
import type { SequenceStates } from "./sequence-state.js";
import type { TritonModel } from "./sdk/index.js";

/** Turns whatever a handler threw into the wire error, keeping its message and code. */
export function errorInfo(err: unknown): ErrorInfo {
  if (err instanceof TritonError) return { code: err.code(), message: err.message() };
  if (err instanceof Error) return { code: "INTERNAL", message: err.message };
  return { code: "INTERNAL", message: String(err) };
}

/** What the stub knows while it runs calls: the handler and where requests and answers go. */
export interface ExecuteContext {
  model: TritonModel;
  endpoint: Endpoint;
  modelName: string;
  /** This stub's instance ("<group>_<k>"): execute failures name it, as Triton's do. */
  instanceName: string;
  /** The model repository: the frames an execute failure lists are named relative to it. */
  sourceRoot?: string;
  /** model_transaction_policy.decoupled: requests answer through response senders. */
  decoupled: boolean;
  cancellations: Cancellations;
  /**
   * A model that is not decoupled and answers through response senders: how long after execute()
   * returned the call waits for every final flag before it fails (the instance must not wedge).
   */
  senderTimeoutMs: number;
  /** The model's implicit sequence states (sequence_batching.state), when it has any. */
  states?: SequenceStates | null;
  /** sequence_batching.iterative_sequence: a handler may reschedule its requests. */
  iterative?: boolean;
}

/** The requests (indices) whose handler asked to run them again; none unless the model is iterative. */
function rescheduled(ctx: ExecuteContext, requests: readonly InferenceRequest[]): number[] {
  if (!ctx.iterative) return [];
  return requests.flatMap((r, i) => (r.releaseFlags() & TRITONSERVER_REQUEST_RELEASE_RESCHEDULE ? [i] : []));
}

/** The parameters a handler reads: a uint64 sequence_id past 2^53 as its exact decimal text. */
function handlerParameters(p: WireParams): Record<string, string | number | boolean> {
  for (const key in p) {
    if (typeof p[key] === "bigint") return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, typeof v === "bigint" ? String(v) : v]));
  }
  return p as Record<string, string | number | boolean>;
}

export function decodeRequests(
  body: ExecuteBody, ctx: ExecuteContext, senders: (() => ResponseSender)[],
): InferenceRequest[] {
  const { endpoint, cancellations } = ctx;
  return body.requests.map((r, i) => {
    const inputs = r.inputs.map((t) => Tensor.fromBytes(t.name, t.datatype, t.shape,
      t.region ? clientRegions.view(t.region, false) : endpoint.view(t.loc)));
    if (ctx.states) inputs.push(...ctx.states.inputs(r));
    return InferenceRequest.received(
      {
        modelName: ctx.modelName,
        requestId: r.id,
        correlationId: r.correlationId,
        flags: r.flags,
        parameters: handlerParameters(r.parameters),
        requestedOutputNames: r.requestedOutputs,
        inputs,
      },
      () => cancellations.isCancelled(r.key),
      senders[i],
    );
  });
}

/**
/**
 * Checks the handler's answer: one entry per request, in order, each an InferenceResponse, or
 * (with `allowNone`) null/undefined for a request answered through its response sender, as
 * pb_utils takes None there. The entry of a rescheduled request (`again`) may be anything
 * (pb_utils wants None there): it is not sent, and comes back as null.
 */
export function checkResponses(
  result: unknown, count: number, modelName: string, allowNone = false, again: readonly number[] = [],
): (InferenceResponse | null)[] {
  if (result === undefined || result === null) {
    throw new TritonError(`model '${modelName}': execute() returned nothing, expected a list of ${count} InferenceResponse (only decoupled models may return nothing)`);
  }
  if (!Array.isArray(result)) {
    throw new TritonError(`model '${modelName}': execute() must return an array of InferenceResponse, got ${typeof result}`);
  }
  if (result.length !== count) {
    throw new TritonError(`model '${modelName}': execute() returned ${result.length} responses for ${count} requests`);
  }
  return result.map((r, i) => {
    if (again.includes(i)) return null;
    if (allowNone && (r === null || r === undefined)) return null;
    if (!(r instanceof InferenceResponse)) {
      throw new TritonError(`model '${modelName}': execute() response ${i} is not an InferenceResponse`);
    }
    return r;
  });
}

/**
 * Copies one response's outputs into shared memory; blocks are appended to `blocks`. An output the
 * client asked for in its region (`regions`) is written there instead: the one copy, straight
 * into the client's pages.
 */
export function encodeResponse(
  response: InferenceResponse, requested: string[], endpoint: Endpoint, blocks: Block[], skip?: ReadonlySet<string>,
  regions?: Record<string, WireRegion>,
): WireResponse {
  const error = response.error();
  if (error) return { outputs: [], error: { code: error.code(), message: error.message() } };
  const outputs: WireTensor[] = [];
  for (const t of response.outputTensors()) {
    if (requested.length > 0 && !requested.includes(t.name())) continue;
    if (skip?.has(t.name())) continue; // implicit state: stays in this instance
    const data = t.data;
    const target = regions?.[t.name()];
    if (target) {
      const size = Array.isArray(data) ? bytesElementsSize(data) : data.byteLength;
      if (size > target.size) {
        // Triton's text (its response allocator's); the response fails, as Triton's does.
        return { outputs: [], error: { code: "INTERNAL", message: `shared memory size specified with the request for output '${t.name()}' (${target.size} bytes) should be at least ${size} bytes to hold the results` } };
      }
      const into = clientRegions.view(target, true).subarray(0, size);
      if (Array.isArray(data)) encodeBytesElements(data, into);
      else into.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      outputs.push({ name: t.name(), datatype: t.datatype(), shape: t.shape(), loc: [0, 0, 0], region: { ...target, size } });
      continue;
    }
    let block: Block;
    if (Array.isArray(data)) {
      block = endpoint.alloc(bytesElementsSize(data));
      blocks.push(block);
      encodeBytesElements(data, block.bytes);
    } else {
      block = endpoint.alloc(data.byteLength);
      blocks.push(block);
      block.bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    outputs.push({ name: t.name(), datatype: t.datatype(), shape: t.shape(), loc: [block.arena, block.offset, block.bytes.byteLength] });
  }
  const parameters = response.parameters();
  return Object.keys(parameters).length > 0 ? { outputs, parameters } : { outputs };
}

function withTimeout<T>(promise: Promise<T>, ms: number, error: () => TritonError): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(error()), ms)));
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** A sender left open past stub-timeout after execute() returned (tessera's own deadline). */
class SenderTimeout extends TritonError {}

function noSender(modelName: string): Promise<never> {
  return Promise.reject(new TritonError(`model '${modelName}': execute() returned nothing and sent no response for a request through its response sender`));
}

export interface ExecuteOutcome {
  reply: ResponseBody;
  blocks: Block[];
  /**
   * null when the call's inputs may be released now; for a decoupled call, resolves once every
   * request's sender closed (the handler may read its inputs until it sent the final response).
   */
  inputsDone: Promise<void> | null;
}

export function runExecute(body: ExecuteBody, ctx: ExecuteContext): Promise<ExecuteOutcome> {
  return ctx.decoupled ? runDecoupled(body, ctx) : runCoupled(body, ctx);
}

/** What the handler threw, marked so: its text gets the exception type and the handler's frames. */
class HandlerThrew {
  constructor(readonly thrown: unknown) {}
}

/** The error of a failed call, for each request still open (Triton: "Failed to process ..."). */
function callFailed(ctx: ExecuteContext, err: unknown): ErrorInfo {
  const detail = err instanceof HandlerThrew ? describeThrown(err.thrown, ctx.sourceRoot) : errorInfo(err).message;
  return executeFailed(ctx.instanceName, detail);
}

type Ran = { result: unknown; execNs: number } | { error: unknown; execNs: number };

/**
 * Time the handler's own execute() took: decoding and encoding are compute_input/output. A
 * handler that returns its array of responses at once gets it back at once, without a microtask
 * hop. Anything else (a promise, a thenable, nothing: responses sent through senders, perhaps
 * from a microtask the handler queued) is awaited, as it always was.
 */
function timed(ctx: ExecuteContext, requests: InferenceRequest[]): Ran | Promise<Ran> {
  const started = performance.now();
  const took = () => Math.round((performance.now() - started) * 1e6);
  let result: unknown;
  try {
    result = ctx.model.execute(requests);
  } catch (error) {
    return { error, execNs: took() };
  }
  if (Array.isArray(result)) return { result, execNs: took() };
  return settled(result, took);
}

async function settled(result: unknown, took: () => number): Promise<Ran> {
  try {
    const value = await result;
    return { result: value, execNs: took() };
  } catch (error) {
    return { error, execNs: took() };
  }
}

/**
 * A call of a model that is not decoupled. Each request is answered by the response execute()
 * returned for it, or by the one sent through its response sender (null in the returned list, or
 * nothing returned at all). As in pb_stub.cc, a response once sent is the client's: if execute()
 * then throws, or returns a response for that request too (Triton's "cannot send more than one
 * response", logged with the call's failure), the sent one is delivered and the others fail.
 */
async function runCoupled(body: ExecuteBody, ctx: ExecuteContext): Promise<ExecuteOutcome> {
  const { endpoint, cancellations } = ctx;
  const blocks: Block[] = [];
  let execNs: number | undefined;
  // Made only for handlers that ask: they return nothing and send one response each instead.
  const senders: (CollectingSender | undefined)[] = body.requests.map(() => undefined);
  const senderOf = (i: number) => () =>
    (senders[i] ??= new CollectingSender(() => cancellations.isCancelled(body.requests[i].key)));
  try {
    const requests = decodeRequests(body, ctx, senders.map((_, i) => senderOf(i)));
    const running = timed(ctx, requests);
    const ran = running instanceof Promise ? await running : running;
    execNs = ran.execNs;
    if ("error" in ran) throw new HandlerThrew(ran.error);
    const again = rescheduled(ctx, requests);
    let answers: (InferenceResponse | null)[];
    if (ran.result === undefined || ran.result === null) {
      if (!senders.some((s) => s)) checkResponses(ran.result, requests.length, ctx.modelName);
      answers = requests.map(() => null);
    } else {
      answers = checkResponses(ran.result, requests.length, ctx.modelName, true, again);
      // pb_stub's ProcessReturnedResponses: a returned response for a request whose sender
      // already sent one fails the call (the sent one still stands).
      if (answers.some((r, i) => r !== null && senders[i]?.sent)) throw moreThanOneError();
    }
    // Requests answered through their senders: wait for each final flag (a rescheduled one sends nothing now).
    const answered = (r: InferenceResponse | null, i: number) => r !== null || again.includes(i);
    const responses: (InferenceResponse | null)[] = answers.every(answered)
      ? answers
      : await withTimeout(Promise.all(answers.map((r, i) => (answered(r, i) ? r : senders[i]?.done ?? noSender(ctx.modelName)))), ctx.senderTimeoutMs,
        () => new SenderTimeout(`model '${ctx.modelName}': execute() returned, and a response sender was not closed with ` +
          `TRITONSERVER_RESPONSE_COMPLETE_FINAL within ${ctx.senderTimeoutMs} ms`));
    const states = ctx.states;
    if (states) responses.forEach((r, i) => states.update(body.requests[i], r));
    const wire = responses.map((r, i) =>
      again.includes(i) || !r ? { outputs: [] } : encodeResponse(r, body.requests[i].requestedOutputs, endpoint, blocks, states?.outputs, body.requests[i].outputRegions));
    const reply: ResponseBody = { id: body.id, responses: wire, execNs };
    if (again.length > 0) reply.reschedule = again;
    return { reply, blocks, inputsDone: null };
  } catch (err) {
    endpoint.freeBlocks(blocks);
    blocks.length = 0;
    const error = callFailed(ctx, err);
    Logger.logError(error.message);
    // What was sent stays the client's; every other request ends with the call's error. A
    // sender left open past the deadline is not an answer (Triton would wait for its final flag
    // forever): its request fails too.
    const stands = (s: CollectingSender | undefined) => s?.sent && (s.final || !(err instanceof SenderTimeout)) ? s.sent : null;
    if (!senders.some(stands)) return { reply: { id: body.id, error, execNs }, blocks: [], inputsDone: null };
    try {
      const wire = body.requests.map((r, i) => {
        const sent = stands(senders[i]);
        return sent ? encodeResponse(sent, r.requestedOutputs, endpoint, blocks, undefined, r.outputRegions) : { outputs: [], error };
      });
      return { reply: { id: body.id, responses: wire, execNs }, blocks, inputsDone: null };
    } catch (encodeErr) {
      endpoint.freeBlocks(blocks);
      return { reply: { id: body.id, error: callFailed(ctx, encodeErr), execNs }, blocks: [], inputsDone: null };
    }
  } finally {
    for (const s of senders) s?.close();
    for (const r of body.requests) cancellations.end(r.key);
  }
}

/**
 * A decoupled call: execute() answers through the senders, now or later, and returns nothing.
 * If it throws (or returns responses), every request whose sender is still open ends with that
 * error, as Triton's Python backend does; the reply itself only reports the timing.
 */
async function runDecoupled(body: ExecuteBody, ctx: ExecuteContext): Promise<ExecuteOutcome> {
  const { endpoint, cancellations } = ctx;
  let open = body.requests.length;
  let allClosed!: () => void;
  const inputsDone = new Promise<void>((resolve) => (allClosed = resolve));
  if (open === 0) allClosed();
  const senders = body.requests.map((r) => new StreamingSender(r.key, r.requestedOutputs, endpoint,
    (response, requested, blocks) => {
      // A decoupled sequence model writes its next state in the responses it sends.
      ctx.states?.update(r, response);
      return encodeResponse(response, requested, endpoint, blocks, ctx.states?.outputs, r.outputRegions);
    },
    () => {
      cancellations.end(r.key);
      if (--open === 0) allClosed();
    },
    () => cancellations.isCancelled(r.key)));
  const failAll = (err: unknown) => {
    const info = callFailed(ctx, err);
    Logger.logError(info.message);
    const error = new TritonError(info.message, info.code);
    for (const s of senders) {
      try {
        s.fail(error);
      } catch (sendErr) {
        // The error itself could not be sent (shared memory exhausted): say so in the log.
        Logger.logError(`model '${ctx.modelName}': could not deliver an error response: ${errorInfo(sendErr).message}`);
      }
    }
  };
  let execNs: number | undefined;
  let again: number[] = [];
  try {
    const requests = decodeRequests(body, ctx, senders.map((s) => () => s));
    const running = timed(ctx, requests);
    const ran = running instanceof Promise ? await running : running;
    execNs = ran.execNs;
    if ("error" in ran) failAll(new HandlerThrew(ran.error));
    else if (ran.result !== undefined && ran.result !== null) {
      const info = decoupledMustReturnNone(ctx.instanceName);
      failAll(new TritonError(info.message, info.code));
    } else {
      // A rescheduled request goes on in its next call, with a sender of its own there.
      again = rescheduled(ctx, requests);
      for (const i of again) senders[i]!.detach();
    }
  } catch (err) {
    failAll(err);
  }
  return { reply: again.length > 0 ? { id: body.id, execNs, reschedule: again } : { id: body.id, execNs }, blocks: [], inputsDone };
}

/**
 * The EXECUTE messages main sends, run one at a time in the order received; each call's RESPONSE
 * goes back when its execute() returned.
 */
export class ExecuteQueue {
  readonly #cancellations: Cancellations;
  readonly #context: () => ExecuteContext;
  readonly #waiting: [ExecuteBody, MessageRef][] = [];
  #executing = false;
  #finishing = false;

  /** `context` is asked for at each call (it exists once the handler initialized). */
  constructor(cancellations: Cancellations, context: () => ExecuteContext) {
    this.#cancellations = cancellations;
    this.#context = context;
  }

  /** Takes main's EXECUTE messages. */
  serve(table: MessageTable): void {
    table.register(KIND.EXECUTE, (body, ref) => this.#receive(body, ref));
  }

  /** Starts no further call; resolves once the one running (if any) has returned. */
  async finish(): Promise<void> {
    this.#finishing = true;
    while (this.#executing) await new Promise((r) => setTimeout(r, 5));
  }

  #receive(body: ExecuteBody, ref: MessageRef): void {
    // From now on a cancellation of these requests counts, also while the call waits its turn.
    for (const r of body.requests) this.#cancellations.begin(r.key);
    this.#waiting.push([body, ref]);
    if (!this.#executing) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#executing = true;
    while (this.#waiting.length > 0 && !this.#finishing) {
      const [body, ref] = this.#waiting.shift()!;
      const ctx = this.#context();
      // Client regions the call uses stay mapped until it has ended, whatever main says meanwhile.
      const regionsDone = clientRegions.hold(body);
      const { reply, blocks, inputsDone } = await runExecute(body, ctx);
      // Inputs are dead once execute returned (a decoupled call's: once its senders closed):
      // release them first so main can reuse the memory by the time it reads the response.
      if (inputsDone) {
        void inputsDone.then(() => {
          ctx.endpoint.release(ref);
          regionsDone();
        });
      } else {
        ctx.endpoint.release(ref);
        regionsDone();
      }
      ctx.endpoint.send(KIND.RESPONSE, reply, blocks);
    }
    this.#executing = false;
  }
}
