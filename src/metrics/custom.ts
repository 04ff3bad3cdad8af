/**
 * Handlers' custom metrics (pb_utils.MetricFamily / Metric), held in main: the stubs send their
 * changes in batches (the `metrics` control message) and main keeps the totals, exposed through
 * prom-client beside Triton's families. One store per process, as Triton's registry is one.
 *
 * A series lives as long as some model version that reported it is loaded: an instance that dies
 * and restarts finds its series where they were (Triton's registry keeps them when a stub dies,
 * and a re-created Metric with the same labels is the same series), and unloading the version
 * removes them (a finalized stub's Metric objects are deleted in Triton).
 */
import type { Registry } from "prom-client";
import type { MetricFamilyDecl, MetricKind, MetricSeriesKey, MetricUpdate, MetricValue } from "../ipc/protocol.js";

interface SeriesState {
  labels: Record<string, string>;
  value: number;
  buckets?: number[];
  counts?: number[];
  sum?: number;
  count?: number;
  owners: Set<object>;
}

interface FamilyState {
  decl: MetricFamilyDecl;
  series: Map<string, SeriesState>;
}

type PromValue = { metricName?: string; labels: Record<string, string | number>; value: number };

const PROM_TYPE: Record<MetricKind, "counter" | "gauge" | "histogram"> = { COUNTER: "counter", GAUGE: "gauge", HISTOGRAM: "histogram" };

/** Prometheus' rules, checked again here: a stub is trusted with nothing it sends. */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseLabels(json: string): Record<string, string> | null {
  try {
    const pairs: unknown = JSON.parse(json);
    if (!Array.isArray(pairs)) return null;
    const out: Record<string, string> = {};
    for (const p of pairs) {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== "string" || typeof p[1] !== "string") return null;
      if (!LABEL_NAME.test(p[0]) || p[0].startsWith("__") || Object.hasOwn(out, p[0])) return null;
      out[p[0]] = p[1];
    }
    return out;
  } catch {
    return null;
  }
}

const finite = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n);

export class CustomMetrics {
  readonly #families = new Map<string, FamilyState>();
  readonly #registries = new Set<Registry>();
  /** Names taken by the registry's own families (Triton's): a handler's family may not use them. */
  #reserved = (name: string) => this.#registries.size > 0 && [...this.#registries].some((r) => r.getSingleMetric(name) !== undefined && !this.#families.has(name));
  #warn: (line: string) => void = () => {};
  /** Families an owner declared that were refused (kind clash, reserved name): its updates to them are dropped. */
  readonly #refused = new WeakMap<object, Set<string>>();

