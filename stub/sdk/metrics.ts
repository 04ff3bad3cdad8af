/**
 * pb_utils' custom metrics: MetricFamily(name, description, kind) with COUNTER, GAUGE and
 * HISTOGRAM, family.Metric({ labels, buckets }), and metric.increment / set / observe / value.
 * Texts are pb_utils' and Triton core's (metric_family.cc, metric.cc), raised as TritonError.
 *
 * An update costs no message: the stub keeps each series' change since its last flush and sends
 * them all in one `metrics` control message at most every FLUSH_MS (and before finalize). Main
 * holds the totals (they outlive a restarted instance, as Triton's registry keeps its series when
 * a stub dies) and sends back, on each heartbeat, its totals of this stub's series: value() is
 * that total plus the changes main has not applied yet, so it counts every instance's updates.
 */
import type { MetricFamilyDecl, MetricKind, MetricUpdate, MetricValue } from "../../src/ipc/protocol.js";
import { TritonError } from "./errors.js";

/** How long updates gather before they travel (a burst of updates is one message). */
const FLUSH_MS = 100;

/** Prometheus' rules (prometheus-cpp's CheckMetricName / CheckLabelName). */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** The server's own families: a handler's family may not take their names. */
const RESERVED = /^(nv_|tessera_)/;

/** A change to a counter or gauge: an optional set, then an add. */
interface Change {
  set?: number;
  add: number;
}

const apply = (v: number, c: Change) => (c.set ?? v) + c.add;

interface Series {
  family: string;
  labels: string;
  kind: MetricKind;
  /** Main's total at the last sync (counter, gauge). */
  base: number;
  /** Flushed, not yet applied by main: [flush seq, change]. */
  unacked: [number, Change][];
  pending: Change | null;
  /** Histogram: upper bounds, and what was observed since the last flush. */
  buckets?: number[];
  hist?: { counts: number[]; sum: number; count: number } | null;
}

type Sink = (m: { seq: number; families: MetricFamilyDecl[]; updates: MetricUpdate[] }) => void;

let sink: Sink | null = null;
const families = new Map<string, MetricFamilyDecl>();
const newFamilies: MetricFamilyDecl[] = [];
const series = new Map<string, Series>();
const dirty = new Set<Series>();
/** Main's values at start (attach), for series this instance has not created yet. */
const preset = new Map<string, number>();
let flushSeq = 0;
let timer: NodeJS.Timeout | null = null;

const seriesId = (family: string, labels: string) => `${family}\u0000${labels}`;

/** @internal The stub sends flushes to main; values main had before this instance started. */
export function setMetricsSink(s: Sink, initial: readonly MetricValue[] = []): void {
  sink = s;
  for (const v of initial) preset.set(seriesId(v.family, v.labels), v.value);
}

/** @internal Sends every pending change now (finalize; tests). */
export function flushMetrics(): void {
  if (timer) clearTimeout(timer);
  timer = null;
  if (!sink || (dirty.size === 0 && newFamilies.length === 0)) return;
  const seq = ++flushSeq;
  const updates: MetricUpdate[] = [];
  for (const s of dirty) {
    if (s.kind === "HISTOGRAM") {
      const h = s.hist!;
      updates.push({ family: s.family, labels: s.labels, buckets: s.buckets, bucketCounts: h.counts, sum: h.sum, count: h.count });
      s.hist = null;
    } else if (s.pending) {
      updates.push({ family: s.family, labels: s.labels, ...(s.pending.set !== undefined ? { set: s.pending.set } : {}), add: s.pending.add });
      s.unacked.push([seq, s.pending]);
      s.pending = null;
    }
  }
  dirty.clear();
  sink({ seq, families: newFamilies.splice(0), updates });
}

/** @internal A heartbeat's totals: main has applied every flush up to `ack`. */
export function syncMetrics(ack: number, values: readonly MetricValue[]): void {
  for (const v of values) {
    const s = series.get(seriesId(v.family, v.labels));
    if (!s) continue;
    s.base = v.value;
    s.unacked = s.unacked.filter(([seq]) => seq > ack);
  }
}

function markDirty(s: Series): void {
  dirty.add(s);
  if (!timer && sink) {
    timer = setTimeout(flushMetrics, FLUSH_MS);
    timer.unref();
  }
}

function finite(value: unknown, what: string): number {
  if (typeof value !== "number" || Number.isNaN(value)) throw new TypeError(`${what}: expected a number, got ${typeof value}`);
  return value;
}

export class Metric {
  readonly #s: Series;

  /** @internal Made by MetricFamily.Metric(). */
  constructor(s: Series) {
    this.#s = s;
  }

  /** Adds `value` (a counter only by a non-negative amount). */
  increment(value: number): void {
    const v = finite(value, "increment");
    const s = this.#s;
    if (s.kind === "HISTOGRAM") throw failed("increment", "TRITONSERVER_METRIC_KIND_HISTOGRAM does not support Increment");
    if (s.kind === "COUNTER" && v < 0) {
      throw failed("increment", "TRITONSERVER_METRIC_KIND_COUNTER can only be incremented monotonically by non-negative values.");
    }
    // In place: the pending change is this stub's alone until a flush hands it over.
    if (s.pending) s.pending.add += v;
    else s.pending = { add: v };
    if (!dirty.has(s)) markDirty(s);
  }

