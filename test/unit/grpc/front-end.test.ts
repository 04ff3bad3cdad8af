/**
 * The gRPC front end in process, over loopback, against a fake ServerApi: every error code maps
 * through GRPC_STATUS, responses are released exactly once (after encoding, and when the client
 * has gone), health follows readiness, statistics are UNIMPLEMENTED where the server has none.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as loader from "@grpc/proto-loader";
import { GrpcFrontEnd } from "../../../src/grpc/index.js";
import type { ServerApi } from "../../../src/core/server-api.js";
import type { CoreRequest, CoreResponse } from "../../../src/core/types.js";
import { ERROR_CODES, GRPC_STATUS, ServerError, toServerError, type ErrorCode } from "../../../src/errors/index.js";
import { ResponseStream } from "../../../src/core/response-stream.js";
import { GRPC_RESTRICTED_HEADER_PREFIX, RestrictedFeatures } from "../../../src/core/restricted.js";
import { messageType, serviceDefinition } from "../../../src/grpc/proto.js";

const SRC = join(import.meta.dirname, "..", "..", "..", "src");
const OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [join(SRC, "grpc"), join(SRC, "config")] };

class FakeApi {
  ready = true;
  releases = 0;
  lastRequest: CoreRequest | null = null;
  /** Set by a test: what infer does. */
  onInfer: (r: CoreRequest) => Promise<CoreResponse> = async (r) => this.response(r);

  isLive() { return true; }
  isReady() { return this.ready; }
  serverMetadata() { return { name: "fake", version: "0", extensions: [] }; }
  modelReady() { return true; }
  modelMetadata(model: string): never { throw new ServerError("NOT_FOUND", `no ${model}`); }
  modelConfig() { return { name: "m", max_batch_size: 8, input: [{ name: "I", data_type: "TYPE_FP32", dims: ["2"] }], instance_group: [{ kind: "KIND_CPU", count: 1 }] }; }
  infer(r: CoreRequest) {
    this.lastRequest = r;
    return this.onInfer(r);
  }
  isDecoupled() { return false; }
  /** As the server for a model that is not decoupled: its one response, or error, final. */
  inferStream(r: CoreRequest) {
    const stream = new ResponseStream();
    this.infer(r).then(
      (response) => stream.push({ response, final: true }),
      (err) => stream.push({ error: toServerError(err), final: true }),
    );
    return stream;
  }
  repositoryIndex() { return []; }
  async loadModel() {}
  unloaded: string[] = [];
  async unloadModel(model: string) {
    this.unloaded.push(model);
  }

  response(r: CoreRequest): CoreResponse {
    const data = new Uint8Array(new Float32Array([1, 2]).buffer);
    return {
      model: r.model, version: "1", id: r.id, parameters: {},
      outputs: [{ name: "O", datatype: "FP32", shape: [2], data }],
      release: () => {
        this.releases++;
        data.fill(0); // what a recycled shared-memory slot would look like
      },
    };
  }
}

const api = new FakeApi();
let front: GrpcFrontEnd;
let client: any;
let health: any;

beforeAll(async () => {
  front = new GrpcFrontEnd(api as unknown as ServerApi);
  const port = await front.listen("127.0.0.1", 0);
  const inference = grpc.loadPackageDefinition(loader.loadSync("grpc_service.proto", OPTIONS)) as any;
  const h = grpc.loadPackageDefinition(loader.loadSync("health.proto", OPTIONS)) as any;
  client = new inference.inference.GRPCInferenceService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  health = new h.grpc.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});

afterAll(async () => {
  client.close();
  health.close();
  await front.shutdown(1000);
});

const call = (c: any, method: string, req: object) =>
  new Promise<{ err: grpc.ServiceError | null; res: any }>((resolve) => c[method](req, (err: any, res: any) => resolve({ err, res })));

const inferRequest = { model_name: "m", id: "r", inputs: [{ name: "I", datatype: "FP32", shape: [2], contents: { fp32_contents: [1, 2] } }] };

