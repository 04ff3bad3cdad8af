import { TritonError } from "./errors.js";
import { checkedParameters } from "./parameters.js";
import { Tensor } from "./tensor.js";

export type ParamValue = string | number | boolean;

/** pb_utils' flag on the last response of a decoupled request. */
export const TRITONSERVER_RESPONSE_COMPLETE_FINAL = 1;
/** Request flags (sequence batching), as Triton's. */
export const TRITONSERVER_REQUEST_FLAG_SEQUENCE_START = 1;
export const TRITONSERVER_REQUEST_FLAG_SEQUENCE_END = 2;
/** Request release flags (pb_utils' set_release_flags), as Triton's. */
export const TRITONSERVER_REQUEST_RELEASE_ALL = 1;
/** The request runs again in a later call of its sequence (iterative_sequence models). */
export const TRITONSERVER_REQUEST_RELEASE_RESCHEDULE = 2;

export interface InferenceRequestOptions {
  modelName: string;
  modelVersion?: number;
  requestedOutputNames?: string[];
  inputs: Tensor[];
  requestId?: string;
  correlationId?: string | bigint;
  flags?: number;
  parameters?: Record<string, ParamValue>;
  timeoutMs?: number;
}

/** What a BLS call sends: the options of the InferenceRequest a handler made. */
export type BlsCall = InferenceRequestOptions;
type BlsTransport = (call: BlsCall) => ResponseIterator;

/**
 * pb_utils' ResponseIterator: what streamExec() returns. Iterate it with `for await`; cancel()
 * cancels the request at the target model (its handler sees isCancelled()). Responses already on
 * their way, and any the target still sends, keep coming until its final one, as in Triton;
 * cancel() after the final response, or twice, does nothing.
 */
export type ResponseIterator = AsyncGenerator<InferenceResponse> & { cancel(): void };

/** Responses that stand for a bare final flag (no outputs, no error): exec() skips them. */
const bareFinals = new WeakSet<InferenceResponse>();

/** @internal The BLS client marks the empty response it yields for a target's bare final flag. */
export function markBareFinal(response: InferenceResponse): InferenceResponse {
  bareFinals.add(response);
  return response;
}
let blsTransport: BlsTransport | null = null;

/** @internal The stub wires BLS calls to main; outside a stub, exec() has nowhere to go. */
export function setBlsTransport(transport: BlsTransport | null): void {
  blsTransport = transport;
}

/**
 * Sends the responses of a decoupled request: any number of responses, at any time (also after
 * execute() returned), the last one (or a bare send(undefined, FINAL)) flagged
 * TRITONSERVER_RESPONSE_COMPLETE_FINAL. Sending after the final flag throws.
 */
export interface ResponseSender {
  send(response?: InferenceResponse | null, flags?: number): void;
  /** pb_utils' is_cancelled(): true once the request's client cancelled it or went away. */
  isCancelled(): boolean;
}

/**
 * pb_utils.InferenceRequest: what execute() receives, and (constructed by a handler) a BLS call
 * to another model.
 */
export class InferenceRequest {
  readonly #o: InferenceRequestOptions;
  #cancelled: () => boolean = () => false;
  #sender: ResponseSender | (() => ResponseSender) | undefined;
  #releaseFlags = TRITONSERVER_REQUEST_RELEASE_ALL;

  constructor(options: InferenceRequestOptions) {
    if (!options || typeof options.modelName !== "string") throw new TypeError("InferenceRequest: modelName is required");
    if (!Array.isArray(options.inputs) || options.inputs.some((t) => !(t instanceof Tensor))) {
      throw new TypeError("InferenceRequest: inputs must be an array of Tensor");
    }
    this.#o = { ...options, parameters: checkedParameters(options.parameters) };
  }

  /**
   * @internal A request received from the server: its cancellation flag, and its response sender
   * (made on first use).
   */
  static received(options: InferenceRequestOptions, cancelled: () => boolean, sender?: () => ResponseSender): InferenceRequest {
    // The client's parameters, as main decoded them: not a handler's to check (pb_utils checks
    // only the ones a handler passes to the constructor).
    const r = new InferenceRequest({ ...options, parameters: undefined });
    r.#o.parameters = options.parameters;
    r.#cancelled = cancelled;
    r.#sender = sender;
    return r;
  }

