/**
 * The request pipeline (src/core/exchange.ts, src/core/pipeline.ts): stages run in order on the way
 * in and in reverse on the way out and at settle; an interceptor can answer by itself; the handler
 * gets exactly one terminal event whatever throws (a stage, a response hook, the handler itself),
 * and every passed stage settles exactly once, a decoupled request only after its call closed too.
 * Then the server's own composition over fake versions: statistics counted once per request,
 * refusals thrown before scheduling, shutdown refusing callers but not BLS, the in-flight count.
 */
import { describe, expect, it, vi } from "vitest";
import { validateModelConfig } from "../../../src/config/schema.js";
import type { DispatchHandler } from "../../../src/core/dispatch.js";
import { compose, type Exchange, type Stage, type Target } from "../../../src/core/exchange.js";
import { RequestPipeline } from "../../../src/core/pipeline.js";
import type { StreamItem } from "../../../src/core/response-stream.js";
import { ModelStatistics } from "../../../src/core/statistics.js";
import type { CoreRequest, CoreResponse, RequestResult } from "../../../src/core/types.js";
import { ServerError } from "../../../src/errors/index.js";

const request = (model = "m", extra: Partial<CoreRequest> = {}): CoreRequest => ({ model, id: "r", inputs: [], parameters: {}, ...extra });

function response(id = "r"): CoreResponse & { releases: number } {
  const r = {
    model: "m", version: "1", id, outputs: [], parameters: {}, releases: 0,
    release() {
      r.releases++;
    },
  };
  return r;
}

/** A handler that records its events. */
function recorder(overrides: Partial<DispatchHandler> = {}) {
  const events: string[] = [];
  const handler: DispatchHandler = {
    onResponse: (r, final) => events.push(`response ${r ? r.id : "null"} ${final}`),
    onError: (e) => events.push(`error ${e.message}`),
    onStreamError: (e) => events.push(`stream-error ${e.message}`),
    ...overrides,
  };
  return { events, handler };
}

/** A stage that logs each of its hooks into `log`. */
function logging(name: string, log: string[], extra: Partial<Stage> = {}): Stage {
  return {
    onRequest: () => void log.push(`${name}.request`),
    onResponse: (_ex, r) => (log.push(`${name}.response`), r),
    onSettle: (_ex, e) => void log.push(`${name}.settle${e ? ` ${e.message}` : ""}`),
    ...extra,
  };
}

/** A terminal stage that hands each exchange to the test. */
function terminal(into: Exchange[]): Stage {
  return { onRequest: (ex) => (into.push(ex), false) };
}

