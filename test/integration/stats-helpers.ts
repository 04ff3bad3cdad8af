/**
 * Shared by the stats-*.test.ts and metrics-*.test.ts integration tests: the statistics fixture
 * repository, JSON inference against it, the statistics endpoint, and Prometheus text parsing.
 */
import { join } from "node:path";
import { expect } from "vitest";
import { FIXTURES, type RunningServer } from "./harness.js";

/**
 * batcher: dynamic batching, a call at 4 rows or after 500 ms; slow: no batching, one instance;
 * limited: a queue of one. Each echoes INPUT0 [rows, 2] (or [2]) after `sleep_ms` (default 20);
 * `fail: "call"` throws from execute, `fail: "request"` fails that request's response.
 */
export const STATS_REPO = join(FIXTURES, "stats-repo");

export interface InferOptions {
  /** Rows of a batching model's input; none: a non-batching model's [2]. */
  rows?: number;
  parameters?: Record<string, unknown>;
  /** Send a wrong shape (a validation failure). */
  badShape?: boolean;
  signal?: AbortSignal;
}

/** One JSON inference; resolves with the status and the body (or the error text). */
export async function infer(server: RunningServer, model: string, o: InferOptions = {}): Promise<{ status: number; body: any }> {
  const shape = o.badShape ? [3] : o.rows === undefined ? [2] : [o.rows, 2];
  const count = shape.reduce((a, b) => a * b, 1);
  const res = await fetch(`${server.url}/v2/models/${model}/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      inputs: [{ name: "INPUT0", datatype: "FP32", shape, data: Array.from({ length: count }, (_, i) => i) }],
      parameters: o.parameters ?? {},
    }),
    signal: o.signal,
  });
  return { status: res.status, body: await res.json() };
}

/** GET a statistics path; the parsed body and status. */
export async function getStats(server: RunningServer, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}${path}`);
  return { status: res.status, body: await res.json() };
}

/** The one $model_stat of `model` version 1. */
export async function modelStat(server: RunningServer, model: string): Promise<any> {
  const r = await getStats(server, `/v2/models/${model}/versions/1/stats`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body.model_stats).toHaveLength(1);
  return r.body.model_stats[0];
}

/** The metrics URL from the server's "Started Metrics Service at <addr>:<port>" line. */
export async function metricsUrl(server: RunningServer): Promise<string> {
  const line = await server.waitForLog(/Started Metrics Service at (\S+)/);
  return `http://${/Started Metrics Service at (\S+)/.exec(line)![1]}/metrics`;
}

export async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of the series `name{labels}` (labels matched exactly, in any order), or undefined. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort().join(",");
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = (m[2] ?? "").split(",").filter(Boolean).sort().join(",");
    if (got === want) return Number(m[3]);
  }
  return undefined;
}

/** The `# TYPE` of a family, or undefined when the family is absent. */
export function metricType(text: string, name: string): string | undefined {
  return new RegExp(`^# TYPE ${name} (\\w+)$`, "m").exec(text)?.[1];
}