  inputs(): Tensor[] {
    return [...this.#o.inputs];
  }

  requestedOutputNames(): string[] {
    return [...(this.#o.requestedOutputNames ?? [])];
  }

  requestId(): string {
    return this.#o.requestId ?? "";
  }

  correlationId(): string | bigint {
    return this.#o.correlationId ?? "";
  }

  flags(): number {
    return this.#o.flags ?? 0;
  }

  parameters(): Record<string, ParamValue> {
    return { ...(this.#o.parameters ?? {}) };
  }

  modelName(): string {
    return this.#o.modelName;
  }

  isCancelled(): boolean {
    return this.#cancelled();
  }

  /**
   * pb_utils' set_release_flags: TRITONSERVER_REQUEST_RELEASE_RESCHEDULE asks for this request to
   * run again, in a later call (a model with iterative_sequence: true), instead of ending when
   * execute() returns. Its entry in the list execute() returns is then not sent (pb_utils wants
   * None there); a decoupled request keeps its response sender open across the calls.
   */
  setReleaseFlags(flags: number): void {
    if (flags !== TRITONSERVER_REQUEST_RELEASE_ALL && flags !== TRITONSERVER_REQUEST_RELEASE_RESCHEDULE) {
      throw new TritonError(`invalid release flags ${String(flags)}: expected TRITONSERVER_REQUEST_RELEASE_ALL or TRITONSERVER_REQUEST_RELEASE_RESCHEDULE`, TritonError.INVALID_ARG);
    }
    this.#releaseFlags = flags;
  }

  /** @internal What setReleaseFlags set (the stub reads it when execute() returned). */
  releaseFlags(): number {
    return this.#releaseFlags;
  }

  /**
   * The sender of this request's responses (the same one on every call). Decoupled models send
   * any number; other models may send exactly one, then the final flag, and return nothing.
   */
  getResponseSender(): ResponseSender {
    if (typeof this.#sender === "function") this.#sender = this.#sender();
    if (this.#sender) return this.#sender;
    throw new TritonError("this request was not received from the server: it has no response sender", TritonError.UNSUPPORTED);
  }

  /**
   * BLS: runs this request on a model of the server, through its scheduler (batching, instances
   * and statistics apply), and resolves with its one response. As in pb_utils, a failure comes
   * back as a response carrying the error, not as an exception.
   */
  async exec(): Promise<InferenceResponse> {
    const responses: InferenceResponse[] = [];
    for await (const r of this.streamExec()) if (!bareFinals.has(r)) responses.push(r);
    if (responses.length === 1) return responses[0];
    return new InferenceResponse({
      error: new TritonError(
        `model '${this.#o.modelName}' sent ${responses.length} responses to exec(), which takes exactly one: ` +
        "use streamExec() for a decoupled model",
        TritonError.INVALID_ARG,
      ),
    });
  }

  /**
   * BLS to a decoupled model: its responses as they come (errors as responses that carry them),
   * the target's bare final flag as a last empty response, as pb_utils' exec(decoupled=True).
   */
  streamExec(): ResponseIterator {
    if (blsTransport) return blsTransport(this.#o);
    // biome-ignore lint/correctness/useYield: an iterator that fails on its first next(), as a stream would
    const unavailable = async function* (): AsyncGenerator<InferenceResponse> {
      throw new TritonError("BLS calls need the server: exec() and streamExec() work in a model that tessera serves", TritonError.UNSUPPORTED);
    };
    return Object.assign(unavailable(), { cancel(): void {} });
  }
}

export interface InferenceResponseOptions {
  outputTensors?: Tensor[];
  error?: TritonError;
  parameters?: Record<string, ParamValue>;
}

/** pb_utils.InferenceResponse: output tensors, or an error for this request alone. */
export class InferenceResponse {
  readonly #outputs: Tensor[];
  readonly #error: TritonError | null;
  readonly #parameters: Record<string, ParamValue>;

  constructor(options: InferenceResponseOptions = {}) {
    const outputs = options.outputTensors ?? [];
    if (!Array.isArray(outputs) || outputs.some((t) => !(t instanceof Tensor))) {
      throw new TypeError("InferenceResponse: outputTensors must be an array of Tensor");
    }
    if (options.error !== undefined && !(options.error instanceof TritonError)) {
      throw new TypeError("InferenceResponse: error must be a TritonError");
    }
    this.#outputs = [...outputs];
    this.#error = options.error ?? null;
    this.#parameters = checkedParameters(options.parameters);
  }

  outputTensors(): Tensor[] {
    return [...this.#outputs];
  }

  hasError(): boolean {
    return this.#error !== null;
  }

  error(): TritonError | null {
    return this.#error;
  }

  parameters(): Record<string, ParamValue> {
    return { ...this.#parameters };
  }
}

export function getInputTensorByName(request: InferenceRequest, name: string): Tensor | null {
  return request.inputs().find((t) => t.name() === name) ?? null;
}

export function getOutputTensorByName(response: InferenceResponse, name: string): Tensor | null {
  return response.outputTensors().find((t) => t.name() === name) ?? null;
}
