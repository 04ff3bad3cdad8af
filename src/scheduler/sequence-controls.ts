/**
 * What the sequence batcher reads from a request and adds to it: the sequence id (checked against
 * the CORRID control's data type, as Triton's infer_request.cc does) and the control input tensors
 * (CONTROL_SEQUENCE_START / _END / _READY with the config's false/true values, and _CORRID), which
 * Triton's batcher fills in for every request it sends (SetControlTensors). A model with
 * max_batch_size > 0 gets them as [1, 1] per request, so a batch stacks to [rows, 1].
 */
import { sequenceBatchSizeNotOne, sequenceIdMissing, sequenceIdTooLong, sequenceIdType } from "../errors/index.js";
import type { ModelConfig } from "../config/schema.js";
import type { CoreRequest, CoreTensor } from "../core/types.js";
import type { Datatype } from "../ipc/datatypes.js";

/** A sequence id as the batcher keys it: uint64 1 and string "1" are different sequences. */
export interface SequenceId {
  /** Map key: "u:<n>" or "s:<text>". */
  key: string;
  /** As Triton prints it in its texts. */
  text: string;
  value: string | bigint;
}

interface BoolControl {
  name: string;
  datatype: Datatype;
  /** The value's bytes for false and for true. */
  values: [Uint8Array, Uint8Array];
}

type Sb = NonNullable<ModelConfig["sequence_batching"]>;

const MAX_STRING_ID = 128;

function encode(datatype: Datatype, v: number | boolean): Uint8Array {
  if (datatype === "FP32") return new Uint8Array(new Float32Array([Number(v)]).buffer);
  if (datatype === "INT32") return new Uint8Array(new Int32Array([Number(v)]).buffer);
  return new Uint8Array([v ? 1 : 0]);
}

function boolControl(sb: Sb, kind: string): BoolControl | undefined {
  for (const input of sb.control_input) {
    for (const c of input.control) {
      if (c.kind !== kind) continue;
      const [datatype, pair]: [Datatype, (number | boolean)[]] = c.int32_false_true.length
        ? ["INT32", c.int32_false_true]
        : c.fp32_false_true.length ? ["FP32", c.fp32_false_true] : ["BOOL", c.bool_false_true];
      return { name: input.name, datatype, values: [encode(datatype, pair[0]!), encode(datatype, pair[1]!)] };
    }
  }
  return undefined;
}

export class SequenceControls {
  readonly #model: string;
  readonly #start: BoolControl | undefined;
  readonly #end: BoolControl | undefined;
  readonly #ready: BoolControl | undefined;
  readonly #corrid: { name: string; datatype: Datatype } | undefined;
  readonly #shape: number[];
  readonly #batching: boolean;
  readonly #iterative: boolean;
  #autoIds = 1;

  constructor(cfg: ModelConfig) {
    const sb = cfg.sequence_batching!;
    this.#model = cfg.name;
    this.#start = boolControl(sb, "CONTROL_SEQUENCE_START");
    this.#end = boolControl(sb, "CONTROL_SEQUENCE_END");
    this.#ready = boolControl(sb, "CONTROL_SEQUENCE_READY");
    for (const input of sb.control_input) {
      const c = input.control.find((k) => k.kind === "CONTROL_SEQUENCE_CORRID");
      if (c) this.#corrid = { name: input.name, datatype: c.data_type.replace(/^TYPE_/, "").replace("STRING", "BYTES") as Datatype };
    }
    this.#shape = cfg.max_batch_size > 0 ? [1, 1] : [1];
    this.#batching = cfg.max_batch_size > 0;
    this.#iterative = sb.iterative_sequence;
  }

  /** The request's sequence id, checked: present, non-zero, of the CORRID control's type. */
  sequenceId(request: CoreRequest): SequenceId {
    const id = request.parameters.sequence_id;
    if (id === undefined || id === 0 || id === "") throw sequenceIdMissing(this.#model);
    const corrid = this.#corrid;
    if (typeof id === "string") {
      if (corrid && corrid.datatype !== "BYTES") throw sequenceIdType(request.id, corrid.name, "BYTES", this.#model, corrid.datatype);
      if (id.length > MAX_STRING_ID) throw sequenceIdTooLong();
      return { key: `s:${id}`, text: id, value: id };
    }
    if (typeof id !== "number" && typeof id !== "bigint") throw sequenceIdMissing(this.#model);
    if (corrid && corrid.datatype === "BYTES") throw sequenceIdType(request.id, corrid.name, "UINT64", this.#model, "BYTES");
    const value = BigInt.asUintN(64, BigInt(id));
    return { key: `u:${value}`, text: String(value), value };
  }

  /**
   * What a request says of its sequence, checked: its id, START and END. An iterative model's
   * request without an id is a sequence of its own, given the next id of a counter (Triton's
   * IterativeSequencer), with START. A batching model's request must have one row.
   */
  admit(request: CoreRequest): { id: SequenceId; start: boolean; end: boolean } {
    const p = request.parameters;
    if (this.#batching && (request.inputs[0]?.shape[0] ?? 1) > 1) throw sequenceBatchSizeNotOne(this.#model);
    if (this.#iterative && (p.sequence_id === undefined || p.sequence_id === 0 || p.sequence_id === "")) {
      const n = this.#autoIds++;
      return { id: { key: `i:${n}`, text: String(n), value: BigInt(n) }, start: true, end: p.sequence_end === true };
    }
    return { id: this.sequenceId(request), start: p.sequence_start === true, end: p.sequence_end === true };
  }

  /** The request as its instance receives it: its own inputs, then the control tensors. */
  withControls(request: CoreRequest, id: SequenceId, start: boolean, end: boolean): CoreRequest {
    const controls: CoreTensor[] = [];
    const add = (c: BoolControl | undefined, on: boolean) => {
      if (c) controls.push({ name: c.name, datatype: c.datatype, shape: this.#shape, data: c.values[on ? 1 : 0] });
    };
    add(this.#start, start);
    add(this.#end, end);
    add(this.#ready, true);
    const corrid = this.#corrid;
    if (corrid) controls.push({ name: corrid.name, datatype: corrid.datatype, shape: this.#shape, data: corridBytes(corrid.datatype, id.value) });
    return controls.length === 0 ? request : { ...request, inputs: [...request.inputs, ...controls] };
  }
}

function corridBytes(datatype: Datatype, value: string | bigint): Uint8Array {
  if (datatype === "BYTES") {
    const text = new TextEncoder().encode(String(value));
    const out = new Uint8Array(4 + text.byteLength);
    new DataView(out.buffer).setUint32(0, text.byteLength, true);
    out.set(text, 4);
    return out;
  }
  const n = BigInt(value);
  if (datatype === "UINT64") return new Uint8Array(new BigUint64Array([n]).buffer);
  if (datatype === "INT64") return new Uint8Array(new BigInt64Array([BigInt.asIntN(64, n)]).buffer);
  if (datatype === "UINT32") return new Uint8Array(new Uint32Array([Number(BigInt.asUintN(32, n))]).buffer);
  return new Uint8Array(new Int32Array([Number(BigInt.asIntN(32, n))]).buffer);
}
