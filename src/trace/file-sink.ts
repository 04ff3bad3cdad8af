/**
 * --trace-config mode=triton (the default): Triton's JSON trace file (docs/user_guide/trace.md,
 * server src/tracer.cc). Each traced request adds its entries, in Triton's shapes: one with the
 * model's name and version (request_id and parent_id when set), one per timestamp
 * (`{"id":1,"timestamps":[{"name":"QUEUE_START","ns":…}]}`), and at the TENSORS level one per
 * tensor (`"activity":"TENSOR_QUEUE_INPUT"` or `"TENSOR_BACKEND_OUTPUT"`). Entries collect per
 * setting; with log_frequency N they are written to `<file>.<index>` every N traces, when the
 * setting's count runs out, and the rest at shutdown (to `<file>` when log_frequency is 0).
 * Timestamps are ns on the server's monotonic clock, as Triton's steady clock.
 */
import { closeSync, openSync, writeFileSync, writeSync } from "node:fs";
import type { ServerError } from "../errors/index.js";
import type { CoreTensor } from "../core/types.js";
import { datatypeSize } from "../ipc/datatypes.js";
import type { TraceSetting } from "./settings.js";
import type { TensorActivity, TraceRecord, TraceSink, TraceTimeline } from "./stage.js";

const ORDER = ["REQUEST_START", "QUEUE_START", "COMPUTE_START", "COMPUTE_INPUT_END", "COMPUTE_OUTPUT_START", "COMPUTE_END", "REQUEST_END"] as const;

interface Stream {
  setting: TraceSetting;
  entries: string[];
  /** Top-level traces in `entries`, and begun but not yet ended. */
  inStream: number;
  open: number;
}

/** One trace file's writer: the plain file (opened once, an array closed at shutdown) and its index. */
interface FileState {
  index: number;
  fd: number | null;
}

export class TritonFileSink implements TraceSink {
  readonly #streams = new Map<TraceSetting, Stream>();
  readonly #files = new Map<string, FileState>();
  readonly #log: (line: string) => void;

  constructor(log: (line: string) => void = () => {}) {
    this.#log = log;
  }

  #stream(setting: TraceSetting): Stream {
    let s = this.#streams.get(setting);
    if (s === undefined) {
      s = { setting, entries: [], inStream: 0, open: 0 };
      this.#streams.set(setting, s);
    }
    return s;
  }

  #pending(record: TraceRecord): string[] {
    if (record.handle === undefined) record.handle = [] as string[];
    return record.handle as string[];
  }

  begin(record: TraceRecord): void {
    if (record.parent === undefined) this.#stream(record.setting).open++;
    let head = `{"id":${record.id},"model_name":${JSON.stringify(record.model)},"model_version":${record.version}`;
    if (record.requestId !== "") head += `,"request_id":${JSON.stringify(record.requestId)}`;
    if (record.parentId !== 0) head += `,"parent_id":${record.parentId}`;
    this.#pending(record).push(`${head}}`);
  }

  tensors(record: TraceRecord, activity: TensorActivity, tensors: readonly CoreTensor[]): void {
    const out = this.#pending(record);
    for (const t of tensors) {
      const tensor = `{"name":${JSON.stringify(t.name)},"data":${JSON.stringify(tensorText(t))},"shape":"${t.shape.join(",")}","dtype":"${t.datatype}"}`;
      out.push(`{"id":${record.id},"activity":"${activity}","tensor":${tensor}}`);
    }
  }

  end(record: TraceRecord, t: TraceTimeline, _error: ServerError | undefined): void {
    const out = this.#pending(record);
    for (const name of ORDER) {
      const ns = t[name];
      if (ns !== undefined) out.push(`{"id":${record.id},"timestamps":[{"name":"${name}","ns":${Math.round(ns)}}]}`);
    }
    // A step's entries go with its ensemble's (Triton groups a trace's children with it).
    const top = topOf(record);
    if (top !== record) {
      this.#pending(top).splice(1, 0, ...out);
      return;
    }
    const s = this.#stream(record.setting);
    s.entries.push(...out);
    s.inStream++;
    s.open--;
    const setting = s.setting;
    if ((setting.count === 0 && s.open === 0) || (setting.logFrequency !== 0 && s.inStream >= setting.logFrequency)) {
      this.#save(setting.file, s.entries, true);
      s.entries = [];
      s.inStream = 0;
    }
  }

  #save(file: string, entries: readonly string[], indexed: boolean): void {
    if (file === "" || entries.length === 0) return;
    let state = this.#files.get(file);
    if (state === undefined) {
      state = { index: 0, fd: null };
      this.#files.set(file, state);
    }
    try {
      if (indexed) {
        writeFileSync(`${file}.${state.index++}`, `[${entries.join(",")}]`);
      } else {
        const first = state.fd === null;
        if (first) state.fd = openSync(file, "w");
        writeSync(state.fd!, `${first ? "[" : ","}${entries.join(",")}`);
      }
    } catch (err) {
      this.#log(`failed creating trace file: ${(err as Error).message}`);
    }
  }

  async shutdown(): Promise<void> {
    for (const s of this.#streams.values()) {
      if (s.inStream > 0) this.#save(s.setting.file, s.entries, s.setting.logFrequency !== 0);
      s.entries = [];
      s.inStream = 0;
    }
    for (const state of this.#files.values()) {
      if (state.fd === null) continue;
      try {
        writeSync(state.fd, "]");
        closeSync(state.fd);
      } catch (err) {
        this.#log(`failed creating trace file: ${(err as Error).message}`);
      }
      state.fd = null;
    }
  }
}

function topOf(record: TraceRecord): TraceRecord {
  let r = record;
  while (r.parent !== undefined) r = r.parent;
  return r;
}

/** A tensor's elements as Triton's trace writes them: comma-separated; BYTES elements quoted. */
export function tensorText(t: CoreTensor): string {
  const d = t.data;
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const parts: string[] = [];
  if (t.datatype === "BYTES") {
    let at = 0;
    while (at + 4 <= d.byteLength) {
      const len = view.getUint32(at, true);
      at += 4;
      if (at + len > d.byteLength) break;
      parts.push(`"${Buffer.from(d.buffer, d.byteOffset + at, len).toString("latin1")}"`);
      at += len;
    }
    return parts.join(",");
  }
  const size = datatypeSize(t.datatype);
  if (!size || t.datatype === "FP16" || t.datatype === "BF16") return ""; // Triton leaves these empty
  const n = Math.floor(d.byteLength / size);
  for (let i = 0; i < n; i++) {
    const o = i * size;
    switch (t.datatype) {
      case "BOOL": parts.push(d[o] === 0 ? "0" : "1"); break;
      case "UINT8": parts.push(String(view.getUint8(o))); break;
      case "INT8": parts.push(String(view.getInt8(o))); break;
      case "UINT16": parts.push(String(view.getUint16(o, true))); break;
      case "INT16": parts.push(String(view.getInt16(o, true))); break;
      case "UINT32": parts.push(String(view.getUint32(o, true))); break;
      case "INT32": parts.push(String(view.getInt32(o, true))); break;
      case "UINT64": parts.push(String(view.getBigUint64(o, true))); break;
      case "INT64": parts.push(String(view.getBigInt64(o, true))); break;
      case "FP32": parts.push(String(view.getFloat32(o, true))); break;
      case "FP64": parts.push(String(view.getFloat64(o, true))); break;
    }
  }
  return parts.join(",");
}
