/**
 * Implicit state (sequence_batching.state), kept by the instance itself: Triton's SequenceStates,
 * per batch slot. The batcher in main sends each request with its sequence's slot (WireRequest.slot)
 * and flags; the state never travels through main.
 *
 *  - At START the slot's state is the initial state (zero_data, data_file, or zeros of dims), with
 *    a batch dimension of 1 when the model batches. Otherwise it is what the previous request of
 *    the same sequence wrote.
 *  - The handler reads it as the input `input_name` and writes the next one as the output
 *    `output_name` (any shape: growable). That output goes no further: it is not sent to main.
 *    A handler that wrote no output keeps the state it was given, which it may have changed in
 *    place (use_same_buffer_for_input_output): the input is the state's own buffer, not a copy.
 *  - At END the slot's state is dropped; a slot released after max_sequence_idle_microseconds is
 *    re-initialised by the next sequence's START, so at most one state per slot ever lives. A
 *    stub's death takes them all.
 *
 * A request whose call fails, or whose response carries an error, leaves the state as it was.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { datatypeFromConfig, datatypeSize, decodeBytesElements, elementCount, type Datatype } from "../src/ipc/datatypes.js";
import { REQUEST_FLAG, type WireRequest } from "../src/ipc/protocol.js";
import { TritonError } from "./sdk/errors.js";
import type { InferenceResponse } from "./sdk/request.js";
import { Tensor } from "./sdk/tensor.js";

interface StateSpec {
  input: string;
  output: string;
  datatype: Datatype;
  /** The state at START (without the batch dimension). */
  initial: () => Tensor;
}

interface ConfigState {
  input_name: string;
  output_name: string;
  data_type: string;
  dims: (number | string)[];
  initial_state?: { data_type: string; dims: (number | string)[]; zero_data?: boolean; data_file?: string; name?: string }[];
}

/** One slot's states, and which sequence they belong to. */
interface SlotStates {
  correlationId: string | bigint;
  tensors: Map<string, Tensor>;
}

export class SequenceStates {
  readonly #specs: StateSpec[];
  readonly #batched: boolean;
  readonly #slots = new Map<number, SlotStates>();
  /** Output names that are states: never sent to main. */
  readonly outputs: ReadonlySet<string>;

  private constructor(specs: StateSpec[], batched: boolean) {
    this.#specs = specs;
    this.#batched = batched;
    this.outputs = new Set(specs.map((s) => s.output));
  }

  /** From the model's final config; null when it declares no state. */
  static fromConfig(modelConfig: string, modelDir: string): SequenceStates | null {
    const cfg = JSON.parse(modelConfig) as { max_batch_size?: number; sequence_batching?: { state?: ConfigState[] } };
    const states = cfg.sequence_batching?.state ?? [];
    if (states.length === 0) return null;
    return new SequenceStates(states.map((s) => spec(s, modelDir)), (cfg.max_batch_size ?? 0) > 0);
  }

  /** Live slot states (for tests and logs). */
  get size(): number {
    return this.#slots.size;
  }

  /** The state inputs of `r`: its slot's states, initial ones at START. */
  inputs(r: WireRequest): Tensor[] {
    if (r.slot < 0) return [];
    let slot = this.#slots.get(r.slot);
    if ((r.flags & REQUEST_FLAG.SEQUENCE_START) !== 0 || !slot || slot.correlationId !== r.correlationId) {
      slot = { correlationId: r.correlationId, tensors: new Map() };
      for (const s of this.#specs) slot.tensors.set(s.input, this.#withBatch(s.initial(), s.input));
      this.#slots.set(r.slot, slot);
    }
    return this.#specs.map((s) => slot.tensors.get(s.input)!);
  }

  /** After `r` ran: keep the states its response wrote; drop the slot's at END. */
  update(r: WireRequest, response: InferenceResponse | null): void {
    if (r.slot < 0) return;
    if ((r.flags & REQUEST_FLAG.SEQUENCE_END) !== 0) {
      this.#slots.delete(r.slot);
      return;
    }
    const slot = this.#slots.get(r.slot);
    if (!slot || !response || response.hasError()) return;
    for (const t of response.outputTensors()) {
      const s = this.#specs.find((x) => x.output === t.name());
      if (!s) continue;
      if (t.datatype() !== s.datatype) {
        throw new TritonError(`state output '${t.name()}' has data-type ${t.datatype()}, but the model's state expects ${s.datatype}`, TritonError.INVALID_ARG);
      }
      const held = slot.tensors.get(s.input)!;
      // The handler's own state buffer back (updated in place): nothing to copy.
      const data = t.data === held.data ? held.data : t.asArray();
      slot.tensors.set(s.input, new Tensor(s.input, data as never, t.shape(), s.datatype));
    }
  }

  /** Forgets every slot's state (the instance stops). */
  clear(): void {
    this.#slots.clear();
  }

  #withBatch(t: Tensor, name: string): Tensor {
    return this.#batched ? new Tensor(name, t.data as never, [1, ...t.shape()], t.datatype()) : t;
  }
}

function spec(s: ConfigState, modelDir: string): StateSpec {
  const datatype = datatypeFromConfig(s.data_type);
  if (!datatype) throw new TritonError(`state '${s.input_name}' has an unsupported data_type ${s.data_type}`, TritonError.INVALID_ARG);
  const init = s.initial_state?.[0];
  const dims = (init?.dims ?? s.dims).map(Number).map((d) => Math.max(d, 0));
  let bytes: Uint8Array | null = null;
  let strings: Uint8Array[] | null = null;
  if (init?.data_file) {
    bytes = new Uint8Array(readFileSync(join(modelDir, "initial_state", init.data_file)));
    const what = `initial state '${init.name ?? s.input_name}' data file '${init.data_file}'`;
    if (datatype === "BYTES") {
      // Triton's serialized BYTES: each element a 4-byte little-endian length, then its bytes.
      strings = decodeBytesElements(bytes, elementCount(dims));
      if (!strings) throw new TritonError(`${what} does not hold ${elementCount(dims)} length-prefixed BYTES elements`, TritonError.INVALID_ARG);
    } else if (bytes.byteLength !== elementCount(dims) * datatypeSize(datatype)) {
      throw new TritonError(`${what} has ${bytes.byteLength} bytes, expected ${elementCount(dims) * datatypeSize(datatype)}`, TritonError.INVALID_ARG);
    }
  }
  const initial = () => {
    if (datatype === "BYTES") {
      const elements = strings ? strings.map((e) => e.slice()) : Array.from({ length: elementCount(dims) }, () => new Uint8Array(0));
      return new Tensor(s.input_name, elements, dims, "BYTES");
    }
    const b = bytes ? bytes.slice() : new Uint8Array(elementCount(dims) * datatypeSize(datatype));
    return Tensor.fromBytes(s.input_name, datatype, dims, b);
  };
  return { input: s.input_name, output: s.output_name, datatype, initial };
}