describe("compose", () => {
  it("runs request hooks in order, response and settle hooks in reverse", () => {
    const log: string[] = [];
    const taken: Exchange[] = [];
    const dispatch = compose([logging("a", log), logging("b", log), terminal(taken)]).entry({ internal: false });
    const { events, handler } = recorder();
    dispatch(request(), handler);
    expect(log).toEqual(["a.request", "b.request"]);
    taken[0].respond(response("x"), true);
    expect(log).toEqual(["a.request", "b.request", "b.response", "a.response", "b.settle", "a.settle"]);
    expect(events).toEqual(["response x true"]);
  });

  it("lets an interceptor answer by itself: later stages never run, earlier ones see the answer", () => {
    const log: string[] = [];
    const hit = response("cached");
    const cache = logging("cache", log, { onRequest: (ex) => (ex.respond(hit, true), false) });
    const later = logging("later", log);
    const { events, handler } = recorder();
    compose([logging("a", log), cache, later, terminal([])]).entry({ internal: false })(request(), handler);
    expect(events).toEqual(["response cached true"]);
    expect(log).toEqual(["a.request", "a.response", "a.settle"]);
  });

  it("ends with one error when a stage throws, settling only the stages passed", () => {
    const log: string[] = [];
    const boom = logging("boom", log, {
      onRequest: () => {
        throw new ServerError("INVALID_ARG", "bad");
      },
    });
    const { events, handler } = recorder();
    compose([logging("a", log), boom, terminal([])]).entry({ internal: false })(request(), handler);
    expect(events).toEqual(["error bad"]);
    expect(log).toEqual(["a.request", "a.settle bad"]);
  });

  it("keeps one terminal event when a stage answers and then throws", () => {
    const { events, handler } = recorder();
    const stage: Stage = {
      onRequest: (ex) => {
        ex.fail(new ServerError("NOT_FOUND", "first"));
        throw new Error("second");
      },
    };
    compose([stage]).entry({ internal: false })(request(), handler);
    expect(events).toEqual(["error first"]);
  });

  it("fails a request no stage took", () => {
    const { events, handler } = recorder();
    compose([{}]).entry({ internal: false })(request(), handler);
    expect(events).toEqual(["error no stage of the pipeline took the request for model 'm'"]);
  });

  it("turns a throwing response hook into an error with the same final flag, releasing the response", () => {
    const taken: Exchange[] = [];
    const log: string[] = [];
    let n = 0;
    const picky = logging("picky", log, {
      onResponse: (_ex, r) => {
        if (n++ === 0) throw new Error("cannot shape");
        return r;
      },
    });
    const { events, handler } = recorder();
    compose([picky, terminal(taken)]).entry({ internal: false })(request(), handler);
    const first = response("1");
    taken[0].respond(first, false);
    taken[0].respond(response("2"), true);
    expect(first.releases).toBe(1);
    expect(events).toEqual(["stream-error cannot shape", "response 2 true"]);
    expect(log).toEqual(["picky.request", "picky.settle"]);
  });

  it("releases and drops what comes after the terminal event", () => {
    const taken: Exchange[] = [];
    const { events, handler } = recorder();
    compose([terminal(taken)]).entry({ internal: false })(request(), handler);
    taken[0].fail(new ServerError("NOT_FOUND", "gone"));
    const late = response("late");
    taken[0].respond(late, true);
    taken[0].fail(new ServerError("NOT_FOUND", "again"));
    expect(late.releases).toBe(1);
    expect(events).toEqual(["error gone"]);
  });

  it("does not settle twice or send an error when the handler throws", () => {
    const log: string[] = [];
    const taken: Exchange[] = [];
    const reported: unknown[] = [];
    const { events, handler } = recorder({
      onResponse: () => {
        throw new Error("handler bug");
      },
    });
    compose([logging("a", log), terminal(taken)], { onHandlerError: (e) => reported.push(e) }).entry({ internal: false })(request(), handler);
    taken[0].respond(response(), true);
    taken[0].fail(new ServerError("NOT_FOUND", "after"));
    expect(events).toEqual([]);
    expect(log).toEqual(["a.request", "a.response", "a.settle"]);
    expect(reported).toHaveLength(1);
  });

  it("reports a throwing settle hook and still settles the others", () => {
    const log: string[] = [];
    const taken: Exchange[] = [];
    const reported: unknown[] = [];
    const bad = logging("bad", log, {
      onSettle: () => {
        throw new Error("settle bug");
      },
    });
    compose([logging("a", log), bad, terminal(taken)], { onHandlerError: (e) => reported.push(e) }).entry({ internal: false })(request(), recorder().handler);
    taken[0].respond(response(), true);
    expect(log).toEqual(["a.request", "bad.request", "bad.response", "a.response", "a.settle"]);
    expect(reported).toHaveLength(1);
  });

  it("settles a request with an open call only once the call closed too", () => {
    const log: string[] = [];
    const taken: Exchange[] = [];
    compose([logging("a", log), terminal(taken)]).entry({ internal: false })(request(), recorder().handler);
    taken[0].openCall();
    taken[0].respond(null, true);
    expect(log).toEqual(["a.request"]);
    taken[0].closeCall();
    expect(log).toEqual(["a.request", "a.settle"]);
  });
});

// ---- the server's pipeline over fake model versions ----

const config = (name: string, decoupled = false) => validateModelConfig({
  name, backend: "python",
  input: [{ name: "X", data_type: "TYPE_UINT8", dims: [2] }],
  output: [{ name: "Y", data_type: "TYPE_UINT8", dims: [2] }, { name: "Z", data_type: "TYPE_UINT8", dims: [2] }],
  model_transaction_policy: { decoupled },
}, { modelName: name });

const input = { name: "X", datatype: "UINT8" as const, shape: [2], data: Uint8Array.of(1, 2) };
const valid = (model: string, extra: Partial<CoreRequest> = {}) => request(model, { inputs: [input], ...extra });

interface Fake extends Target {
  requests: CoreRequest[];
  releases: number;
  answer: (r: CoreRequest) => Promise<RequestResult>;
}