describe("GrpcFrontEnd", () => {
  it("maps every error code through GRPC_STATUS and keeps the message", async () => {
    for (const code of ERROR_CODES) {
      api.onInfer = async () => {
        throw new ServerError(code as ErrorCode, `text for ${code}`);
      };
      const { err } = await call(client, "ModelInfer", inferRequest);
      expect([err?.code, err?.details]).toEqual([GRPC_STATUS[code], `text for ${code}`]);
    }
    const thrown = await call(client, "ModelMetadata", { name: "zzz" });
    expect([thrown.err?.code, thrown.err?.details]).toEqual([grpc.status.NOT_FOUND, "no zzz"]);
    api.onInfer = async () => {
      throw new TypeError("boom");
    };
    const internal = await call(client, "ModelInfer", inferRequest);
    expect([internal.err?.code, internal.err?.details]).toEqual([grpc.status.INTERNAL, "boom"]);
  });

  it("encodes the outputs before releasing them, and releases once", async () => {
    api.onInfer = async (r) => api.response(r);
    const before = api.releases;
    const { err, res } = await call(client, "ModelInfer", inferRequest);
    expect(err).toBeNull();
    expect(Array.from(new Float32Array(Uint8Array.from(res.raw_output_contents[0]).buffer))).toEqual([1, 2]);
    expect(api.releases).toBe(before + 1);
    expect(api.lastRequest?.inputs[0]?.data.byteLength).toBe(8);
    await new Promise((r) => setTimeout(r, 50)); // grpc-js reports the stream's close after the status
    expect(api.lastRequest?.signal?.aborted).toBe(false); // a call that ended normally is no cancellation
  });

  it("aborts the request's signal when the client cancels, and releases a late response", async () => {
    let resolveInfer!: (r: CoreResponse) => void;
    api.onInfer = (r) => new Promise((resolve) => (resolveInfer = resolve));
    const before = api.releases;
    const pending = client.ModelInfer(inferRequest, () => {});
    await new Promise((r) => setTimeout(r, 100));
    const signal = api.lastRequest!.signal!;
    expect(signal.aborted).toBe(false);
    pending.cancel();
    await new Promise((r) => setTimeout(r, 100));
    expect(signal.aborted).toBe(true);
    expect((signal.reason as ServerError).code).toBe("CANCELLED");
    resolveInfer(api.response(api.lastRequest!));
    await new Promise((r) => setTimeout(r, 50));
    expect(api.releases).toBe(before + 1);
  });

  it("answers each stream request once, errors in error_message", async () => {
    api.onInfer = async (r) => {
      if (r.id === "bad") throw new ServerError("INVALID_ARG", "bad one");
      return api.response(r);
    };
    const stream = client.ModelStreamInfer();
    const got: any[] = [];
    stream.on("data", (m: any) => got.push(m));
    const status = new Promise<grpc.StatusObject>((r) => stream.once("status", r));
    stream.write({ ...inferRequest, id: "a" });
    stream.write({ ...inferRequest, id: "bad" });
    stream.write({ ...inferRequest, id: "b" });
    stream.end();
    expect((await status).code).toBe(grpc.status.OK);
    expect(got.map((m) => m.error_message || m.infer_response.id).sort()).toEqual(["a", "b", "bad one"]);
  });

  it("says SERVING only while the server is ready", async () => {
    expect((await call(health, "Check", {})).res).toEqual({ status: "SERVING" });
    api.ready = false;
    expect((await call(health, "Check", {})).res).toEqual({ status: "NOT_SERVING" });
    api.ready = true;
  });

  it("returns the config as the ModelConfig message and refuses statistics it has no source for", async () => {
    const { res } = await call(client, "ModelConfig", { name: "m" });
    expect(res.config).toMatchObject({ name: "m", max_batch_size: 8, instance_group: [{ kind: "KIND_CPU", count: 1 }] });
    expect(res.config.input[0]).toMatchObject({ name: "I", data_type: "TYPE_FP32", dims: ["2"] });
    const stats = await call(client, "ModelStatistics", { name: "m" });
    expect(stats.err?.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(stats.err?.details).toBe("model statistics are not available in this server yet");
  });

  it("refuses an unload_dependents that is not a bool_param with Triton's gRPC text, and unloads nothing", async () => {
    api.unloaded = [];
    for (const p of [{ int64_param: 1 }, { string_param: "false" }]) {
      const r = await call(client, "RepositoryModelUnload", { model_name: "m", parameters: { unload_dependents: p } });
      expect(r.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(r.err?.details).toBe("invalid value type for 'unload_dependents' parameter, expected bool_param.");
    }
    expect(api.unloaded).toEqual([]);
    const off = await call(client, "RepositoryModelUnload", { model_name: "m", parameters: { unload_dependents: { bool_param: false } } });
    expect(off.err).toBeNull();
    const plain = await call(client, "RepositoryModelUnload", { model_name: "m" });
    expect(plain.err).toBeNull();
    expect(api.unloaded).toEqual(["m", "m"]);
    const on = await call(client, "RepositoryModelUnload", { model_name: "m", parameters: { unload_dependents: { bool_param: true } } });
    expect(on.err?.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(api.unloaded).toEqual(["m", "m"]);
  });

  it("encodes response_stats as the InferResponseStatistics map", async () => {
    const d = (count: number, ns: number) => ({ count, ns });
    const stat = { compute_infer: d(1, 10), compute_output: d(1, 2), success: d(1, 12), fail: d(0, 0), empty_response: d(0, 0), cancel: d(0, 0) };
    const withStats = api as unknown as { modelStatistics?: () => unknown };
    withStats.modelStatistics = () => ({ model_stats: [{ name: "m", version: "1", response_stats: { "0": stat, "1": { ...stat, success: d(0, 0), empty_response: d(1, 10) } } }] });
    try {
      const { err, res } = await call(client, "ModelStatistics", { name: "m" });
      expect(err).toBeNull();
      const rs = res.model_stats[0].response_stats;
      expect(Object.keys(rs).sort()).toEqual(["0", "1"]);
      // uint64 fields, as the client reads them (longs: String).
      const wire = (count: number, ns: number) => ({ count: String(count), ns: String(ns) });
      expect(rs["0"]).toEqual({ compute_infer: wire(1, 10), compute_output: wire(1, 2), success: wire(1, 12), fail: wire(0, 0), empty_response: wire(0, 0), cancel: wire(0, 0) });
      expect(rs["1"].empty_response).toEqual(wire(1, 10));
    } finally {
      delete withStats.modelStatistics;
    }
  });
});

describe("GrpcFrontEnd guards", () => {
  let guarded: GrpcFrontEnd;
  let address = "";
  let typed: any;
  let raw: grpc.Client;
  const LIMIT = 64 * 1024;
  const noop = (b: Buffer) => b;

  beforeAll(async () => {
    guarded = new GrpcFrontEnd(api as unknown as ServerApi, {
      maxInputSize: LIMIT,
      restricted: new RestrictedFeatures(["model-repository,inference:admin=yes"], {
        option: "grpc-restricted-protocol", feature: "protocol", headerPrefix: GRPC_RESTRICTED_HEADER_PREFIX,
      }),
    });
    address = `127.0.0.1:${await guarded.listen("127.0.0.1", 0)}`;
    const inference = grpc.loadPackageDefinition(loader.loadSync("grpc_service.proto", OPTIONS)) as any;
    typed = new inference.inference.GRPCInferenceService(address, grpc.credentials.createInsecure(), { "grpc.max_send_message_length": -1 });
    raw = new grpc.Client(address, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    typed.close();
    raw.close();
    await guarded.shutdown(1000);
  });

  const admin = () => {
    const m = new grpc.Metadata();
    m.set("triton-grpc-protocol-admin", "yes");
    return m;
  };
  const unary = (method: string, req: object, metadata = new grpc.Metadata()) =>
    new Promise<{ err: grpc.ServiceError | null; res: any }>((resolve) =>
      typed[method](req, metadata, (err: any, res: any) => resolve({ err, res })));
  const rawUnary = (method: string, bytes: Buffer, metadata = new grpc.Metadata()) =>
    new Promise<grpc.ServiceError | null>((resolve) =>
      raw.makeUnaryRequest(`/inference.GRPCInferenceService/${method}`, noop, noop, bytes, metadata, (err) => resolve(err)));
  // Field 1 (a string) that claims 255 bytes and has none: protobufjs cannot decode it.
  const GARBAGE = Buffer.from([0x0a, 0xff, 0x01]);

  it("answers a request it cannot decode with INVALID_ARGUMENT, not INTERNAL", async () => {
    const err = await rawUnary("ServerLive", GARBAGE);
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toMatch(/^Error deserializing request: /);
    const infer = await rawUnary("ModelInfer", GARBAGE, admin());
    expect(infer?.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it("answers an undecodable stream message with its error, and the stream goes on", async () => {
    api.onInfer = async (r) => api.response(r);
    const stream = raw.makeBidiStreamRequest("/inference.GRPCInferenceService/ModelStreamInfer", noop, noop, admin());
    const got: Buffer[] = [];
    stream.on("data", (b: Buffer) => got.push(b));
    const status = new Promise<grpc.StatusObject>((r) => stream.once("status", r));
    stream.write(GARBAGE);
    stream.write(serviceDefinition("inference.GRPCInferenceService").ModelInfer!.requestSerialize({ ...inferRequest, id: "after" }));
    stream.end();
    expect((await status).code).toBe(grpc.status.OK);
    const type = messageType("inference.ModelStreamInferResponse");
    const messages = got.map((b) => type.toObject(type.decode(b)) as any);
    expect(messages.map((m) => m.error_message ?? "").filter((e: string) => e !== "")).toHaveLength(1);
    expect(messages.find((m) => m.error_message)!.error_message).toMatch(/^Error deserializing request: /);
    expect(messages.find((m) => !m.error_message)!.infer_response.id).toBe("after");
  });

  it("refuses a message past maxInputSize with RESOURCE_EXHAUSTED", async () => {
    const big = { ...inferRequest, inputs: [{ name: "I", datatype: "FP32", shape: [LIMIT], contents: { fp32_contents: new Array(LIMIT).fill(1) } }] };
    const { err } = await unary("ModelInfer", big, admin());
    expect(err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err?.details).toMatch(/Received message larger than max/);
    expect((await unary("ModelInfer", inferRequest, admin())).err).toBeNull();
  });

  it("serves a restricted protocol only with its metadata, with Triton's status and text", async () => {
    const text = "This protocol is restricted, expecting header 'triton-grpc-protocol-admin'";
    expect(await unary("ServerLive", {})).toMatchObject({ err: null, res: { live: true } });
    const refused = await unary("RepositoryIndex", {});
    expect([refused.err?.code, refused.err?.details]).toEqual([grpc.status.UNAVAILABLE, text]);
    const wrong = new grpc.Metadata();
    wrong.set("triton-grpc-protocol-admin", "no");
    expect((await unary("ModelInfer", inferRequest, wrong)).err?.details).toBe(text);
    expect((await unary("RepositoryIndex", {}, admin())).err).toBeNull();
    // Restricted before the request is looked at: garbage from a stranger is still "restricted".
    expect((await rawUnary("ModelInfer", GARBAGE))?.code).toBe(grpc.status.UNAVAILABLE);

    const stream = typed.ModelStreamInfer(new grpc.Metadata());
    stream.on("data", () => {});
    stream.on("error", () => {});
    const status = await new Promise<grpc.StatusObject>((r) => stream.once("status", r));
    expect([status.code, status.details]).toEqual([grpc.status.UNAVAILABLE, text]);
  });
});
