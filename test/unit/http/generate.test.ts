/**
 * The generate extension: src/http/generate.ts (decodeGenerateRequest: keys → inputs with the
 * model's datatype and a fitted shape, other keys and the nested `parameters` object → request
 * parameters, Triton's error texts; fitShape; encodeGenerateResponse) and the HTTP routes
 * /generate (exactly one response) and /generate_stream (Server-Sent Events), through
 * createHttpServer over the FakeApi: statuses, release of every response exactly once, client
 * disconnects, and /infer refusing decoupled models.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ResponseStream } from "../../../src/core/response-stream.js";
import type { CoreRequest, CoreResponse, CoreTensor, ModelMetadata, TensorMetadata } from "../../../src/core/types.js";
import { ServerError } from "../../../src/errors/index.js";
import { decodeGenerateRequest, encodeGenerateResponse, fitShape } from "../../../src/http/generate.js";
import {
  FakeApi, bytesOf, postJson, rawRequest, serializeStrings, start, until, type Running,
} from "./helpers.js";

const SHAPE_ERROR = (name: string) => `The schema can not convert input '${name}' to tensor with proper shape`;
const INVALID_TYPE = (key: string) => `parameter '${key}' has invalid type. It should be either 'int', 'bool', or 'string'.`;
const NOT_ONE = "generate expects model to produce exactly 1 response, use generate stream for model that generates various number of responses";

function metadata(inputs: TensorMetadata[]): ModelMetadata {
  return { name: "gen", versions: ["1"], platform: "fake", inputs, outputs: [] };
}

function decode(body: unknown, inputs: TensorMetadata[] = [], version?: string): CoreRequest {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return decodeGenerateRequest(Buffer.from(text), "gen", version, metadata(inputs));
}

/** The ServerError a call throws. */
function thrown(fn: () => unknown): ServerError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ServerError) return e;
    throw new Error(`expected a ServerError, got ${String(e)}`);
  }
  throw new Error("expected the call to throw");
}

const input = (name: string, datatype: TensorMetadata["datatype"], shape: number[]): TensorMetadata => ({ name, datatype, shape });

describe("fitShape", () => {
  it.each<[number[], number, number[]]>([
    [[-1], 1, [1]],
    [[-1], 4, [4]],
    [[-1], 0, [0]],
    [[-1, -1], 3, [1, 3]],
    [[-1, 3], 6, [2, 3]],
    [[-1, 2, -1], 6, [1, 2, 3]],
    [[3], 3, [3]],
    [[2, 2], 4, [2, 2]],
    [[], 1, []],
  ])("fits %j to %i elements as %j", (dims, count, shape) => {
    expect(fitShape(input("X", "INT32", dims), count)).toEqual(shape);
  });

  it("does not change the model's metadata", () => {
    const meta = input("X", "INT32", [-1, -1]);
    fitShape(meta, 3);
    expect(meta.shape).toEqual([-1, -1]);
  });

  it.each<[number[], number]>([
    [[3], 4],
    [[3], 1],
    [[-1, 3], 4],
    [[2, 2], 3],
    [[], 2],
  ])("refuses %j for %i elements with Triton's text", (dims, count) => {
    const err = thrown(() => fitShape(input("X", "INT32", dims), count));
    expect(err.code).toBe("INVALID_ARG");
    expect(err.message).toBe(SHAPE_ERROR("X"));
  });

  it("refuses an empty array for fixed dims that need elements", () => {
    // [3] holds three elements; zero values cannot be shaped into it.
    const err = thrown(() => fitShape(input("X", "INT32", [3]), 0));
    expect(err.message).toBe(SHAPE_ERROR("X"));
  });
});