function fake(name: string, decoupled = false): Fake {
  const f: Fake = {
    version: 1, modelDir: "/nowhere", config: config(name, decoupled), stats: new ModelStatistics(), requests: [], releases: 0,
    answer: async () => ({
      outputs: [{ name: "Y", datatype: "UINT8", shape: [2], data: Uint8Array.of(3, 4) }, { name: "Z", datatype: "UINT8", shape: [2], data: Uint8Array.of(5, 6) }],
      parameters: {}, release: () => void f.releases++,
    }),
    scheduler: { enqueue: (r) => (f.requests.push(r), f.answer(r)) },
  };
  return f;
}

function server(...targets: Fake[]) {
  const byName = new Map(targets.map((t) => [t.config.name, t]));
  return new RequestPipeline({
    resolve: (model) => {
      const t = byName.get(model);
      if (!t) throw new ServerError("NOT_FOUND", `Request for unknown model: '${model}' is not found`);
      return t;
    },
  });
}

async function collect(stream: AsyncIterable<StreamItem>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of stream) {
    out.push(item.response ? `response ${item.response.outputs.map((o) => o.name).join(",")} ${item.final}` : item.error ? `error ${item.error.message} ${item.final}` : `final ${item.final}`);
    item.response?.release();
  }
  return out;
}