  /** The metrics service's registry: every family is registered there as it appears. */
  expose(registry: Registry, warn?: (line: string) => void): void {
    this.#registries.add(registry);
    if (warn) this.#warn = warn;
    for (const f of this.#families.values()) this.#register(f);
  }

  /**
   * A stub's flush, on behalf of `owner` (its model version). Returns the keys it touched. What a
   * stub cannot send by mistake (its SDK checks it) is still checked here: a bad entry is skipped.
   */
  apply(owner: object, families: readonly MetricFamilyDecl[], updates: readonly MetricUpdate[]): MetricSeriesKey[] {
    const refuse = (name: string, why: string) => {
      this.#warn(`custom metric family '${name}' is refused: ${why}`);
      if (!this.#refused.has(owner)) this.#refused.set(owner, new Set());
      this.#refused.get(owner)!.add(name);
    };
    for (const decl of families) {
      const known = this.#families.get(decl.name);
      if (known) {
        if (known.decl.kind !== decl.kind) refuse(decl.name, `it exists as a ${known.decl.kind}, not a ${decl.kind}`);
        continue;
      }
      if (typeof decl.name !== "string" || !METRIC_NAME.test(decl.name)) {
        refuse(String(decl.name), "an invalid metric name");
        continue;
      }
      if (!Object.hasOwn(PROM_TYPE, decl.kind)) {
        refuse(decl.name, `unknown kind '${String(decl.kind)}'`);
        continue;
      }
      if (this.#reserved(decl.name)) {
        refuse(decl.name, "the name is the server's own");
        continue;
      }
      const f: FamilyState = { decl: { ...decl }, series: new Map() };
      this.#families.set(decl.name, f);
      this.#register(f);
    }
    const touched: MetricSeriesKey[] = [];
    const refused = this.#refused.get(owner);
    for (const u of updates) {
      const f = this.#families.get(u.family);
      if (!f || refused?.has(u.family)) continue;
      let s = f.series.get(u.labels);
      if (!s) {
        const labels = parseLabels(u.labels);
        // A histogram's own label is `le`: a series may not bring one.
        if (!labels || (f.decl.kind === "HISTOGRAM" && Object.hasOwn(labels, "le"))) continue;
        s = { labels, value: 0, owners: new Set() };
        f.series.set(u.labels, s);
      }
      s.owners.add(owner);
      if (f.decl.kind === "HISTOGRAM") {
        if (!s.buckets) {
          if (!Array.isArray(u.buckets) || !u.buckets.every(finite)) continue;
          s.buckets = [...u.buckets];
          s.counts = new Array(s.buckets.length + 1).fill(0);
          s.sum = 0;
          s.count = 0;
        }
        // Another instance's histogram of different buckets cannot be merged: the first one stays.
        if (!Array.isArray(u.bucketCounts) || u.bucketCounts.length !== s.counts!.length || !sameBuckets(s.buckets, u.buckets)) continue;
        u.bucketCounts.forEach((c, i) => { if (finite(c) && c >= 0) s.counts![i]! += c; });
        if (finite(u.sum)) s.sum! += u.sum;
        if (finite(u.count) && u.count >= 0) s.count! += u.count;
      } else {
        if (u.set !== undefined && finite(u.set) && f.decl.kind === "GAUGE") s.value = u.set;
        if (finite(u.add) && (f.decl.kind === "GAUGE" || u.add >= 0)) s.value += u.add;
      }
      touched.push({ family: u.family, labels: u.labels });
    }
    return touched;
  }

  /** The totals of these counter and gauge series. */
  values(keys: Iterable<MetricSeriesKey>): MetricValue[] {
    const out: MetricValue[] = [];
    for (const k of keys) {
      const s = this.#families.get(k.family)?.series.get(k.labels);
      if (s && !s.buckets) out.push({ family: k.family, labels: k.labels, value: s.value });
    }
    return out;
  }

  /** Every counter and gauge series `owner` reported: what a restarted instance starts from. */
  valuesOf(owner: object): MetricValue[] {
    const out: MetricValue[] = [];
    for (const [name, f] of this.#families) {
      for (const [labels, s] of f.series) if (s.owners.has(owner) && !s.buckets) out.push({ family: name, labels, value: s.value });
    }
    return out;
  }

  /** `owner` is gone (its version unloaded): series no one else reports go, then empty families. */
  release(owner: object): void {
    for (const [name, f] of this.#families) {
      for (const [labels, s] of f.series) {
        s.owners.delete(owner);
        if (s.owners.size === 0) f.series.delete(labels);
      }
      if (f.series.size === 0) {
        this.#families.delete(name);
        for (const r of this.#registries) r.removeSingleMetric(name);
      }
    }
  }

  #register(f: FamilyState): void {
    const { name, description, kind } = f.decl;
    const metric = {
      name, help: description, type: PROM_TYPE[kind], aggregator: "sum" as const,
      get: async () => ({ name, help: description, type: PROM_TYPE[kind], aggregator: "sum" as const, values: this.#collect(f) }),
      reset: () => {},
    };
    for (const r of this.#registries) {
      if (r.getSingleMetric(name) === undefined) r.registerMetric(metric as unknown as Parameters<Registry["registerMetric"]>[0]);
    }
  }

  #collect(f: FamilyState): PromValue[] {
    const out: PromValue[] = [];
    for (const s of f.series.values()) {
      if (!s.buckets) {
        out.push({ labels: s.labels, value: s.value });
        continue;
      }
      let cumulative = 0;
      s.buckets.forEach((le, i) => {
        cumulative += s.counts![i]!;
        out.push({ metricName: `${f.decl.name}_bucket`, labels: { ...s.labels, le }, value: cumulative });
      });
      cumulative += s.counts![s.buckets.length]!;
      out.push({ metricName: `${f.decl.name}_bucket`, labels: { ...s.labels, le: "+Inf" }, value: cumulative });
      out.push({ metricName: `${f.decl.name}_sum`, labels: s.labels, value: s.sum! });
      out.push({ metricName: `${f.decl.name}_count`, labels: s.labels, value: s.count! });
    }
    return out;
  }
}

function sameBuckets(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  return !!a && !!b && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The server's one store (a process has one Prometheus registry of handlers' metrics, as Triton). */
export const customMetrics = new CustomMetrics();
