/**
 * pb_utils' InferenceResponseSender. Decoupled models get a StreamingSender: each send() copies
 * the response's outputs into this stub's arena and posts a STREAM message at once, whether
 * execute() is still running or returned long ago. Other models may use a CollectingSender
 * instead of returning responses: exactly one response, then the final flag (Triton's rule).
 * The texts of the errors are the Python backend's. Both answer isCancelled() from the request's
 * cancellation (the client cancelled or went away), as pb_utils' sender does.
 */
import type { Block, Endpoint } from "../src/ipc/endpoint.js";
import { KIND, type StreamBody, type WireResponse } from "../src/ipc/protocol.js";
import { finalResponseUnsent } from "./errors.js";
import { TritonError } from "./sdk/errors.js";
import { InferenceResponse, TRITONSERVER_RESPONSE_COMPLETE_FINAL, type ResponseSender } from "./sdk/request.js";

export type EncodeResponse = (response: InferenceResponse, requested: string[], blocks: Block[]) => WireResponse;

/** pb_utils' text when a non-decoupled request gets a second response (sent, or sent then returned). */
export const moreThanOneError = () =>
  new TritonError("Unable to send response. Non-decoupled model cannot send more than one response.", TritonError.INVALID_ARG);

const closedError = () => new TritonError("Unable to send response. Response sender has been closed.", TritonError.INVALID_ARG);

/** Checks one send()'s arguments; true when it carries the final flag. */
function checkSend(response: InferenceResponse | null | undefined, flags: unknown): boolean {
  if (flags !== 0 && flags !== TRITONSERVER_RESPONSE_COMPLETE_FINAL) {
    throw new TritonError("Unable to send response. Unsupported flag provided.", TritonError.INVALID_ARG);
  }
  if (response != null && !(response instanceof InferenceResponse)) {
    throw new TritonError("Unable to send response. send() takes an InferenceResponse.", TritonError.INVALID_ARG);
  }
  if (response == null && flags === 0) {
    throw new TritonError("Inference Response object must be provided when the response flags is set to zero.", TritonError.INVALID_ARG);
  }
  return flags === TRITONSERVER_RESPONSE_COMPLETE_FINAL;
}

export class StreamingSender implements ResponseSender {
  readonly #key: number;
  readonly #requested: string[];
  readonly #endpoint: Endpoint;
  readonly #encode: EncodeResponse;
  readonly #onClosed: () => void;
  readonly #cancelled: () => boolean;
  #closed = false;

  constructor(
    key: number, requested: string[], endpoint: Endpoint, encode: EncodeResponse, onClosed: () => void,
    cancelled: () => boolean = () => false,
  ) {
    this.#cancelled = cancelled;
    this.#key = key;
    this.#requested = requested;
    this.#endpoint = endpoint;
    this.#encode = encode;
    this.#onClosed = onClosed;
  }

  isCancelled(): boolean {
    return this.#cancelled();
  }

  send(response?: InferenceResponse | null, flags = 0): void {
    if (this.#closed) throw closedError();
    const final = checkSend(response, flags);
    const blocks: Block[] = [];
    let body: StreamBody;
    try {
      body = response == null
        ? { key: this.#key, final }
        : { key: this.#key, response: this.#encode(response, this.#requested, blocks), final };
    } catch (err) {
      this.#endpoint.freeBlocks(blocks);
      throw err;
    }
    try {
      this.#endpoint.send(KIND.STREAM, body, blocks);
    } catch (err) {
      this.#endpoint.freeBlocks(blocks);
      if (!final) throw err;
      // The final flag must get through, or the request never ends: with the failure instead.
      const bare: StreamBody = { key: this.#key, response: { outputs: [], error: finalResponseUnsent(err) }, final: true };
      try {
        this.#endpoint.send(KIND.STREAM, bare, []);
      } finally {
        this.#close();
      }
      throw err;
    }
    if (final) this.#close();
  }

  #close(): void {
    this.#closed = true;
    this.#onClosed();
  }

  /**
   * The request runs again (rescheduled, iterative sequences): this call's sender closes without a
   * final flag; the next call's sender, under a new key, goes on with the same stream in main.
   */
  detach(): void {
    if (!this.#closed) this.#close();
  }

  /** Ends the request with an error, unless the handler already sent its final response. */
  fail(error: TritonError): void {
    if (!this.#closed) this.send(new InferenceResponse({ error }), TRITONSERVER_RESPONSE_COMPLETE_FINAL);
  }
}

export class CollectingSender implements ResponseSender {
  readonly #cancelled: () => boolean;
  #response: InferenceResponse | null = null;
  #closed = false;
  #final = false;
  #resolve!: (response: InferenceResponse) => void;
  /** The one response, once the final flag was sent. */
  readonly done = new Promise<InferenceResponse>((resolve) => (this.#resolve = resolve));

  constructor(cancelled: () => boolean = () => false) {
    this.#cancelled = cancelled;
  }

  /**
   * The response sent, final flag or not: in Triton it is on its way to the client at once, so
   * it is what the client gets whatever execute() does next (throws, or returns one too).
   */
  get sent(): InferenceResponse | null {
    return this.#response;
  }

  /** The final flag was sent (the handler closed it; close() does not count). */
  get final(): boolean {
    return this.#final;
  }

  isCancelled(): boolean {
    return this.#cancelled();
  }

  send(response?: InferenceResponse | null, flags = 0): void {
    // Triton's order (UpdateStateAndCounters): the non-decoupled rules first, then closed.
    const final = checkSend(response, flags);
    if (response != null && this.#response) throw moreThanOneError();
    if (response == null && final && !this.#response) {
      throw new TritonError("Unable to send response. Non-decoupled model cannot send complete final before sending a response.", TritonError.INVALID_ARG);
    }
    if (this.#closed) throw closedError();
    if (response != null) this.#response = response;
    if (!final) return;
    this.#closed = true;
    this.#final = true;
    this.#resolve(this.#response!);
  }

  /**
   * The call is over (pb_stub closes every sender once execute() failed or its answer went out):
   * later sends throw "Response sender has been closed".
   */
  close(): void {
    this.#closed = true;
  }
}