describe("decodeGenerateRequest", () => {
  const INPUTS = [input("TEXT", "BYTES", [-1]), input("IDS", "INT32", [-1, -1]), input("M", "FP32", [-1, 3])];

  it("turns keys that name inputs into tensors with the model's datatype and a fitted shape", () => {
    const request = decode({ TEXT: "abc", IDS: [1, 2, 3], M: [1, 2, 3, 4, 5, 6] }, INPUTS, "2");
    expect(request).toMatchObject({ model: "gen", version: "2", id: "", parameters: {} });
    expect(request.inputs.map((t) => [t.name, t.datatype, t.shape])).toEqual([
      ["TEXT", "BYTES", [1]], ["IDS", "INT32", [1, 3]], ["M", "FP32", [2, 3]],
    ]);
    const [text, ids, m] = request.inputs as [CoreTensor, CoreTensor, CoreTensor];
    expect(Buffer.from(text.data)).toEqual(serializeStrings(["abc"]));
    expect(ids.data).toEqual(bytesOf(new Int32Array([1, 2, 3])));
    expect(m.data).toEqual(bytesOf(new Float32Array([1, 2, 3, 4, 5, 6])));
  });

  it("takes a scalar for a one-element input", () => {
    const request = decode({ IDS: 7 }, INPUTS);
    expect(request.inputs[0]).toMatchObject({ name: "IDS", shape: [1, 1] });
    expect(request.inputs[0]!.data).toEqual(bytesOf(new Int32Array([7])));
  });

  it("refuses values that do not fit the input's fixed dims", () => {
    const err = thrown(() => decode({ X: [1, 2, 3, 4] }, [input("X", "INT32", [3])]));
    expect(err.code).toBe("INVALID_ARG");
    expect(err.message).toBe(SHAPE_ERROR("X"));
  });

  it("refuses a value of the wrong type for the input's datatype, naming the input", () => {
    const err = thrown(() => decode({ IDS: ["x"] }, INPUTS));
    expect(err.code).toBe("INVALID_ARG");
    expect(err.message).toMatch(/'IDS'/);
  });

  it("makes other keys and the nested `parameters` object request parameters", () => {
    const request = decode(
      { TEXT: "hi", max_tokens: 16, stream: true, tag: "t", parameters: { temperature: 0.5, stop: "x", greedy: false } },
      INPUTS,
    );
    expect(request.inputs.map((t) => t.name)).toEqual(["TEXT"]);
    expect(request.parameters).toEqual({ max_tokens: 16, stream: true, tag: "t", temperature: 0.5, stop: "x", greedy: false });
  });

  it("does not treat a nested key that names an input as a parameter", () => {
    const request = decode({ parameters: { TEXT: "nested" } }, INPUTS);
    expect(request.parameters).toEqual({});
    expect(request.inputs).toHaveLength(1);
    expect(Buffer.from(request.inputs[0]!.data)).toEqual(serializeStrings(["nested"]));
  });

  it.each<[string, unknown]>([["an array", [1, 2]], ["an object", { a: 1 }], ["null", null]])(
    "refuses %s as a parameter with Triton's text",
    (_what, value) => {
      const err = thrown(() => decode({ odd: value }, INPUTS));
      expect(err.code).toBe("INVALID_ARG");
      expect(err.message).toBe(INVALID_TYPE("odd"));
    },
  );

  it("prefixes errors inside `parameters` with the keyword", () => {
    expect(thrown(() => decode({ parameters: { odd: [1] } }, INPUTS)).message).toBe(
      `Converting keyword: 'parameters': ${INVALID_TYPE("odd")}`);
    const shape = thrown(() => decode({ parameters: { X: [1, 2] } }, [input("X", "INT32", [3])]));
    expect(shape.code).toBe("INVALID_ARG");
    expect(shape.message).toBe(`Converting keyword: 'parameters': ${SHAPE_ERROR("X")}`);
  });

  it("refuses `parameters` that is not an object", () => {
    for (const value of [[1], "x", 3, null]) {
      expect(thrown(() => decode({ parameters: value }, INPUTS)).message).toBe("Expected JSON object for keyword: 'parameters'");
    }
  });

  it("refuses keys starting with triton_, top level and nested", () => {
    const top = thrown(() => decode({ triton_enable_empty_final_response: true }, INPUTS));
    expect(top.code).toBe("INVALID_ARG");
    expect(top.message).toMatch(/^parameter keys starting with 'triton_' are reserved for Triton usage/);
    const nested = thrown(() => decode({ parameters: { triton_x: 1 } }, INPUTS));
    expect(nested.message).toMatch(/^Converting keyword: 'parameters': parameter keys starting with 'triton_' are reserved/);
  });

  it.each<[string, string]>([["malformed JSON", "{\"a\": "], ["an array", "[1]"], ["a string", "\"x\""], ["null", "null"]])(
    "refuses %s as the body",
    (_what, body) => {
      expect(thrown(() => decode(body, INPUTS)).code).toBe("INVALID_ARG");
    },
  );
});

