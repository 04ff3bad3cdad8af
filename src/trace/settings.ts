/**
 * Trace settings, as Triton's TraceManager keeps them (server src/tracer.cc): the start-up
 * defaults, the global setting, and per-model settings that fall back to the global one for every
 * field they do not specify; sampling by rate and count. Read by the tracing stage per request,
 * changed by the trace extension (`/v2[/models/{m}]/trace/setting`, gRPC TraceSetting).
 *
 * A setting is replaced, never edited, on update (as Triton does), so that a request sampled under
 * the old one keeps its counters consistent. Counting is per setting object: `count` is what is
 * left to sample.
 */
import type { TraceSettingResponse } from "../core/server-api.js";
import { traceSettingInvalid } from "../errors/index.js";

/** Bits of a trace level (Triton's TRITONSERVER_InferenceTraceLevel, renumbered): 0 is OFF. */
export const TRACE_TIMESTAMPS = 1;
export const TRACE_TENSORS = 2;

export type TraceMode = "triton" | "opentelemetry";

/** Triton's trace_count floor: -1 samples without limit. */
export const MIN_TRACE_COUNT = -1;

export interface TraceValues {
  level: number;
  rate: number;
  count: number;
  logFrequency: number;
  file: string;
}

/** An update: a value sets the field, null clears it (the fallback's value is used again). */
export interface NewTraceSetting {
  level?: number | null;
  rate?: number | null;
  count?: number | null;
  logFrequency?: number | null;
}

type Field = "level" | "rate" | "count" | "logFrequency";
const FIELDS: readonly Field[] = ["level", "rate", "count", "logFrequency"];

export class TraceSetting {
  readonly level: number;
  readonly rate: number;
  /** Traces still to be sampled (-1: no limit); counts down as requests are sampled. */
  count: number;
  readonly logFrequency: number;
  readonly file: string;
  readonly mode: TraceMode;
  readonly specified: ReadonlySet<Field>;
  /** Requests seen (the rate counts these) and traces completed. */
  #seen = 0;
  readonly invalidReason: string | null;

  constructor(values: TraceValues, mode: TraceMode, specified: ReadonlySet<Field> = new Set()) {
    this.level = values.level;
    this.rate = values.rate;
    this.count = values.count;
    this.logFrequency = values.logFrequency;
    this.file = values.file;
    this.mode = mode;
    this.specified = specified;
    if (this.level === 0) this.invalidReason = "tracing is disabled";
    else if (this.rate === 0) this.invalidReason = "sample rate must be non-zero";
    else if (mode === "triton" && this.file === "") this.invalidReason = "trace file name is not given";
    else this.invalidReason = null;
  }

  get values(): TraceValues {
    return { level: this.level, rate: this.rate, count: this.count, logFrequency: this.logFrequency, file: this.file };
  }

  /**
   * Whether this request is traced: every rate-th request while count lasts, or any request whose
   * client propagated a trace context (`force`), as Triton's TraceSetting::SampleTrace. A rate of 0
   * samples only forced requests.
   */
  sample(force: boolean): boolean {
    let hit = false;
    if (this.rate !== 0) {
      if (this.#invalid() && !force) return false;
      hit = ++this.#seen % this.rate === 0;
      if (hit && this.count > 0) this.count--;
      else if (hit && this.count === 0) hit = false;
    }
    return hit || force;
  }

  #invalid(): boolean {
    return this.invalidReason !== null || this.count === 0;
  }
}

export interface TraceStart {
  values: TraceValues;
  mode: TraceMode;
  /** The mode's settings beyond file and log-frequency, as given (url, resource, bsp_*), for the response. */
  modeSettings: readonly (readonly [string, string])[];
}

export class TraceSettings {
  readonly #default: TraceSetting;
  #global: TraceSetting;
  readonly #models = new Map<string, TraceSetting>();
  /** Models whose setting takes some fields from the global one: a global update refreshes them. */
  readonly #fallbackUsers = new Set<string>();
  readonly mode: TraceMode;
  readonly #modeSettings: readonly (readonly [string, string])[];
  /** Some setting traces (level not OFF): the front ends look at trace context only then. */
  #active: boolean;

  constructor(start: TraceStart) {
    this.mode = start.mode;
    this.#modeSettings = start.modeSettings;
    this.#default = new TraceSetting(start.values, start.mode);
    this.#global = new TraceSetting(start.values, start.mode);
    this.#active = this.#global.level !== 0;
  }

  get active(): boolean {
    return this.#active;
  }

  /** The setting a request to `model` is sampled under. */
  setting(model: string): TraceSetting {
    return this.#models.get(model) ?? this.#global;
  }

  /** Applies an update to one model's setting (model given) or the global one; throws INVALID_ARG for a setting that cannot trace. */
  update(model: string | undefined, change: NewTraceSetting): void {
    this.#updateOne(model, change);
    if (model === undefined) for (const name of [...this.#fallbackUsers]) this.#updateOne(name, {});
    this.#active = this.#global.level !== 0 || [...this.#models.values()].some((s) => s.level !== 0);
  }

  #updateOne(model: string | undefined, change: NewTraceSetting): void {
    const current = model === undefined ? this.#global : this.#models.get(model);
    const fallback = model === undefined ? this.#default : this.#global;
    const values = fallback.values;
    const specified = new Set<Field>();
    for (const f of FIELDS) {
      const given = change[f];
      if (given === null) continue; // cleared: the fallback's
      if (given !== undefined) {
        values[f] = given;
        specified.add(f);
      } else if (current?.specified.has(f)) {
        values[f] = current.values[f];
        specified.add(f);
      }
    }
    if (model !== undefined) {
      // A model's file is never specified (it cannot be set through the protocol): all five
      // fields are never all specified, so a model with a setting always follows the global file.
      if (specified.size === 0) {
        this.#models.delete(model);
        this.#fallbackUsers.delete(model);
        return;
      }
      this.#fallbackUsers.add(model);
    }
    const next = new TraceSetting(values, this.mode, specified);
    if (next.invalidReason !== null && next.level !== 0) throw traceSettingInvalid(next.invalidReason);
    if (model === undefined) this.#global = next;
    else this.#models.set(model, next);
  }

  /** The trace extension's response for a model (its setting, or the global one) or the server. */
  response(model: string | undefined): TraceSettingResponse {
    const s = model === undefined ? this.#global : this.setting(model);
    const out: TraceSettingResponse = { trace_level: levelNames(s.level), trace_rate: String(s.rate), trace_count: String(s.count) };
    if (s.mode === "triton") {
      out.log_frequency = String(s.logFrequency);
      out.trace_file = s.file;
    }
    out.trace_mode = s.mode;
    for (const [key, value] of this.#modeSettings) out[key] = value;
    return out;
  }
}

export function levelNames(level: number): string[] {
  if (level === 0) return ["OFF"];
  const out: string[] = [];
  if (level & TRACE_TIMESTAMPS) out.push("TIMESTAMPS");
  if (level & TRACE_TENSORS) out.push("TENSORS");
  return out;
}
