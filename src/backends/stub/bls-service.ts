/**
 * BLS serving: a handler's request to a model of this server (InferenceRequest.exec() and
 * streamExec()) arrives as BLS_REQUEST and runs through the server like a client's; each
 * response goes back as BLS_RESPONSE. Registered on the channel of every stub. BLS_CANCEL (the
 * handler's cancel() on its streamExec() iterator) aborts the call's request, as Triton's
 * TRITONSERVER_InferenceRequestCancel does: the target sees it cancelled, and what it still
 * sends flows back until its final response.
 */
import { blsUnavailable, callingStubGone, requestCancelled, requestTimeoutExpired, toServerError } from "../../errors/index.js";
import { Cancellation } from "../../core/cancellation.js";
import type { ResponseStream, StreamItem } from "../../core/response-stream.js";
import type { CoreRequest } from "../../core/types.js";
import type { Block, MessageRef } from "../../ipc/endpoint.js";
import { KIND, type BlsRequestBody, type BlsResponseBody, type WireResponse } from "../../ipc/protocol.js";
import { copyOutputs, viewTensors } from "./marshal.js";
import type { StubChannel } from "./stub-channel.js";

/** Where BLS calls go (the server); without it they fail as unsupported. */
export type BlsTarget = (request: CoreRequest) => ResponseStream;

export function serveBls(channel: StubChannel, target: BlsTarget | undefined): void {
  // The calls of this stub in flight, by its call id: what a BLS_CANCEL aborts (and the model named).
  const live = new Map<number, { controller: Cancellation; model: string }>();
  channel.register(KIND.BLS_REQUEST, (body, ref) => void serveCall(channel, target, body, ref, live));
  channel.register(KIND.BLS_CANCEL, (body, ref) => {
    channel.endpoint.release(ref);
    // A call already over (its final response crossed the cancel) has nothing left to cancel.
    const call = live.get(body.bls);
    call?.controller.abort(requestCancelled(call.model));
  });
}

/**
 * One call: a request like a client's, whose inputs are views over the stub's memory (released,
 * with the message, once the call ended), and whose responses are copied into this side's arena
 * for the stub. A call outliving `timeoutMs` ends with Triton's timeout error.
 */
async function serveCall(
  channel: StubChannel, target: BlsTarget | undefined, body: BlsRequestBody, ref: MessageRef, live: Map<number, { controller: Cancellation; model: string }>,
): Promise<void> {
  const endpoint = channel.endpoint;
  const controller = new Cancellation();
  live.set(body.bls, { controller, model: body.model });
  let ended = false;
  const reply = (item: StreamItem): void => {
    if (ended || channel.closed) {
      item.response?.release();
      return;
    }
    ended = item.final;
    const blocks: Block[] = [];
    let response: WireResponse | undefined;
    try {
      if (item.response) response = { outputs: copyOutputs(item.response.outputs, endpoint, blocks), parameters: item.response.parameters };
      else if (item.error) response = { outputs: [], error: item.error.toJSON() };
    } catch (err) {
      endpoint.freeBlocks(blocks);
      blocks.length = 0;
      response = { outputs: [], error: toServerError(err).toJSON() };
    } finally {
      item.response?.release();
    }
    const answer: BlsResponseBody = { bls: body.bls, response, final: item.final };
    endpoint.send(KIND.BLS_RESPONSE, answer, blocks);
  };
  let stream: ResponseStream;
  try {
    if (!target) throw blsUnavailable();
    stream = target({
      model: body.model,
      version: body.version || undefined,
      id: body.id,
      inputs: viewTensors(body.inputs, endpoint),
      outputs: body.requestedOutputs.length > 0 ? body.requestedOutputs.map((name) => ({ name })) : undefined,
      parameters: body.parameters,
      signal: controller,
    });
  } catch (err) {
    reply({ error: toServerError(err), final: true });
    live.delete(body.bls);
    endpoint.release(ref);
    return;
  }
  const timer = body.timeoutMs === undefined ? undefined : setTimeout(() => {
    reply({ error: requestTimeoutExpired(), final: true });
    controller.abort(requestTimeoutExpired());
    stream.close();
  }, body.timeoutMs);
  try {
    for await (const item of stream) {
      reply(item);
      if (channel.closed) {
        controller.abort(callingStubGone());
        break;
      }
    }
  } finally {
    clearTimeout(timer);
    live.delete(body.bls);
    stream.close();
    endpoint.release(ref);
  }
}