describe("encodeGenerateResponse", () => {
  const base = { model: "gen", version: "3", id: "", parameters: {}, release() {} };
  const t = (name: string, datatype: CoreTensor["datatype"], shape: number[], data: Uint8Array): CoreTensor => ({ name, datatype, shape, data });

  it("writes model_name, model_version, then parameters and outputs as keys, in order", () => {
    const response: CoreResponse = {
      ...base, parameters: { n: 2, done: true },
      outputs: [t("OUT", "INT32", [1], bytesOf(new Int32Array([9]))), t("ALL", "FP32", [2, 2], bytesOf(new Float32Array([1, 2, 3, 4.5])))],
    };
    const text = encodeGenerateResponse(response);
    expect(text).toBe('{"model_name":"gen","model_version":"3","n":2,"done":true,"OUT":9,"ALL":[1,2,3,4.5]}');
  });

  it("writes id only when non-empty", () => {
    expect(JSON.parse(encodeGenerateResponse({ ...base, outputs: [] }))).toEqual({ model_name: "gen", model_version: "3" });
    expect(JSON.parse(encodeGenerateResponse({ ...base, id: "r7", outputs: [] }))).toEqual({ model_name: "gen", model_version: "3", id: "r7" });
  });

  it("writes a one-element tensor of any rank bare and any other as a flat array", () => {
    const json = JSON.parse(encodeGenerateResponse({
      ...base,
      outputs: [
        t("one", "INT64", [1, 1], bytesOf(new BigInt64Array([-5n]))),
        t("flag", "BOOL", [1], Uint8Array.of(1)),
        t("empty", "INT32", [0], new Uint8Array(0)),
        t("nested", "INT32", [2, 1], bytesOf(new Int32Array([1, 2]))),
      ],
    }));
    expect(json).toEqual({ model_name: "gen", model_version: "3", one: -5, flag: true, empty: [], nested: [1, 2] });
  });

  it("writes BYTES as strings", () => {
    const json = JSON.parse(encodeGenerateResponse({
      ...base,
      outputs: [
        t("TEXT", "BYTES", [1], serializeStrings(["héllo ✓"])),
        t("TOKENS", "BYTES", [3], serializeStrings(["a", "", "c"])),
      ],
    }));
    expect(json).toEqual({ model_name: "gen", model_version: "3", TEXT: "héllo ✓", TOKENS: ["a", "", "c"] });
  });
});

// ---------------------------------------------------------------------------------------------
// Routes

let api: FakeApi;
let server: Running;

beforeEach(async () => {
  api = new FakeApi();
  api.addModel("gen", [input("IN", "INT32", [-1]), input("TEXT", "BYTES", [-1])], 0);
  server = await start(api);
});
afterEach(async () => {
  await server.close();
});

const path = (model: string, stream: boolean) => `${server.url}/v2/models/${model}/${stream ? "generate_stream" : "generate"}`;

/** A response from the fake whose only output is the INT32 `value`. */
function int(request: CoreRequest, value: number): CoreResponse {
  return api.respond(request, [{ name: "OUT", datatype: "INT32", shape: [1], data: bytesOf(new Int32Array([value])) }]);
}

/** Plays a decoupled model: `play` runs after the route has started consuming the stream. */
function decoupled(play: (request: CoreRequest, stream: ResponseStream) => void | Promise<void>) {
  api.decoupled.add("gen");
  api.streamHook = (request, stream) => {
    setTimeout(() => void play(request, stream), 1);
  };
}

async function events(body: unknown) {
  const res = await postJson(path("gen", true), body);
  const text = await res.text();
  const chunks = text.split("\n\n");
  expect(chunks.pop()).toBe(""); // every event ends with a blank line
  return {
    status: res.status,
    type: res.headers.get("content-type"),
    events: chunks.map((c) => {
      expect(c.startsWith("data: ")).toBe(true);
      return JSON.parse(c.slice("data: ".length));
    }),
  };
}