  /** Sets a gauge. */
  set(value: number): void {
    const v = finite(value, "set");
    const s = this.#s;
    if (s.kind !== "GAUGE") throw failed("set", `TRITONSERVER_METRIC_KIND_${s.kind} does not support Set`);
    s.pending = { set: v, add: 0 };
    markDirty(s);
  }

  /** Records one observation in a histogram. */
  observe(value: number): void {
    const v = finite(value, "observe");
    const s = this.#s;
    if (s.kind !== "HISTOGRAM") throw failed("observe", `TRITONSERVER_METRIC_KIND_${s.kind} does not support Observe`);
    const buckets = s.buckets!;
    s.hist ??= { counts: new Array(buckets.length + 1).fill(0), sum: 0, count: 0 };
    let i = 0;
    while (i < buckets.length && v > buckets[i]!) i++;
    s.hist.counts[i]!++;
    s.hist.sum += v;
    s.hist.count++;
    markDirty(s);
  }

  /** The series' value: main's total plus what it has not applied yet (counters and gauges). */
  value(): number {
    const s = this.#s;
    if (s.kind === "HISTOGRAM") throw failed("get", "TRITONSERVER_METRIC_KIND_HISTOGRAM does not support Value");
    let v = s.base;
    for (const [, c] of s.unacked) v = apply(v, c);
    return s.pending ? apply(v, s.pending) : v;
  }
}

function failed(op: "increment" | "set" | "observe" | "get", detail: string): TritonError {
  return new TritonError(`Failed to ${op} metric value: ${detail}`, TritonError.INVALID_ARG);
}

const familyError = (detail: string) => new TritonError(`Error when creating MetricFamily: ${detail}`, TritonError.INVALID_ARG);
const metricError = (detail: string) => new TritonError(`Error when creating Metric: ${detail}`, TritonError.INVALID_ARG);

export interface MetricOptions {
  /** Label names to values (strings); none: the series without labels. */
  labels?: Record<string, string> | null;
  /** Histograms only (and required there): the buckets' upper bounds, increasing. */
  buckets?: number[] | null;
}

export class MetricFamily {
  static readonly COUNTER = "COUNTER" as const;
  static readonly GAUGE = "GAUGE" as const;
  static readonly HISTOGRAM = "HISTOGRAM" as const;

  readonly #decl: MetricFamilyDecl;

  /** A family of this name and kind; one with the same name and kind is the same family. */
  constructor(name: string, description: string, kind: MetricKind) {
    if (typeof name !== "string" || typeof description !== "string") {
      throw new TypeError("MetricFamily(): name and description must be strings");
    }
    if (kind !== "COUNTER" && kind !== "GAUGE" && kind !== "HISTOGRAM") {
      throw familyError("Unsupported kind passed to MetricFamily constructor.");
    }
    if (!METRIC_NAME.test(name)) throw familyError("Invalid metric name");
    if (RESERVED.test(name)) throw familyError(`the name '${name}' is reserved for the server's own metrics`);
    const known = families.get(name);
    if (known && known.kind !== kind) throw familyError("Family name already exists with different type");
    if (known) {
      this.#decl = known; // the first description stays, as Triton's
    } else {
      this.#decl = { name, description, kind };
      families.set(name, this.#decl);
      newFamilies.push(this.#decl);
    }
  }

  /** pb_utils' family.Metric(labels=..., buckets=...). The same labels give the same series. */
  Metric(options: MetricOptions = {}): Metric {
    const labels = options?.labels ?? null;
    const buckets = options?.buckets ?? null;
    if (labels !== null && (typeof labels !== "object" || Array.isArray(labels))) {
      throw new TritonError("Failed to create metric. Labels must be a dictionary.", TritonError.INVALID_ARG);
    }
    const kind = this.#decl.kind;
    if (buckets !== null) {
      if (!Array.isArray(buckets)) throw new TritonError("Failed to create metric. Buckets must be a list.", TritonError.INVALID_ARG);
      if (kind !== "HISTOGRAM") throw new TritonError("Failed to create metric. Unexpected buckets found.", TritonError.INVALID_ARG);
    } else if (kind === "HISTOGRAM") {
      throw new TritonError("Failed to create metric. Missing required buckets.", TritonError.INVALID_ARG);
    }
    const pairs = Object.entries(labels ?? {});
    for (const [k, v] of pairs) {
      if (typeof v !== "string") throw metricError("attempt to access JSON non-string as string");
      if (!LABEL_NAME.test(k) || k.startsWith("__") || (kind === "HISTOGRAM" && k === "le")) throw metricError("Invalid label name");
    }
    if (buckets) {
      for (let i = 0; i < buckets.length; i++) {
        if (typeof buckets[i] !== "number" || !Number.isFinite(buckets[i])) throw metricError("Bucket boundaries must be finite numbers");
        if (i > 0 && !(buckets[i]! > buckets[i - 1]!)) throw metricError("Bucket Boundaries must be strictly sorted");
      }
    }
    pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const key = JSON.stringify(pairs);
    const id = seriesId(this.#decl.name, key);
    let s = series.get(id);
    if (!s) {
      s = { family: this.#decl.name, labels: key, kind, base: preset.get(id) ?? 0, unacked: [], pending: null };
      // The series exists from now on, at 0 (or main's value), as Triton's registry makes it.
      if (kind === "HISTOGRAM") {
        s.buckets = [...buckets!];
        s.hist = { counts: new Array(buckets!.length + 1).fill(0), sum: 0, count: 0 };
      } else {
        s.pending = { add: 0 };
      }
      series.set(id, s);
      markDirty(s);
    }
    return new Metric(s);
  }
}
