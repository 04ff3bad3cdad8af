/**
 * Tracing on the real server: --trace-config mode=opentelemetry exports spans over OTLP/HTTP to a
 * receiver in this test (a node:http server decoding the JSON export), with the span tree Triton
 * makes (InferRequest → model → compute) plus the queue and compute-phase spans, parented under a
 * client's traceparent (HTTP header, gRPC metadata), an ensemble's steps under its model span;
 * trace_rate, trace_count and trace_level through the trace extension (HTTP and gRPC); and
 * mode=triton's JSON trace file, TIMESTAMPS and TENSORS, written every log_frequency traces.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import { once } from "node:events";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { FIXTURES, grpcClientOf, postJson, startServer, type RunningServer } from "./harness.js";

const REPO = join(FIXTURES, "ensemble-repo");
const x = (model: string, data: number[]) => ({
  inputs: [{ name: model === "pipeline" ? "X" : "IN", datatype: "FP32", shape: [data.length], data }],
});

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes?: { key: string; value: Record<string, unknown> }[];
  events?: { name: string; timeUnixNano: string | number }[];
}

/** An OTLP/HTTP trace receiver: every span of every JSON export, and the content types seen. */
class Receiver {
  readonly spans: OtlpSpan[] = [];
  readonly contentTypes = new Set<string>();
  readonly resources: Record<string, unknown>[] = [];
  readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.contentTypes.add(String(req.headers["content-type"]));
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        for (const rs of body.resourceSpans ?? []) {
          this.resources.push(Object.fromEntries((rs.resource?.attributes ?? []).map((a: any) => [a.key, Object.values(a.value)[0]])));
          for (const ss of rs.scopeSpans ?? []) this.spans.push(...ss.spans);
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
      });
    });
  }

  async listen(): Promise<string> {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    const addr = this.server.address() as { port: number };
    return `http://127.0.0.1:${addr.port}/v1/traces`;
  }

  /** Waits until the spans of trace `traceId` (or any) number at least `n`. */
  async waitFor(n: number, traceId?: string, timeoutMs = 10_000): Promise<OtlpSpan[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.spans.filter((s) => traceId === undefined || s.traceId === traceId);
      if (got.length >= n || Date.now() > deadline) return got;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  clear(): void {
    this.spans.length = 0;
  }
}

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes?.find((a) => a.key === key)?.value;
  return v === undefined ? undefined : Object.values(v)[0];
};
const ns = (v: string | number) => BigInt(v);
const byName = (spans: OtlpSpan[], name: string) => spans.filter((s) => s.name === name);
const one = (spans: OtlpSpan[], name: string) => {
  const found = byName(spans, name);
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0]!;
};
/** The child lies within its parent's time (the request's own timestamps, one clock). */
function expectWithin(child: OtlpSpan, parent: OtlpSpan): void {
  expect(child.parentSpanId).toBe(parent.spanId);
  expect(child.traceId).toBe(parent.traceId);
  expect(ns(child.startTimeUnixNano) >= ns(parent.startTimeUnixNano)).toBe(true);
  expect(ns(child.endTimeUnixNano) <= ns(parent.endTimeUnixNano)).toBe(true);
}

/** One model's spans under `parent`: model span, queue, compute and its three phases. */
function expectModelTree(spans: OtlpSpan[], model: OtlpSpan, parent: OtlpSpan): void {
  expectWithin(model, parent);
  expect(model.events!.map((e) => e.name)).toEqual(["REQUEST_START", "QUEUE_START", "REQUEST_END"]);
  const children = spans.filter((s) => s.parentSpanId === model.spanId);
  expect(children.map((s) => s.name).sort()).toEqual(["compute", "queue"]);
  const compute = children.find((s) => s.name === "compute")!;
  expectWithin(compute, model);
  expect(compute.events!.map((e) => e.name)).toEqual(["COMPUTE_START", "COMPUTE_INPUT_END", "COMPUTE_OUTPUT_START", "COMPUTE_END"]);
  const phases = spans.filter((s) => s.parentSpanId === compute.spanId);
  expect(phases.map((s) => s.name)).toEqual(["compute_input", "compute_infer", "compute_output"]);
  for (const p of phases) expectWithin(p, compute);
  // In order, none overlapping: input, (any wait), the handler's execute, output.
  expect(ns(phases[0]!.endTimeUnixNano) <= ns(phases[1]!.startTimeUnixNano)).toBe(true);
  expect(phases[1]!.endTimeUnixNano).toBe(phases[2]!.startTimeUnixNano);
}

const CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c";
const CLIENT_SPAN = "b7ad6b7169203331";

describe("OpenTelemetry mode", () => {
  const receiver = new Receiver();
  let server: RunningServer;
  let client: any;
  beforeAll(async () => {
    const url = await receiver.listen();
    server = await startServer(REPO, {
      args: [
        "--allow-grpc", "true", "--grpc-port", "0", "--grpc-address", "127.0.0.1",
        "--trace-config", "mode=opentelemetry", "--trace-config", `opentelemetry,url=${url}`,
        "--trace-config", "rate=1", "--trace-config", "level=TIMESTAMPS",
        "--trace-config", "opentelemetry,bsp_schedule_delay=20",
        "--trace-config", "opentelemetry,resource=service.name=tessera-test",
      ],
    });
    client = await grpcClientOf(server);
  });
  afterAll(async () => {
    client?.close();
    expect(await server.stop()).toBe(0);
    receiver.server.close();
    expect(readdirSync("/dev/shm").filter((e) => e.startsWith(`tessera-${server.pid}-`))).toEqual([]);
  });

  it("reports its settings as Triton does in this mode (no file, no log_frequency)", async () => {
    const r = await fetch(`${server.url}/v2/trace/setting`);
    expect(r.status).toBe(200);
    const body = await r.json();
    expect(body).toMatchObject({ trace_level: ["TIMESTAMPS"], trace_rate: "1", trace_count: "-1", trace_mode: "opentelemetry" });
    expect(body.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\/traces$/);
    expect(body.bsp_schedule_delay).toBe("20");
    expect(body.bsp_max_queue_size).toBe("2048");
    expect(body.bsp_max_export_batch_size).toBe("512");
    expect(body.log_frequency).toBeUndefined();
    expect(body.trace_file).toBeUndefined();
    const meta = await (await fetch(`${server.url}/v2`)).json();
    expect(meta.extensions).toContain("trace");
  });

  it("exports InferRequest → model → queue, compute → compute_input/infer/output, under the client's traceparent", async () => {
    receiver.clear();
    const r = await fetch(`${server.url}/v2/models/add_one/infer`, {
      method: "POST", body: JSON.stringify({ id: "req-7", ...x("add_one", [1, 2]) }),
      headers: { "content-type": "application/json", traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` },
    });
    expect(r.status).toBe(200);
    const spans = await receiver.waitFor(7, CLIENT_TRACE);
    expect(spans.length).toBe(7);
    expect(receiver.contentTypes).toEqual(new Set(["application/json"]));
    expect(receiver.resources.at(-1)!["service.name"]).toBe("tessera-test");
    const root = one(spans, "InferRequest");
    expect(root.parentSpanId).toBe(CLIENT_SPAN);
    const model = one(spans, "add_one");
    expectModelTree(spans, model, root);
    expect(attr(model, "triton.model_name")).toBe("add_one");
    expect(Number(attr(model, "triton.model_version"))).toBe(1);
    expect(Number(attr(model, "triton.trace_parent_id"))).toBe(0);
    expect(attr(model, "triton.request_id")).toBe("req-7");
  });

  it("hangs an ensemble's steps under its model span, each with its own compute tree", async () => {
    receiver.clear();
    const r = await postJson(`${server.url}/v2/models/pipeline/infer`, x("pipeline", [1, 2, 3]));
    expect(r.status).toBe(200);
    // InferRequest, pipeline (+ its queue span), and per step: model, queue, compute, 3 phases.
    const spans = await receiver.waitFor(3 + 3 * 6);
    expect(spans.length).toBe(3 + 3 * 6);
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
    const root = one(spans, "InferRequest");
    expect(root.parentSpanId ?? "").toBe("");
    const pipeline = one(spans, "pipeline");
    expectWithin(pipeline, root);
    const steps = spans.filter((s) => s.name === "add_one" || s.name === "double");
    expect(steps.map((s) => s.name).sort()).toEqual(["add_one", "double", "double"]);
    for (const step of steps) {
      expectModelTree(spans, step, pipeline);
      expect(attr(step, "triton.trace_parent_id")).toBe(attr(pipeline, "triton.trace_id"));
    }
  });

  it("takes the trace context from gRPC metadata", async () => {
    receiver.clear();
    const trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    const metadata = new grpc.Metadata();
    metadata.set("traceparent", `00-${trace}-00f067aa0ba902b7-01`);
    const data = Buffer.from(new Float32Array([5]).buffer);
    await new Promise<void>((resolve, reject) => client.ModelInfer({
      model_name: "add_one", inputs: [{ name: "IN", datatype: "FP32", shape: [1] }], raw_input_contents: [data],
    }, metadata, (err: Error | null) => (err ? reject(err) : resolve())));
    const spans = await receiver.waitFor(7, trace);
    expect(spans.length).toBe(7);
    expect(one(spans, "InferRequest").parentSpanId).toBe("00f067aa0ba902b7");
  });

  it("samples every trace_rate-th request while trace_count lasts, set through the extension", async () => {
    const set = await postJson(`${server.url}/v2/models/add_one/trace/setting`, { trace_rate: "2", trace_count: "2" });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body).toMatchObject({ trace_rate: "2", trace_count: "2", trace_level: ["TIMESTAMPS"] });
    receiver.clear();
    for (let i = 0; i < 7; i++) expect((await postJson(`${server.url}/v2/models/add_one/infer`, x("add_one", [i]))).status).toBe(200);
    // Requests 2 and 4 are traced; count is then spent.
    await receiver.waitFor(14);
    await new Promise((r) => setTimeout(r, 200));
    expect(byName(receiver.spans, "InferRequest").length).toBe(2);
    const after = await (await fetch(`${server.url}/v2/models/add_one/trace/setting`)).json();
    expect(after.trace_count).toBe("0");
    // The global setting is untouched.
    expect((await (await fetch(`${server.url}/v2/trace/setting`)).json()).trace_count).toBe("-1");
    // A client's trace context is traced even then (Triton: propagated context forces sampling).
    receiver.clear();
    await fetch(`${server.url}/v2/models/add_one/infer`, {
      method: "POST", body: JSON.stringify(x("add_one", [1])), headers: { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-00` },
    });
    expect((await receiver.waitFor(7, CLIENT_TRACE)).length).toBe(7);
    // Clearing the model's settings gives it the global ones again.
    const cleared = await postJson(`${server.url}/v2/models/add_one/trace/setting`, { trace_rate: null, trace_count: null });
    expect(cleared.body).toMatchObject({ trace_rate: "1", trace_count: "-1" });
  });

  it("traces nothing at level OFF, set through gRPC TraceSetting", async () => {
    const call = (req: object) => new Promise<any>((resolve, reject) =>
      client.TraceSetting(req, (err: Error | null, res: any) => (err ? reject(err) : resolve(res))));
    const off = await call({ settings: { trace_level: { value: ["OFF"] } } });
    expect(off.settings.trace_level.value).toEqual(["OFF"]);
    expect(off.settings.trace_mode.value).toEqual(["opentelemetry"]);
    receiver.clear();
    for (let i = 0; i < 3; i++) await postJson(`${server.url}/v2/models/add_one/infer`, x("add_one", [i]));
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.spans).toEqual([]);
    const read = await call({});
    expect(read.settings.trace_level.value).toEqual(["OFF"]);
    await expect(call({ settings: { trace_rate: { value: ["1", "2"] } } })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT, details: "expect only 1 value for 'trace_rate'",
    });
    await expect(call({ model_name: "nope" })).rejects.toMatchObject({ details: "Request for unknown model : nope" });
    const on = await call({ settings: { trace_level: { value: ["TIMESTAMPS"] } } });
    expect(on.settings.trace_level.value).toEqual(["TIMESTAMPS"]);
  });

  it("refuses bad updates with Triton's texts", async () => {
    const bad = async (body: unknown, path = "/v2/trace/setting") => {
      const r = await postJson(`${server.url}${path}`, body);
      return [r.status, r.body.error];
    };
    expect(await bad({ trace_file: "x" })).toEqual([501, "trace file location can not be updated through network protocol"]);
    expect(await bad({ trace_level: ["OFF", "TIMESTAMPS"] })).toEqual([400, "Expect only one trace level 'OFF' is specified"]);
    expect(await bad({ trace_rate: "abc" })).toEqual([400, "Unable to parse 'trace_rate', got: abc"]);
    expect(await bad({ trace_count: "-2" })).toEqual([400, "Unable to parse 'trace_count'. Expecting value >= -1, got:-2"]);
    expect(await bad({ trace_rate: 5 })).toEqual([400, "attempt to access JSON non-string as string"]);
    expect(await bad({}, "/v2/models/nope/trace/setting")).toEqual([400, "Request for unknown model : nope"]);
    const put = await fetch(`${server.url}/v2/trace/setting`, { method: "PUT" });
    expect(put.status).toBe(405);
  });
});