describe("RequestPipeline", () => {
  it("answers with the requested outputs and counts one success and one execution", async () => {
    const m = fake("m");
    m.answer = async (r) => {
      r.times!.call = { requests: [r], inputNs: 1, inferNs: 2, outputNs: 3, waitNs: 0 };
      return { outputs: [{ name: "Y", datatype: "UINT8", shape: [2], data: Uint8Array.of(3, 4) }], parameters: { p: 1 }, release: () => void m.releases++ };
    };
    const p = server(m);
    const r = await p.infer(valid("m", { outputs: [{ name: "Y" }] }));
    expect(r).toMatchObject({ model: "m", version: "1", id: "r", parameters: { p: 1 } });
    expect(r.outputs.map((o) => o.name)).toEqual(["Y"]);
    expect(m.stats.successCount).toBe(1);
    expect(m.stats.executionCount).toBe(1);
    expect(p.inFlight).toBe(0);
  });

  it("counts an invalid request of a known model as a failure, and an unknown model nowhere", async () => {
    const m = fake("m");
    const p = server(m);
    await expect(p.infer(request("m"))).rejects.toThrow("expected 1 inputs but got 0 inputs for model 'm'");
    expect(m.stats.failureCount("OTHER")).toBe(1);
    expect(() => p.inferStream(request("nope"))).toThrow("Request for unknown model: 'nope' is not found");
    expect(m.requests).toHaveLength(0);
  });

  it("refuses decoupled models where one response is expected, with each caller's text, uncounted", async () => {
    const d = fake("d", true);
    const p = server(d);
    await expect(p.infer(valid("d"))).rejects.toThrow("model 'd' is decoupled: its responses stream (gRPC ModelStreamInfer, HTTP generate_stream)");
    await expect(p.composingInfer(valid("d"))).rejects.toThrow("model 'd' is decoupled: an ensemble step takes exactly one response");
    expect(d.stats.failureCount("OTHER")).toBe(0);
    expect(d.requests).toHaveLength(0);
  });

  it("fails a request whose requested output is missing, releasing the outputs, counted once", async () => {
    const m = fake("m");
    const p = server(m);
    m.answer = async () => ({ outputs: [], parameters: {}, release: () => void m.releases++ });
    await expect(p.infer(valid("m", { outputs: [{ name: "Y" }] }))).rejects.toThrow("model 'm' did not produce the requested output 'Y'");
    expect(m.releases).toBe(1);
    expect(m.stats.failureCount("OTHER") + m.stats.failureCount("BACKEND")).toBe(1);
    expect(p.inFlight).toBe(0);
  });

  it("maps a scheduler that rejects (or throws) to the request's error", async () => {
    const m = fake("m");
    const p = server(m);
    m.answer = () => Promise.reject(new Error("broke"));
    await expect(p.infer(valid("m"))).rejects.toMatchObject({ code: "INTERNAL", message: "broke" });
    (m as { scheduler: Fake["scheduler"] }).scheduler = { enqueue: () => {
      throw new ServerError("UNAVAILABLE", "closed");
    } } as Fake["scheduler"];
    const stream = p.inferStream(valid("m")); // scheduled: the failure is an item
    expect(await collect(stream)).toEqual(["error closed true"]);
    expect(m.stats.failureCount("OTHER")).toBe(2);
  });

  it("streams a decoupled model's responses and errors, counting once after the call ended", async () => {
    const d = fake("d", true);
    const p = server(d);
    let endCall!: (r: RequestResult) => void;
    d.answer = (r) => {
      const ok = (): RequestResult => ({ outputs: [{ name: "Y", datatype: "UINT8", shape: [2], data: Uint8Array.of(0, 0) }], parameters: {}, release: () => void d.releases++ });
      queueMicrotask(() => {
        r.sink!(ok(), false);
        r.sink!({ error: new ServerError("INTERNAL", "mid-stream") }, false);
        r.sink!(null, true);
        r.sink!(ok(), true); // after the final one: released, dropped
      });
      return new Promise((resolve) => (endCall = resolve));
    };
    const items = await collect(p.inferStream(valid("d")));
    expect(items).toEqual(["response Y false", "error mid-stream false", "final true"]);
    expect(d.releases).toBe(2);
    // Each response in response_stats by its index; the one after the final flag is not counted.
    const rs = d.stats.toJson("d", "1").response_stats;
    expect(Object.keys(rs)).toEqual(["0", "1", "2"]);
    expect([rs["0"].success.count, rs["1"].fail.count, rs["2"].empty_response.count]).toEqual([1, 1, 1]);
    expect(rs["0"].compute_output.count + rs["1"].compute_output.count + rs["2"].compute_output.count).toBe(1);
    expect(d.stats.successCount).toBe(0);
    expect(p.inFlight).toBe(1);
    endCall({ outputs: [], parameters: {}, release() {} });
    await p.whenIdle();
    expect(d.stats.successCount).toBe(1);
  });

  it("a decoupled ensemble's streamed step takes a decoupled model, also while the server drains", async () => {
    const d = fake("d", true);
    const p = server(d);
    d.answer = (r) => {
      queueMicrotask(() => {
        r.sink!({ outputs: [{ name: "Y", datatype: "UINT8", shape: [1], data: Uint8Array.of(1) }], parameters: {}, release: () => void d.releases++ }, false);
        r.sink!(null, true);
      });
      return Promise.resolve({ outputs: [], parameters: {}, release() {} });
    };
    p.close();
    expect(await collect(p.composingStream(valid("d")))).toEqual(["response Y false", "final true"]);
    await p.whenIdle();
    expect(d.releases).toBe(1);
    expect(d.stats.successCount).toBe(1);
  });

  it("ends a decoupled stream with the call's error when the handler never ran", async () => {
    const d = fake("d", true);
    const p = server(d);
    d.answer = () => Promise.reject(new ServerError("UNAVAILABLE", "no instance")); // schedulers reject every failure
    expect(await collect(p.inferStream(valid("d")))).toEqual(["error no instance true"]);
    await p.whenIdle();
    expect(d.stats.failureCount("OTHER")).toBe(1);
    // Not a response of the model's: response_stats stays empty.
    expect(d.stats.toJson("d", "1").response_stats).toEqual({});
  });

  it("refuses callers once closed, still serves BLS and ensemble steps, and waits for them", async () => {
    const m = fake("m");
    const p = server(m);
    let finish!: () => void;
    const gate = new Promise<void>((r) => (finish = r));
    const plain = m.answer;
    m.answer = async (r) => (await gate, plain(r));
    const first = p.infer(valid("m"));
    p.close();
    expect(() => p.inferStream(valid("m"))).toThrow("Server is shutting down");
    await expect(p.infer(valid("m"))).rejects.toThrow("Server is shutting down");
    const bls = p.bls(valid("m"));
    const step = p.composingInfer(valid("m"));
    expect(p.inFlight).toBe(3);
    const idle = vi.fn();
    void p.whenIdle().then(idle);
    finish();
    (await first).release();
    (await step).release();
    expect(await collect(bls)).toEqual(["response Y,Z true"]);
    await Promise.resolve();
    expect(idle).toHaveBeenCalledOnce();
    expect(m.stats.successCount).toBe(3);
  });
});
