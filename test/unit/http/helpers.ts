/**
 * A fake ServerApi (this is a unit test of the front end, not of the core) and HTTP helpers.
 * The fake echoes every input back as an output of the same name, records what it was asked,
 * counts release() calls, and throws a ServerError when the request parameter `fail` names a code.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { ServerApi } from "../../../src/core/server-api.js";
import type { ModelStatisticsResponse } from "../../../src/core/statistics.js";
import type {
  CoreRequest, CoreResponse, CoreTensor, LoadOptions, ModelIndexEntry, ModelMetadata,
  ServerMetadata,
} from "../../../src/core/types.js";
import { ServerError, isErrorCode, toServerError } from "../../../src/errors/index.js";
import { ResponseStream } from "../../../src/core/response-stream.js";
import { createHttpServer, type HttpServerOptions } from "../../../src/http/index.js";

export interface FakeModel {
  metadata: ModelMetadata;
  maxBatchSize: number;
  ready: boolean;
}

export class FakeApi implements ServerApi {
  live = true;
  ready = true;
  models = new Map<string, FakeModel>();
  requests: CoreRequest[] = [];
  /** release() calls per response, in the order responses were made. */
  releaseCounts: number[] = [];
  loads: Array<[string, LoadOptions]> = [];
  unloads: string[] = [];
  indexCalls: Array<{ ready?: boolean }> = [];
  metadataCalls: Array<[string, string | undefined]> = [];
  /** Replaces the echo when set. */
  inferHook?: (request: CoreRequest) => Promise<CoreResponse>;
  /** Runs when a response is released (e.g. to scribble over memory that went back). */
  onRelease?: (response: CoreResponse) => void;
  loadError?: ServerError;
  /** Models that answer through streams only. */
  decoupled = new Set<string>();
  /** Replaces the one-response stream when set (a decoupled model's responses). */
  streamHook?: (request: CoreRequest, stream: ResponseStream) => void;

  constructor() {
    this.addModel("echo", [], 0);
  }

  addModel(name: string, inputs: ModelMetadata["inputs"], maxBatchSize: number, ready = true) {
    this.models.set(name, {
      metadata: { name, versions: ["1"], platform: "fake", inputs, outputs: [] },
      maxBatchSize,
      ready,
    });
  }

  isLive(): boolean {
    return this.live;
  }
  isReady(): boolean {
    return this.ready;
  }
  serverMetadata(): ServerMetadata {
    return { name: "tessera", version: "0.1.0", extensions: ["binary_tensor_data"] };
  }
  modelReady(model: string): boolean {
    return this.#model(model).ready;
  }
  modelMetadata(model: string, version?: string): ModelMetadata {
    this.metadataCalls.push([model, version]);
    return this.#model(model).metadata;
  }
  modelConfig(model: string): Record<string, unknown> {
    const m = this.#model(model);
    return { name: model, max_batch_size: m.maxBatchSize, input: [] };
  }
  modelStatistics(): ModelStatisticsResponse {
    return { model_stats: [] };
  }
  async infer(request: CoreRequest): Promise<CoreResponse> {
    this.#model(request.model);
    this.requests.push(request);
    const fail = request.parameters.fail;
    if (fail === "TypeError") throw new TypeError("not a server error");
    if (isErrorCode(fail)) throw new ServerError(fail, `injected ${fail} failure`);
    if (this.inferHook) return this.inferHook(request);
    return this.respond(request, request.inputs);
  }
  isDecoupled(model: string): boolean {
    this.#model(model);
    return this.decoupled.has(model);
  }
  /** As the server: one response for most models; the streamHook plays a decoupled one. */
  inferStream(request: CoreRequest): ResponseStream {
    const stream = new ResponseStream();
    if (this.streamHook) {
      this.#model(request.model);
      this.requests.push(request);
      this.streamHook(request, stream);
      return stream;
    }
    this.infer(request).then(
      (response) => stream.push({ response, final: true }),
      (err) => stream.push({ error: toServerError(err), final: true }),
    );
    return stream;
  }
  repositoryIndex(options: { ready?: boolean }): ModelIndexEntry[] {
    this.indexCalls.push(options);
    return [...this.models.keys()].map((name) => ({ name, version: "1", state: "READY" }));
  }
  async loadModel(model: string, options: LoadOptions): Promise<void> {
    if (this.loadError) throw this.loadError;
    this.loads.push([model, options]);
  }
  async unloadModel(model: string): Promise<void> {
    this.unloads.push(model);
  }

  /** A response carrying `outputs`, filtered by the requested names, counting its releases. */
  respond(request: CoreRequest, outputs: CoreTensor[], parameters = {}): CoreResponse {
    const index = this.releaseCounts.push(0) - 1;
    const wanted = request.outputs?.map((o) => o.name);
    const response: CoreResponse = {
      model: request.model,
      version: request.version ?? "1",
      id: request.id,
      outputs: wanted && wanted.length > 0 ? outputs.filter((o) => wanted.includes(o.name)) : outputs,
      parameters,
      release: () => {
        this.releaseCounts[index]!++;
        this.onRelease?.(response);
      },
    };
    return response;
  }

  #model(name: string): FakeModel {
    const m = this.models.get(name);
    if (!m) throw new ServerError("NOT_FOUND", `Request for unknown model: '${name}' is not found`);
    return m;
  }
}

export interface Running {
  url: string;
  port: number;
  logs: string[];
  close(): Promise<void>;
}

export async function start(
  api: ServerApi, maxInputSize = 1 << 20, options: Omit<HttpServerOptions, "maxInputSize" | "log"> = {},
): Promise<Running> {
  const logs: string[] = [];
  const server = createHttpServer(api, { ...options, maxInputSize, log: (l) => logs.push(l) });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    logs,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A JSON header followed by binary parts, as the binary tensor data extension lays them out. */
export function binaryBody(header: unknown, ...parts: Uint8Array[]) {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...parts]), headerLength: json.length };
}

export function postBinary(url: string, header: unknown, ...parts: Uint8Array[]) {
  const { body, headerLength } = binaryBody(header, ...parts);
  return fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/octet-stream",
      "Inference-Header-Content-Length": String(headerLength),
    },
    body,
  });
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

/** Splits a binary response into its JSON part and the binary tail. */
export async function readInferResponse(res: Response) {
  const bytes = Buffer.from(await res.arrayBuffer());
  const header = res.headers.get("inference-header-content-length");
  const n = header === null ? bytes.length : Number(header);
  return { json: JSON.parse(bytes.subarray(0, n).toString("utf8")), tail: bytes.subarray(n) };
}

/** A raw node:http request, for what fetch cannot do (lying headers, disconnecting early). */
export function rawRequest(
  port: number, path: string, headers: http.OutgoingHttpHeaders,
): http.ClientRequest {
  return http.request({ host: "127.0.0.1", port, path, method: "POST", headers });
}

export function responseOf(req: http.ClientRequest): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
  });
}

export async function until(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function bytesOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** Triton's BYTES serialization of strings. */
export function serializeStrings(values: Array<string | Uint8Array>): Buffer {
  const parts: Buffer[] = [];
  for (const v of values) {
    const b = typeof v === "string" ? Buffer.from(v, "utf8") : Buffer.from(v);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    parts.push(len, b);
  }
  return Buffer.concat(parts);
}