describe("Triton mode: the JSON trace file", () => {
  let server: RunningServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tessera-trace-"));
    server = await startServer(REPO, {
      args: [
        "--trace-config", `triton,file=${join(dir, "trace.json")}`, "--trace-config", "triton,log-frequency=2",
        "--trace-config", "rate=1", "--trace-config", "level=TIMESTAMPS", "--trace-config", "level=TENSORS",
      ],
    });
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it("reports file and log_frequency, and writes every log_frequency traces to an indexed file", async () => {
    const s = await (await fetch(`${server.url}/v2/trace/setting`)).json();
    expect(s).toEqual({
      trace_level: ["TIMESTAMPS", "TENSORS"], trace_rate: "1", trace_count: "-1", log_frequency: "2",
      trace_file: join(dir, "trace.json"), trace_mode: "triton",
    });
    await postJson(`${server.url}/v2/models/add_one/infer`, { id: "a", ...x("add_one", [1.5, 2]) });
    expect(existsSync(join(dir, "trace.json.0"))).toBe(false);
    await postJson(`${server.url}/v2/models/pipeline/infer`, x("pipeline", [3]));
    const entries = JSON.parse(readFileSync(join(dir, "trace.json.0"), "utf8"));
    const heads = entries.filter((e: any) => e.model_name !== undefined);
    expect(heads.map((e: any) => e.model_name).sort()).toEqual(["add_one", "add_one", "double", "double", "pipeline"]);
    const first = heads.find((e: any) => e.request_id === "a");
    expect(first).toEqual({ id: first.id, model_name: "add_one", model_version: 1, request_id: "a" });
    const names = entries.filter((e: any) => e.id === first.id && e.timestamps).map((e: any) => e.timestamps[0].name);
    expect(names).toEqual(["REQUEST_START", "QUEUE_START", "COMPUTE_START", "COMPUTE_INPUT_END", "COMPUTE_OUTPUT_START", "COMPUTE_END", "REQUEST_END"]);
    const tensors = entries.filter((e: any) => e.id === first.id && e.activity);
    expect(tensors).toEqual([
      { id: first.id, activity: "TENSOR_QUEUE_INPUT", tensor: { name: "IN", data: "1.5,2", shape: "2", dtype: "FP32" } },
      { id: first.id, activity: "TENSOR_BACKEND_OUTPUT", tensor: { name: "OUT", data: "2.5,3", shape: "2", dtype: "FP32" } },
    ]);
    const pipeline = heads.find((e: any) => e.model_name === "pipeline");
    for (const step of heads.filter((e: any) => e.model_name !== "pipeline" && e.request_id !== "a")) expect(step.parent_id).toBe(pipeline.id);
  });
});