describe("POST /generate", () => {
  it("answers the one response as flat JSON and releases it once", async () => {
    const res = await postJson(path("gen", false), { IN: [1, 2, 3], TEXT: "abc", temperature: 1 });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toEqual({ model_name: "gen", model_version: "1", IN: [1, 2, 3], TEXT: "abc" });
    expect(api.requests[0]).toMatchObject({ model: "gen", parameters: { temperature: 1 } });
    expect(api.requests[0]!.inputs.map((t) => t.shape)).toEqual([[3], [1]]);
    expect(api.releaseCounts).toEqual([1]);
  });

  it("takes the version from the path", async () => {
    const res = await postJson(`${server.url}/v2/models/gen/versions/2/generate`, { IN: 4 });
    expect(await res.json()).toEqual({ model_name: "gen", model_version: "2", IN: 4 });
    expect(api.requests[0]!.version).toBe("2");
  });

  it("answers a decoupled model's single response", async () => {
    decoupled((request, stream) => {
      stream.push({ response: int(request, 5), final: false });
      stream.push({ final: true });
    });
    const res = await postJson(path("gen", false), { IN: 1 });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ model_name: "gen", model_version: "1", OUT: 5 });
    expect(api.releaseCounts).toEqual([1]);
  });

  it("answers 500 with Triton's text for zero responses", async () => {
    decoupled((_request, stream) => stream.push({ final: true }));
    const res = await postJson(path("gen", false), { IN: 1 });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: NOT_ONE });
  });

  it("answers 500 for several responses, releasing each once", async () => {
    decoupled(async (request, stream) => {
      stream.push({ response: int(request, 1), final: false });
      await new Promise((r) => setTimeout(r, 5));
      stream.push({ response: int(request, 2), final: false });
      stream.push({ response: int(request, 3), final: true });
    });
    const res = await postJson(path("gen", false), { IN: 1 });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: NOT_ONE });
    await until(() => api.releaseCounts.length === 3 && api.releaseCounts.every((n) => n === 1));
    await new Promise((r) => setTimeout(r, 20));
    expect(api.releaseCounts).toEqual([1, 1, 1]);
  });

  it("answers the model's error with its status, releasing a response that came with it", async () => {
    decoupled((request, stream) => {
      stream.push({ response: int(request, 1), final: false });
      stream.push({ error: new ServerError("UNAVAILABLE", "model went away"), final: true });
    });
    const res = await postJson(path("gen", false), { IN: 1 });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: "model went away" });
    expect(api.releaseCounts).toEqual([1]);
  });

  it("answers 400 for a request the schema cannot convert, without calling the model", async () => {
    api.addModel("fixed", [input("X", "INT32", [3])], 0);
    const res = await postJson(path("fixed", false), { X: [1, 2, 3, 4] });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: SHAPE_ERROR("X") });
    const bad = await postJson(path("gen", false), { IN: 1, odd: [1, 2] });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: INVALID_TYPE("odd") });
    expect(api.requests).toEqual([]);
  });

  it("answers 404 for an unknown model", async () => {
    const res = await postJson(path("nope", false), { IN: 1 });
    expect(res.status).toBe(404);
    expect((await res.json()).error).toMatch(/nope/);
  });
});

