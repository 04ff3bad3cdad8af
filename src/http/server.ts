/**
 * The KServe v2 HTTP/REST front end: protocol ⇄ ServerApi and nothing else. Every failure is a
 * ServerError mapped to a status by HTTP_STATUS; the only statuses chosen here are the transport's
 * own (404 unknown path, 405 wrong method, 413 body too large, 403 restricted API; 408 is Node's,
 * past the request timeout) and the health probes' 200/400.
 */
import { drained } from "./drained.js";
import { Buffer } from "node:buffer";
import * as http from "node:http";
import type { ServerApi, TraceGate } from "../core/server-api.js";
import { nowNs } from "../core/statistics.js";
import { Cancellation } from "../core/cancellation.js";
import type { ResponseStream } from "../core/response-stream.js";
import type { CoreResponse, LoadOptions, RequestTrace } from "../core/types.js";
import { checkRepositoryName, checkUnloadDependents, loadOptionsFrom } from "../core/parameters.js";
import { RestrictedFeatures } from "../core/restricted.js";
import {
  HTTP_STATUS, RESTRICTED_STATUS, ServerError, clientClosedConnection, generateNotSingleResponse, httpDecoupled,
  loadParametersNotObject, readyNotBoolean, toServerError, tracingUnsupported,
} from "../errors/index.js";
import { decodeGenerateRequest, encodeGenerateResponse } from "./generate.js";
import {
  BodyTooLargeError, ClientGoneError, decodeContentEncoding, encodeContent, parseJsonObject, readBody, responseEncoding,
  type ResponseEncoding,
} from "./body.js";
import {
  INFER_HEADER_LENGTH, decodeInferRequest, decodeRawInferRequest,
  inferHeaderLength, type DecodedInfer, type EncodedResponse,
} from "./infer-codec.js";
import { matchRoute, routeCategory, type Route } from "./router.js";
import { encodeWithMemo } from "./response-memo.js";
import { rawHeaderPairs, type HeaderForward } from "../core/header-forward.js";
import { applyHttpLogSettings, logSettingsJson } from "../core/log-settings.js";
import type { RegionRegistry } from "../shm/registry.js";
import { sharedMemoryCall } from "./shared-memory.js";

export interface HttpServerOptions {
  /** Largest request body accepted, in bytes, after decompression too (--http-max-input-size). */
  maxInputSize: number;
  /** --http-restricted-api: categories served only with their header. */
  restricted?: RestrictedFeatures;
  /**
   * How long a client may take to send its headers, and its whole request (body included), in
   * ms; 0: no limit. Past it the socket is answered 408 and closed, so a slow or stalled client
   * cannot hold a socket and a part-read body. Node's defaults when unset (60 s and 300 s).
   */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** --http-header-forward-pattern: matching request headers become request parameters. */
  headerForward?: HeaderForward;
  /** While tracing is on, an infer request carries its receive time and the client's traceparent. */
  tracing?: TraceGate;
  log?: (line: string) => void;
  /**
   * Another front end sharing this port (the OpenAI API under /v1, --openai-on-http): the
   * requests it `handles` are its, before any v2 routing.
   */
  mount?: { handles(url: string | undefined): boolean; handle(req: http.IncomingMessage, res: http.ServerResponse): void };
  /** The system shared-memory extension's regions (src/shm/); unset: inputs in regions are refused. */
  regions?: RegionRegistry;
}

/** How often Node looks for requests past those timeouts (its default, 30 s, would add up to that). */
const TIMEOUT_CHECK_MS = 1000;

const JSON_TYPE = "application/json";
const NOT_FOUND_BODY = JSON.stringify({ error: "Not Found" });
const METHOD_NOT_ALLOWED_BODY = JSON.stringify({ error: "Method Not Allowed" });

