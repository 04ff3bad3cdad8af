/**
 * Business-logic scripting: a handler's InferenceRequest.exec() / streamExec() to any model of
 * the server. The request goes to main over the shared-memory queue (inputs copied into this
 * stub's arena, read there by main as views), through main's scheduler like any client's, and
 * its responses come back the same way. Their outputs are copied out of shared memory at once:
 * a handler may keep them as long as it likes.
 */
import type { Block, Endpoint, MessageRef } from "../src/ipc/endpoint.js";
import { KIND, type BlsCancelBody, type BlsRequestBody, type BlsResponseBody, type WireParams, type WireTensor } from "../src/ipc/protocol.js";
import { bytesElementsSize, encodeBytesElements } from "../src/ipc/datatypes.js";
import { TritonError } from "./sdk/errors.js";
import {
  InferenceResponse, TRITONSERVER_REQUEST_FLAG_SEQUENCE_END, TRITONSERVER_REQUEST_FLAG_SEQUENCE_START, markBareFinal, type BlsCall,
  type ResponseIterator,
} from "./sdk/request.js";
import { Tensor } from "./sdk/tensor.js";
import type { MessageTable } from "./kind-table.js";

/** One response of a call; a bare final flag (the target's send(undefined, FINAL)) has none. */
type Item = { response: InferenceResponse; final: boolean } | { final: true; response?: undefined };

export class BlsClient {
  readonly #endpoint: Endpoint;
  #next = 1;
  readonly #calls = new Map<number, (item: Item) => void>();

  constructor(endpoint: Endpoint) {
    this.#endpoint = endpoint;
  }

  /**
   * The call's responses in order, as pb_utils' ResponseIterator: the iteration ends after the
   * final one (a bare final flag comes out as an empty response, as there). The call is sent at
   * the first next(). cancel() asks main to cancel the request at the target model; responses
   * keep coming (drained) until the target sends its final one; after that it does nothing.
   */
  call(call: BlsCall): ResponseIterator {
    const id = this.#next++;
    // "new": not sent yet; "open": sent, final not seen; "done": final seen (or the send failed).
    let state: "new" | "open" | "done" = "new";
    let cancelAsked = false;
    const sendCancel = () => {
      const body: BlsCancelBody = { bls: id };
      this.#endpoint.send(KIND.BLS_CANCEL, body, []);
    };
    const generate = async function* (this: BlsClient): AsyncGenerator<InferenceResponse> {
      const items: Item[] = [];
      let wake: (() => void) | null = null;
      this.#calls.set(id, (item) => {
        items.push(item);
        wake?.();
        wake = null;
      });
      try {
        this.#send(id, call);
        state = "open";
        if (cancelAsked) sendCancel();
        for (;;) {
          const item = items.shift();
          if (!item) {
            await new Promise<void>((resolve) => (wake = resolve));
            continue;
          }
          if (item.final) state = "done";
          if (item.response) yield item.response;
          else yield markBareFinal(new InferenceResponse());
          if (item.final) return;
        }
      } finally {
        // The handler stopped iterating early: later responses are dropped as they come, and the
        // entry goes with the final one (onResponse).
        if (state !== "done" && this.#calls.has(id)) this.#calls.set(id, () => {});
        if (state === "new") state = "done";
      }
    }.call(this);
    return Object.assign(generate, {
      cancel(): void {
        if (state === "done" || cancelAsked) return;
        cancelAsked = true;
        if (state === "open") sendCancel();
      },
    });
  }

  /** Takes main's BLS_RESPONSE messages. */
  serve(table: MessageTable): void {
    table.register(KIND.BLS_RESPONSE, (body, ref) => this.onResponse(body, ref));
  }

  /** A BLS_RESPONSE from main: copied out, then released. */
  onResponse(body: BlsResponseBody, ref: MessageRef): void {
    const deliver = this.#calls.get(body.bls);
    let item: Item;
    try {
      const r = body.response;
      if (!r) item = { final: true };
      else if (r.error) item = { response: new InferenceResponse({ error: new TritonError(r.error.message, r.error.code) }), final: body.final };
      else {
        const outputs = r.outputs.map((t) => Tensor.fromBytes(t.name, t.datatype, t.shape, this.#endpoint.view(t.loc).slice()));
        // Responses carry no bigint (only a request's sequence_id may).
        const parameters = r.parameters as Record<string, string | number | boolean>;
        item = { response: new InferenceResponse({ outputTensors: outputs, parameters }), final: body.final };
      }
    } finally {
      this.#endpoint.release(ref);
    }
    if (body.final) this.#calls.delete(body.bls);
    deliver?.(item);
  }

  #send(id: number, call: BlsCall): void {
    const blocks: Block[] = [];
    try {
      const inputs: WireTensor[] = call.inputs.map((t) => {
        const data = t.data;
        let block: Block;
        if (Array.isArray(data)) {
          block = this.#endpoint.alloc(bytesElementsSize(data));
          encodeBytesElements(data, block.bytes);
        } else {
          block = this.#endpoint.alloc(data.byteLength);
          block.bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        }
        blocks.push(block);
        return { name: t.name(), datatype: t.datatype(), shape: t.shape(), loc: [block.arena, block.offset, block.bytes.byteLength] };
      });
      const body: BlsRequestBody = {
        bls: id,
        model: call.modelName,
        version: call.modelVersion === undefined || call.modelVersion < 0 ? "" : String(call.modelVersion),
        id: call.requestId ?? "",
        parameters: withSequence(call),
        requestedOutputs: call.requestedOutputNames ?? [],
        inputs,
        ...(call.timeoutMs !== undefined ? { timeoutMs: call.timeoutMs } : {}),
      };
      this.#endpoint.send(KIND.BLS_REQUEST, body, blocks);
    } catch (err) {
      this.#endpoint.freeBlocks(blocks);
      this.#calls.delete(id);
      throw err;
    }
  }
}

/**
 * A BLS request's parameters, with its correlationId and flags as the sequence parameters a client
 * would send (sequence_id, sequence_start, sequence_end), so that a sequence model's batcher sees
 * them. A uint64 id past 2^53 travels as a bigint (exact).
 */
export function withSequence(call: BlsCall): WireParams {
  const parameters: WireParams = { ...(call.parameters ?? {}) };
  const id = call.correlationId;
  if (id !== undefined && id !== "" && id !== 0n) {
    parameters.sequence_id = typeof id === "bigint" && id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : id;
  }
  const flags = call.flags ?? 0;
  if (flags & TRITONSERVER_REQUEST_FLAG_SEQUENCE_START) parameters.sequence_start = true;
  if (flags & TRITONSERVER_REQUEST_FLAG_SEQUENCE_END) parameters.sequence_end = true;
  return parameters;
}