describe("POST /generate_stream", () => {
  it("writes one data event per response, releasing each once", async () => {
    decoupled(async (request, stream) => {
      for (let i = 0; i < 3; i++) {
        stream.push({ response: int(request, 10 + i), final: false });
        await new Promise((r) => setTimeout(r, 2));
      }
      stream.push({ final: true });
    });
    const r = await events({ IN: [1], id: "ignored-as-parameter" });
    expect(r.status).toBe(200);
    expect(r.type).toBe("text/event-stream; charset=utf-8");
    expect(r.events).toEqual([10, 11, 12].map((v) => ({ model_name: "gen", model_version: "1", OUT: v })));
    expect(api.releaseCounts).toEqual([1, 1, 1]);
  });

  it("streams the one response of a non-decoupled model", async () => {
    const r = await events({ IN: [4, 5] });
    expect(r).toEqual({
      status: 200, type: "text/event-stream; charset=utf-8",
      events: [{ model_name: "gen", model_version: "1", IN: [4, 5] }],
    });
    expect(api.releaseCounts).toEqual([1]);
  });

  it("writes errors mid-stream as events and goes on, status 200", async () => {
    decoupled((request, stream) => {
      stream.push({ response: int(request, 1), final: false });
      stream.push({ error: new ServerError("INVALID_ARG", "bad element"), final: false });
      stream.push({ response: int(request, 3), final: true });
    });
    const r = await events({ IN: [1] });
    expect(r.status).toBe(200);
    expect(r.events).toEqual([
      { model_name: "gen", model_version: "1", OUT: 1 },
      { error: "bad element" },
      { model_name: "gen", model_version: "1", OUT: 3 },
    ]);
    expect(api.releaseCounts).toEqual([1, 1]);
  });

  it("lets an error as the first item set the status, and goes on", async () => {
    decoupled((request, stream) => {
      stream.push({ error: new ServerError("INVALID_ARG", "first went wrong"), final: false });
      stream.push({ response: int(request, 2), final: true });
    });
    const r = await events({ IN: [1] });
    expect(r.status).toBe(400);
    expect(r.type).toBe("text/event-stream; charset=utf-8");
    expect(r.events).toEqual([{ error: "first went wrong" }, { model_name: "gen", model_version: "1", OUT: 2 }]);
    expect(api.releaseCounts).toEqual([1]);
  });

  it("answers a non-decoupled model's error as an event with its status", async () => {
    const r = await events({ IN: [1], fail: "UNAVAILABLE" });
    expect(r.status).toBe(503);
    expect(r.events).toEqual([{ error: "injected UNAVAILABLE failure" }]);
  });

  it("answers zero responses with an empty event stream", async () => {
    decoupled((_request, stream) => stream.push({ final: true }));
    const r = await events({ IN: [1] });
    expect(r).toEqual({ status: 200, type: "text/event-stream; charset=utf-8", events: [] });
  });

  it("writes a response that cannot be encoded as an error event, releasing it", async () => {
    decoupled((request, stream) => {
      stream.push({ response: api.respond(request, [{ name: "H", datatype: "FP16", shape: [1], data: new Uint8Array(2) }]), final: false });
      stream.push({ response: int(request, 2), final: true });
    });
    const r = await events({ IN: [1] });
    expect(r.status).toBe(200);
    expect(r.events).toHaveLength(2);
    expect(r.events[0].error).toMatch(/FP16/);
    expect(r.events[1]).toEqual({ model_name: "gen", model_version: "1", OUT: 2 });
    expect(api.releaseCounts).toEqual([1, 1]);
  });

  it("answers a request error before the stream as plain JSON", async () => {
    const res = await postJson(path("gen", true), { IN: 1, triton_x: 1 });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect((await res.json()).error).toMatch(/'triton_' are reserved/);
    expect(api.requests).toEqual([]);
  });

  it("aborts the request when the client disconnects, and releases responses pushed later", async () => {
    let held: { request: CoreRequest; stream: ResponseStream } | undefined;
    api.decoupled.add("gen");
    api.streamHook = (request, stream) => {
      held = { request, stream };
      setTimeout(() => stream.push({ response: int(request, 1), final: false }), 1);
    };
    const req = rawRequest(server.port, "/v2/models/gen/generate_stream", { "Content-Type": "application/json" });
    req.on("error", () => {});
    const firstEvent = new Promise<string>((resolve) => {
      req.on("response", (res) => {
        res.on("error", () => {});
        res.once("data", (chunk: Buffer) => resolve(chunk.toString("utf8")));
      });
    });
    req.end(JSON.stringify({ IN: [1] }));
    expect(await firstEvent).toBe('data: {"model_name":"gen","model_version":"1","OUT":1}\n\n');
    const { request, stream } = held!;
    expect(request.signal!.aborted).toBe(false);
    req.destroy();
    await until(() => request.signal!.aborted);
    expect(request.signal!.reason).toMatchObject({ code: "CANCELLED" });
    // The model goes on for a while before it notices.
    stream.push({ response: int(request, 2), final: false });
    stream.push({ response: int(request, 3), final: true });
    await new Promise((r) => setTimeout(r, 20));
    expect(api.releaseCounts).toEqual([1, 1, 1]);
  });

  it("does not abort a request whose stream was written out", async () => {
    decoupled((request, stream) => stream.push({ response: int(request, 1), final: true }));
    await events({ IN: [1] });
    await new Promise((r) => setTimeout(r, 20));
    expect(api.requests[0]!.signal!.aborted).toBe(false);
  });
});

describe("POST /infer on a decoupled model", () => {
  it("answers 501 (UNSUPPORTED) with Triton's text without calling the model", async () => {
    api.decoupled.add("gen");
    const res = await postJson(`${server.url}/v2/models/gen/infer`, { inputs: [{ name: "IN", datatype: "INT32", shape: [1], data: [1] }] });
    expect(res.status).toBe(501);
    expect(await res.json()).toEqual({ error: "HTTP end point doesn't support models with decoupled transaction policy" });
    expect(api.requests).toEqual([]);
  });

  it("still serves /infer for a model that is not decoupled", async () => {
    api.decoupled.add("echo");
    const res = await postJson(`${server.url}/v2/models/gen/infer`, { inputs: [{ name: "IN", datatype: "INT32", shape: [1], data: [1] }] });
    expect(res.status).toBe(200);
  });
});