/** An http.Server serving the v2 protocol over `api`; the caller listens and closes it. */
export function createHttpServer(api: ServerApi, options: HttpServerOptions): http.Server {
  const front = new HttpFrontEnd(api, options);
  const serverOptions: http.ServerOptions = { connectionsCheckingInterval: TIMEOUT_CHECK_MS };
  const request = options.requestTimeoutMs;
  if (request !== undefined) serverOptions.requestTimeout = request;
  if (options.headersTimeoutMs !== undefined) {
    // Node refuses a headers timeout past a (non-zero) request timeout: the request's bounds both.
    const headers = options.headersTimeoutMs;
    serverOptions.headersTimeout = request !== undefined && request > 0 && (headers === 0 || headers > request) ? request : headers;
  }
  const mount = options.mount;
  const server = http.createServer(serverOptions, (req, res) => {
    // A request taken in after a Content-Length + Transfer-Encoding refusal: answered, then closed.
    if (reparsed.has(req.socket)) res.shouldKeepAlive = false;
    // Another front end on this port (the OpenAI API under /v1) takes its own requests first.
    if (mount?.handles(req.url)) mount.handle(req, res);
    else front.handle(req, res);
  });
  server.on("clientError", (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket) => {
    if (reparseChunked(server, err, socket)) return;
    refuseClient(err, socket);
  });
  return server;
}

/** Sockets whose request was re-read without its Content-Length (see reparseChunked). */
const reparsed = new WeakSet<object>();

/**
 * Triton (libevhtp) serves a request that has both Transfer-Encoding: chunked and a
 * Content-Length, as RFC 9112 §6.3 lets a server do: the chunked framing wins. Node's parser
 * refuses it (its only switch, insecureHTTPParser, would relax every other check too). So, once
 * per connection, the refused head is read again without its Content-Length by a fresh parser,
 * and the connection closes after the response (the RFC's guard against request smuggling).
 * Only a head that starts the packet is retried; anything else gets Node's answer.
 */
function reparseChunked(
  server: http.Server, err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: import("node:stream").Duplex,
): boolean {
  const raw = err.rawPacket;
  if (err.code !== "HPE_INVALID_CONTENT_LENGTH" || !/Transfer-Encoding/.test(err.message) ||
    raw === undefined || reparsed.has(socket) || !/^[A-Z]+ /.test(raw.toString("latin1", 0, 16))) return false;
  const headEnd = raw.indexOf("\r\n\r\n");
  if (headEnd < 0) return false;
  const lines = raw.toString("latin1", 0, headEnd).split("\r\n").filter((l) => !/^content-length\s*:/i.test(l));
  reparsed.add(socket);
  const s = socket as import("node:stream").Duplex & { parser?: { unconsume?: () => void } | null };
  s.parser?.unconsume?.();
  s.removeAllListeners("data");
  server.emit("connection", socket);
  s.unshift(Buffer.concat([Buffer.from(lines.join("\r\n"), "latin1"), raw.subarray(headEnd)]));
  return true;
}

/** Node's own answer to a request it cannot parse (what it does when no clientError listener is set). */
function refuseClient(err: NodeJS.ErrnoException, socket: import("node:stream").Duplex): void {
  const s = socket as import("node:stream").Duplex & { _httpMessage?: { headersSent?: boolean } };
  if (s.writable && !s._httpMessage?.headersSent) {
    const status = err.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large"
      : err.code === "HPE_CHUNK_EXTENSIONS_OVERFLOW" ? "413 Payload Too Large"
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "408 Request Timeout" : "400 Bad Request";
    s.write(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
  }
  s.destroy(err);
}

class HttpFrontEnd {
  readonly #api: ServerApi;
  readonly #maxInputSize: number;
  readonly #restricted: RestrictedFeatures;
  readonly #log: (line: string) => void;
  readonly #headerForward: HeaderForward | undefined;
  readonly #regions: RegionRegistry | undefined;
  readonly #tracing: TraceGate | undefined;

  constructor(api: ServerApi, options: HttpServerOptions) {
    if (!(options.maxInputSize > 0)) throw new RangeError("maxInputSize must be positive");
    this.#api = api;
    this.#regions = options.regions;
    this.#headerForward = options.headerForward;
    this.#tracing = options.tracing;
    this.#maxInputSize = options.maxInputSize;
    this.#restricted = options.restricted ?? RestrictedFeatures.NONE;
    this.#log = options.log ?? (() => {});
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const match = matchRoute(req.method, req.url);
    if (match.kind === "not-found") {
      send(res, 404, NOT_FOUND_BODY);
      return;
    }
    const refusal = this.#restricted.refusal(routeCategory(match.route), (key) => headerValue(req.headers[key]));
    if (refusal !== null) {
      // The body is left unread: close rather than drain it for a client that is not allowed in.
      res.setHeader("Connection", "close");
      send(res, RESTRICTED_STATUS.http, JSON.stringify({ error: refusal }));
      return;
    }
    if (match.kind === "method-not-allowed") {
      res.setHeader("Allow", match.allow);
      send(res, 405, METHOD_NOT_ALLOWED_BODY);
      return;
    }
    const route = match.route;
    switch (route.kind) {
      case "infer":
        void this.#infer(req, res, route.model, route.version);
        return;
      case "generate":
        void this.#generate(req, res, route.model, route.version, route.stream);
        return;
      case "repository-index":
      case "repository-load":
      case "repository-unload":
        void this.#repository(req, res, route);
        return;
      case "logging":
        void this.#logging(req, res);
        return;
      case "health":
      case "model-ready":
        // Handlers' isReady() first (python_backend's is_ready), when the server has them.
        if ((route.kind === "model-ready" || route.probe === "ready") && this.#api.refreshReadiness) {
          const ask = route.kind === "model-ready" ? this.#api.refreshReadiness(route.model, route.version) : this.#api.refreshReadiness();
          ask.then(() => this.#get(res, route), () => this.#get(res, route));
          return;
        }
        this.#get(res, route);
        return;
      case "shared-memory":
        void this.#sharedMemory(req, res, route);
        return;
      case "trace-setting":
        void this.#traceSetting(req, res, route.model);
        return;
      default:
        this.#get(res, route);
    }
  }

  #get(res: http.ServerResponse, route: Route): void {
    const api = this.#api;
    try {
      switch (route.kind) {
        case "health": {
          // A probe that throws is a probe that failed: 400, like not live / not ready.
          let ok = false;
          try {
            ok = route.probe === "live" ? api.isLive() : api.isReady();
          } catch {
            ok = false;
          }
          res.writeHead(ok ? 200 : 400, { "Content-Length": 0 });
          res.end();
          return;
        }
        case "server-metadata":
          send(res, 200, JSON.stringify(api.serverMetadata()));
          return;
        case "model-metadata":
          send(res, 200, JSON.stringify(api.modelMetadata(route.model, route.version)));
          return;
        case "model-config":
          send(res, 200, JSON.stringify(api.modelConfig(route.model, route.version)));
          return;
        case "model-stats":
          send(res, 200, JSON.stringify(api.modelStatistics(route.model, route.version)));
          return;
        case "model-ready":
          if (api.modelReady(route.model, route.version)) {
            res.writeHead(200, { "Content-Length": 0 });
            res.end();
          } else {
            send(res, 400, JSON.stringify({ error: "Model version not ready" }));
          }
          return;
        default:
          throw new Error(`route ${route.kind} reached the GET handler`);
      }
    } catch (err) {
      this.#fail(res, err);
    }
  }

  async #infer(
    req: http.IncomingMessage, res: http.ServerResponse, model: string, version: string | undefined,
  ): Promise<void> {
    const controller = new Cancellation();
    let closed = false;
    let releaseAfterWrite: (() => void) | null = null;
    // 'close' comes after 'finish' on success, or alone when the socket went away first: the one
    // point where both cancellation and the release of written-out views are decided.
    res.once("close", () => {
      closed = true;
      if (!res.writableFinished) {
        controller.abort(clientClosedConnection());
      }
      releaseAfterWrite?.();
    });

    const traceStartNs = this.#tracing?.active ? nowNs() : 0;
    let decoded: DecodedInfer;
    let response: CoreResponse;
    // Windows of client regions this request uses: held until its response is written out.
    const leases = this.#regions?.leases();
    try {
      // Checked before the body is read, as Triton does (CheckTransactionPolicy: UNSUPPORTED, 501).
      if (this.#api.isDecoupled(model, version)) {
        throw httpDecoupled();
      }
      const body = await this.#body(req, res);
      const header = req.headers[INFER_HEADER_LENGTH];
      const headerLength = inferHeaderLength(header, body.byteLength);
      if (headerLength === 0) {
        const metadata = this.#api.modelMetadata(model, version);
        const config = this.#api.modelConfig(model, version);
        const maxBatch = Number(config.max_batch_size ?? 0) || 0;
        decoded = decodeRawInferRequest(body, model, version, metadata, maxBatch);
      } else {
        decoded = decodeInferRequest(body, headerLength, model, version, header !== undefined, leases);
      }
      // After the body, before scheduling, as Triton's HandleInfer calls ForwardHeaders; the
      // names as the client spelled them (Node's rawHeaders), as evhtp keeps them.
      this.#headerForward?.apply(rawHeaderPairs(req.rawHeaders), decoded.request.parameters);
      decoded.request.signal = controller;
      if (traceStartNs !== 0) decoded.request.trace = traceContext(req, traceStartNs);
      response = await this.#api.infer(decoded.request);
    } catch (err) {
      leases?.release();
      if (!closed) this.#fail(res, err);
      return;
    }

    // Each path below calls this exactly once: at once (client gone, encoding failed, JSON-only),
    // or from the 'close' handler once the binary views have been written out.
    const release = () => {
      try {
        response.release();
      } catch (err) {
        this.#log(`http: releasing the response of model '${model}' failed: ${describe(err)}`);
      }
      leases?.release();
    };
    if (closed) {
      release();
      return;
    }
    let encoded;
    try {
      // A cache hit's encoding is kept with its entry (response-memo.ts).
      encoded = encodeWithMemo(response, decoded.format);
    } catch (err) {
      release();
      this.#fail(res, err);
      return;
    }
    const encoding = responseEncoding(req.headers["accept-encoding"]);
    if (encoding !== null) {
      await this.#sendCompressed(res, encoded, encoding, release);
      return;
    }
    if (encoded.binary.length === 0) {
      // The JSON text holds its own copy of every value: the views can go back at once.
      release();
      send(res, 200, encoded.json);
      return;
    }
    releaseAfterWrite = release;
    res.writeHead(200, {
      "Content-Type": "application/octet-stream",
      "Inference-Header-Content-Length": encoded.jsonBytes,
      "Content-Length": encoded.jsonBytes + encoded.binaryBytes,
    });
    // Corked, the header, the JSON and every view leave in one writev, each view written from
    // where it lies.
    res.cork();
    res.write(encoded.json);
    for (const chunk of encoded.binary) res.write(chunk);
    res.end();
  }

  /**
   * Accept-Encoding chose gzip or deflate: the whole body (JSON, then binary outputs) compressed,
   * as Triton does; Inference-Header-Content-Length stays the uncompressed JSON's length. The
   * compressor copies the views, so they go back once it is done. A compression failure is
   * logged and the body goes uncompressed (Triton's fallback).
   */
  async #sendCompressed(
    res: http.ServerResponse, encoded: EncodedResponse, encoding: ResponseEncoding, release: () => void,
  ): Promise<void> {
    // The JSON is a Buffer already when a BYTES output went out as raw bytes (json-tensor.ts).
    const json = typeof encoded.json === "string" ? Buffer.from(encoded.json, "utf8") : encoded.json;
    let body: Buffer | null = null;
    try {
      body = await encodeContent([json, ...encoded.binary], encoding);
    } catch (err) {
      this.#log(`http: unable to compress response: ${describe(err)}`);
    }
    const plain = body === null ? Buffer.concat([json, ...encoded.binary]) : null;
    release();
    if (res.destroyed) return;
    const headers: http.OutgoingHttpHeaders = encoded.binary.length === 0
      ? { "Content-Type": JSON_TYPE }
      : { "Content-Type": "application/octet-stream", "Inference-Header-Content-Length": encoded.jsonBytes };
    if (body !== null) headers["Content-Encoding"] = encoding;
    const out = body ?? plain!;
    headers["Content-Length"] = out.byteLength;
    res.writeHead(200, headers);
    res.end(out);
  }

  /**
   * Generate extension, for every model. /generate answers one JSON object and needs exactly one
   * response; /generate_stream writes each response as a Server-Sent Event as it comes. The
   * status comes from the first item: an error there sets it, later errors are events.
   */
  async #generate(
    req: http.IncomingMessage, res: http.ServerResponse, model: string, version: string | undefined, stream: boolean,
  ): Promise<void> {
    const controller = new Cancellation();
    let results: ResponseStream | null = null;
    res.once("close", () => {
      if (!res.writableFinished) controller.abort(clientClosedConnection());
      results?.close();
    });
    try {
      const metadata = this.#api.modelMetadata(model, version);
      const body = await this.#body(req, res);
      const request = decodeGenerateRequest(body, model, version, metadata);
      request.signal = controller;
      results = this.#api.inferStream(request);
    } catch (err) {
      if (!res.destroyed) this.#fail(res, err);
      return;
    }
    if (controller.aborted) {
      results.close();
      return;
    }
    try {
      if (stream) await this.#writeEvents(res, results);
      else await this.#writeOne(res, results);
    } catch (err) {
      results.close();
      if (!res.destroyed) this.#fail(res, err);
    }
  }

  async #writeOne(res: http.ServerResponse, results: ResponseStream): Promise<void> {
    let only: CoreResponse | undefined;
    let count = 0;
    let error: ServerError | undefined;
    for await (const item of results) {
      if (item.error) error ??= item.error;
      if (!item.response) continue;
      if (++count === 1) only = item.response;
      else item.response.release();
    }
    try {
      if (error) throw error;
      if (count !== 1) {
        throw generateNotSingleResponse();
      }
      send(res, 200, encodeGenerateResponse(only!));
    } finally {
      only?.release();
    }
  }

  async #writeEvents(res: http.ServerResponse, results: ResponseStream): Promise<void> {
    let started = false;
    for await (const item of results) {
      if (!started) {
        started = true;
        const status = item.error ? HTTP_STATUS[item.error.code] : 200;
        res.writeHead(status, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache" });
      }
      let data: string | undefined;
      if (item.response) {
        try {
          data = encodeGenerateResponse(item.response);
        } catch (err) {
          data = JSON.stringify({ error: toServerError(err).message });
        } finally {
          item.response.release(); // the text holds its own copy
        }
      } else if (item.error) {
        data = JSON.stringify({ error: item.error.message });
      }
      if (data !== undefined && !res.destroyed && !res.write(`data: ${data}\n\n`)) await drained(res);
    }
    if (!started) res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache" });
    res.end();
  }

  async #repository(
    req: http.IncomingMessage, res: http.ServerResponse,
    route: Extract<Route, { kind: "repository-index" | "repository-load" | "repository-unload" }>,
  ): Promise<void> {
    try {
      const body = await this.#body(req, res);
      checkRepositoryName(route.repository);
      const json = parseOptionalJson(body);
      switch (route.kind) {
        case "repository-index": {
          let ready = false;
          if (json !== undefined && json.ready !== undefined) {
            if (typeof json.ready !== "boolean") throw readyNotBoolean();
            ready = json.ready;
          }
          send(res, 200, JSON.stringify(this.#api.repositoryIndex({ ready })));
          return;
        }
        case "repository-load":
          await this.#api.loadModel(route.model, loadOptions(json));
          send(res, 200, "");
          return;
        case "repository-unload":
          checkUnloadParameters(json);
          await this.#api.unloadModel(route.model);
          send(res, 200, "");
          return;
      }
    } catch (err) {
      this.#fail(res, err);
    }
  }

  /** Logging extension: POST applies its settings first; both answer the settings now. */
  async #logging(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const settings = req.method === "POST"
        ? applyHttpLogSettings(parseOptionalJson(await this.#body(req, res)))
        : logSettingsJson();
      send(res, 200, JSON.stringify(settings));
    } catch (err) {
      this.#fail(res, err);
    }
  }

  async #sharedMemory(req: http.IncomingMessage, res: http.ServerResponse, route: Extract<Route, { kind: "shared-memory" }>): Promise<void> {
    try {
      const body = await this.#body(req, res);
      const answer = sharedMemoryCall(route, body, this.#regions);
      if (answer === "") {
        res.writeHead(200, { "Content-Length": 0 });
        res.end();
      } else send(res, 200, answer);
    } catch (err) {
      this.#fail(res, err);
    }
  }

  /** Trace extension: GET reads the settings, POST (an empty body allowed) updates them first. */
  async #traceSetting(req: http.IncomingMessage, res: http.ServerResponse, model: string | undefined): Promise<void> {
    try {
      const body = await this.#body(req, res);
      if (!this.#api.traceSetting) throw tracingUnsupported();
      const update = req.method === "POST" ? { protocol: "http" as const, body: parseOptionalJson(body) ?? {} } : undefined;
      send(res, 200, JSON.stringify(this.#api.traceSetting(model, update)));
    } catch (err) {
      this.#fail(res, err);
    }
  }

  async #body(req: http.IncomingMessage, res: http.ServerResponse): Promise<Buffer> {
    const body = await readBody(req, this.#maxInputSize);
    const encoding = req.headers["content-encoding"];
    try {
      return await decodeContentEncoding(body, encoding, this.#maxInputSize);
    } catch (err) {
      if (err instanceof ServerError && err.code === "UNSUPPORTED") {
        res.setHeader("Accept-Encoding", "gzip, deflate");
      }
      throw err;
    }
  }

  #fail(res: http.ServerResponse, err: unknown): void {
    if (err instanceof ClientGoneError) return;
    if (res.headersSent) {
      // Too late for a status: cut the response short rather than send a corrupt one.
      res.destroy();
      return;
    }
    if (err instanceof BodyTooLargeError) {
      // The rest of the body is still on the wire and will not be read.
      res.setHeader("Connection", "close");
      send(res, 413, JSON.stringify({ error: err.message }));
      return;
    }
    const error = toServerError(err);
    if (!(err instanceof ServerError)) {
      this.#log(`http: unexpected failure: ${err instanceof Error ? err.stack : String(err)}`);
    } else if (error.code === "INTERNAL") {
      this.#log(`http: internal error: ${error.message}`);
    }
    send(res, HTTP_STATUS[error.code], JSON.stringify({ error: error.message }));
  }
}

function send(res: http.ServerResponse, status: number, body: string | Buffer): void {
  res.writeHead(status, {
    "Content-Type": JSON_TYPE,
    "Content-Length": typeof body === "string" ? Buffer.byteLength(body, "utf8") : body.byteLength,
  });
  res.end(body);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The client's W3C trace context (traceparent, tracestate headers) and when the request arrived. */
function traceContext(req: http.IncomingMessage, receivedNs: number): RequestTrace {
  const trace: RequestTrace = { receivedNs };
  const parent = headerValue(req.headers.traceparent);
  if (parent !== undefined) trace.traceparent = parent;
  const state = headerValue(req.headers.tracestate);
  if (state !== undefined) trace.tracestate = state;
  return trace;
}

function parseOptionalJson(body: Buffer): Record<string, unknown> | undefined {
  return body.byteLength === 0 ? undefined : parseJsonObject(body);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// Load: "parameters" must be an object, each value a string (TritonJson's texts, as Triton).
function loadOptions(json: Record<string, unknown> | undefined): LoadOptions {
  const params = json?.parameters;
  if (params === undefined) return {};
  if (!isObject(params)) throw loadParametersNotObject();
  return loadOptionsFrom("http", params);
}

// Unload: Triton looks "unload_dependents" up only in an object "parameters"; anything else
// there is ignored, as Triton ignores it.
function checkUnloadParameters(json: Record<string, unknown> | undefined): void {
  const params = json?.parameters;
  if (isObject(params)) checkUnloadDependents(params.unload_dependents);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
