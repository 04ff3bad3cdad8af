/**
 * One stub process and its control segment, seen from main: spawn, handshake, execute,
 * heartbeats, and death. Lifecycle: starting → ready ⇄ busy → dead. Death (exit, missed
 * heartbeats, or kill) fails every in-flight request with an error that names the instance.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ServerError, toServerError, unavailable, unsupported } from "../../errors/index.js";
import { nowNs, type CallTiming } from "../../core/statistics.js";
import { Cancellation } from "../../core/cancellation.js";
import type { ResponseStream, StreamItem } from "../../core/response-stream.js";
import type { CoreRequest, CoreTensor, RequestResult, ResponseSink } from "../../core/types.js";
import { PACKAGE_ROOT, closeFd, createEventFd } from "../../ipc/addon.js";
import { Endpoint, type Block, type MessageRef } from "../../ipc/endpoint.js";
import { controlLayout, writeHeader } from "../../ipc/layout.js";
import {
  KIND, PROTOCOL_VERSION, type ExecuteBody, type FromStub, type LogLevel, type ModelArgs,
  type BlsRequestBody, type BlsResponseBody, type ResponseBody, type StreamBody, type ToStub, type WireRequest, type WireResponse,
  type WireTensor,
} from "../../ipc/protocol.js";
import { createOwnedSegment, forgetSegment, unlinkOwnedSegment, unlinkSegmentsWithPrefix } from "../../ipc/segments.js";
import type { InstanceResult, InstanceState, ModelInstance } from "../backend.js";

export const STUB_MAIN = join(PACKAGE_ROOT, "dist", "stub", "main.js");
/**
 * Extra node flags for every stub, for diagnosis (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`,
 * which Node refuses in NODE_OPTIONS): TESSERA_STUB_NODE_FLAGS, split on spaces.
 */
const STUB_NODE_FLAGS = (process.env.TESSERA_STUB_NODE_FLAGS ?? "").split(" ").filter(Boolean);
/** Where the stub finds its doorbells: spawn's stdio slots after stdin, stdout, stderr, ipc. */
const STUB_DOORBELL_FDS: [number, number] = [4, 5];

export interface StubOptions {
  modelName: string;
  modelVersion: string;
  instanceName: string;
  modulePath: string;
  serverPid: number;
  arenaBytes: number;
  growthBytes: number;
  queueCapacity: number;
  heartbeatMs: number;
  /** A stub that does not answer within this long (start-up step or heartbeat) is killed. */
  stubTimeoutMs: number;
  log(level: LogLevel, message: string): void;
  /** The handler's onnxruntime session chose this execution provider. */
  onExecutionProvider?(provider: string): void;
  /** Runs a handler's BLS request through the server, as a client's (any model, streamed). */
  bls?(request: CoreRequest): ResponseStream;
  /** Called once when the process is gone, whatever the cause. */
  onDeath(instance: StubInstance, reason: string): void;
}

type Waiter = { type: FromStub["type"]; resolve(m: FromStub): void; reject(e: Error): void; timer: NodeJS.Timeout };

interface InFlight {
  requests: CoreRequest[];
  /** Decoupled: the requests answer through their sinks, and the call only says execute() returned. */
  streamed: boolean;
  /** Stop watching the coupled requests' cancellation. */
  unwatch: (() => void)[];
  resolve(results: InstanceResult[]): void;
  reject(err: ServerError): void;
  /** When execute() was called, and when the inputs were in shared memory and sent (nowNs). */
  startNs: number;
  sentNs: number;
}

export class StubInstance implements ModelInstance {
  readonly name: string;
  readonly #o: StubOptions;
  #state: InstanceState = "starting";
  #child: ChildProcess | null = null;
  #endpoint: Endpoint | null = null;
  #segmentName = "";
  /** Main's ends of the doorbells: [rung by main (the stub listens), rung by the stub]. */
  #doorbells: [number, number] = [-1, -1];
  #waiters: Waiter[] = [];
  #inFlight = new Map<number, InFlight>();
  #nextId = 1;
  #heartbeat: NodeJS.Timeout | null = null;
  #lastPong = 0;
  #pingSeq = 0;
  #stderrTail: string[] = [];
  #deathReason = "";
  /** When the latest response arrived (nowNs): the stub started its next call right after it. */
  #lastAnswerNs = 0;
  #nextKey = 1;
  #recentExecNs: number | undefined;
  /** Decoupled requests whose final response has not arrived, by wire key. */
  #streams = new Map<number, { sink: ResponseSink; unwatch(): void }>();
  #streamsClosed: (() => void) | null = null;

  constructor(options: StubOptions) {
    this.#o = options;
    this.name = options.instanceName;
  }

  get state(): InstanceState {
    return this.#state;
  }

  get pending(): number {
    return this.#inFlight.size;
  }

  get recentExecNs(): number | undefined {
    return this.#recentExecNs;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Spawns the process and loads the handler. Resolves with the auto-completed config when asked. */
  async start(autoCompleteConfig?: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
    const o = this.#o;
    const layout = controlLayout(o.queueCapacity, o.arenaBytes);
    const { name, buffer } = createOwnedSegment(o.serverPid, layout.totalSize);
    this.#segmentName = name;
    writeHeader(buffer, layout);
    this.#doorbells = [createEventFd(), createEventFd()];
    this.#endpoint = new Endpoint({
      segment: buffer,
      segmentName: name,
      layout,
      side: 0,
      serverPid: o.serverPid,
      growthBytes: o.growthBytes,
      doorbells: { in: this.#doorbells[1], out: this.#doorbells[0] },
      onMessage: (kind, body, ref) => this.#onShmMessage(kind, body as ResponseBody | StreamBody | BlsRequestBody, ref),
      onBroken: (err) => this.#broken(`main could not read its message: ${err.message}`),
    });
    const child = spawn(process.execPath, ["--enable-source-maps", ...STUB_NODE_FLAGS, STUB_MAIN], {
      stdio: ["ignore", "pipe", "pipe", "ipc", this.#doorbells[0], this.#doorbells[1]],
      env: { ...process.env, TESSERA_INSTANCE: o.instanceName },
    });
    this.#child = child;
    child.on("message", (m: FromStub) => this.#onControl(m));
    child.on("exit", (code, signal) => this.#die(signal ? `killed by ${signal}` : `exited with code ${code}`));
    // 'error' also reports a failed write to a child that is dying: only a spawn failure (no pid)
    // is a death of its own; otherwise 'exit' follows with the real cause.
    child.on("error", (err) => {
      if (child.pid === undefined) this.#die(`failed to start: ${err.message}`);
      else o.log("WARNING", `stub '${this.name}': ${err.message}`);
    });
    // Handlers that print to stdout/stderr: whole lines into the server log.
    createInterface({ input: child.stdout! }).on("line", (l) => o.log("INFO", l));
    createInterface({ input: child.stderr! }).on("line", (l) => {
      this.#stderrTail.push(l);
      if (this.#stderrTail.length > 20) this.#stderrTail.shift();
      o.log("ERROR", l);
    });

    try {
      this.#send({ type: "attach", version: PROTOCOL_VERSION, segment: name, serverPid: o.serverPid, growthBytes: o.growthBytes,
        doorbells: STUB_DOORBELL_FDS,
        modulePath: o.modulePath, modelName: o.modelName, modelVersion: o.modelVersion, instanceName: o.instanceName,
        heartbeatMs: o.heartbeatMs, stubTimeoutMs: o.stubTimeoutMs });
      await this.#expect("attached");
      forgetSegment(name); // the stub opened and unlinked it
      this.#endpoint.start();
      let completed: Record<string, unknown> | undefined;
      if (autoCompleteConfig) {
        this.#send({ type: "autocomplete", config: autoCompleteConfig });
        completed = (await this.#expect("autocompleted") as { config: Record<string, unknown> }).config;
      }
      return completed;
    } catch (err) {
      this.kill();
      throw err;
    }
  }

  /** Runs the handler's initialize(args); the instance is ready after. */
  async initialize(args: ModelArgs): Promise<void> {
    try {
      this.#send({ type: "initialize", args });
      await this.#expect("initialized", Math.max(this.#o.stubTimeoutMs, 60_000));
    } catch (err) {
      this.kill();
      throw err;
    }
    this.#state = "ready";
    this.#lastPong = Date.now();
    this.#heartbeat = setInterval(() => this.#beat(), this.#o.heartbeatMs);
    this.#heartbeat.unref();
  }

  execute(requests: CoreRequest[]): Promise<InstanceResult[]> {
    if (this.#state !== "ready" && this.#state !== "busy") {
      return Promise.reject(new ServerError("UNAVAILABLE", `model instance '${this.name}' is not ready`));
    }
    const endpoint = this.#endpoint!;
    const startNs = nowNs();
    const blocks: Block[] = [];
    let body: ExecuteBody;
    try {
      const id = this.#nextId++;
      body = { id, requests: this.#wireRequests(requests, endpoint, blocks) };
    } catch (err) {
      endpoint.freeBlocks(blocks);
      return Promise.reject(new ServerError("INTERNAL", `failed to pass the request to '${this.name}': ${(err as Error).message}`));
    }
    // A model is decoupled or not: its requests all have sinks (answers stream) or none do.
    const streamed = requests.some((r) => r.sink);
    if (streamed && !requests.every((r) => r.sink)) {
      endpoint.freeBlocks(blocks);
      return Promise.reject(new ServerError("INTERNAL", `a call to '${this.name}' mixes decoupled and other requests`));
    }
    this.#state = "busy";
    const unwatch: (() => void)[] = [];
    requests.forEach((r, i) => {
      const key = body.requests[i].key;
      const stop = this.#watchCancel(r, key);
      if (streamed) this.#streams.set(key, { sink: r.sink!, unwatch: stop });
      else unwatch.push(stop);
    });
    return new Promise((resolve, reject) => {
      const call: InFlight = { requests, streamed, unwatch, resolve, reject, startNs, sentNs: 0 };
      this.#inFlight.set(body.id, call);
      // Stamped before the send: the stub may start the call before this thread runs again.
      call.sentNs = nowNs();
      try {
        endpoint.send(KIND.EXECUTE, body, blocks);
      } catch (err) {
        // Shared memory ran out: nothing was sent, so undo what this call set up.
        endpoint.freeBlocks(blocks);
        this.#inFlight.delete(body.id);
        for (const stop of unwatch) stop();
        if (streamed) for (const r of body.requests) this.#endStream(r.key);
        if (this.#state === "busy" && this.#inFlight.size === 0) this.#state = "ready";
        reject(new ServerError("INTERNAL", `failed to pass the request to '${this.name}': ${(err as Error).message}`));
      }
    });
  }

  /**
   * Lets open decoupled requests finish (for a while), then asks the handler to finalize and the
   * process to exit; kills it if it does not in time.
   */
  async stop(timeoutMs = 5000, streamsWaitMs = Math.max(this.#o.stubTimeoutMs, 30_000)): Promise<void> {
    if (this.#state === "dead") return;
    if (this.#streams.size > 0 && streamsWaitMs > 0) {
      const before = this.#streamsClosed;
      const closed = new Promise<void>((r) => (this.#streamsClosed = () => {
        before?.();
        r();
      }));
      const waitMs = streamsWaitMs;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
      clearTimeout(timer);
      if (this.#streams.size > 0) this.#o.log("WARNING", `'${this.name}' stops with ${this.#streams.size} decoupled request(s) still open after ${waitMs} ms`);
    }
    if ((this.#state as InstanceState) === "dead") return; // died while we waited
    const exited = new Promise<void>((r) => this.#child?.once("exit", () => r()));
    try {
      this.#send({ type: "finalize" });
      const m = await this.#expect("finalized", timeoutMs);
      if ("error" in m && m.error) this.#o.log("ERROR", `finalize failed: ${m.error.message}`);
    } catch {
      // already dead, or finalize hung: kill below
    }
    const timer = setTimeout(() => this.kill(), 1000);
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.#child && this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill("SIGKILL");
  }

  // The one copy on the way in: request tensor bytes into this instance's arena. In a batch,
  // each input's bytes from every request lie back to back in one block, so the handler can view
  // the whole batch without copying (sdk batchInputs).
  #wireRequests(requests: CoreRequest[], endpoint: Endpoint, blocks: Block[]): WireRequest[] {
    const locs = new Map<CoreTensor, WireTensor["loc"]>();
    const byName = new Map<string, CoreTensor[]>();
    for (const r of requests) {
      for (const t of r.inputs) {
        const same = byName.get(t.name);
        if (same) same.push(t);
        else byName.set(t.name, [t]);
      }
    }
    for (const tensors of byName.values()) {
      const total = tensors.reduce((n, t) => n + t.data.byteLength, 0);
      const block = endpoint.alloc(total);
      blocks.push(block);
      let at = 0;
      for (const t of tensors) {
        block.bytes.set(t.data, at);
        locs.set(t, [block.arena, block.offset + at, t.data.byteLength]);
        at += t.data.byteLength;
      }
    }
    return requests.map((r) => {
      const p = r.parameters;
      return {
        key: this.#nextKey++,
        id: r.id,
        correlationId: p.sequence_id !== undefined ? String(p.sequence_id) : "",
        flags: 0,
        parameters: p,
        requestedOutputs: (r.outputs ?? []).map((o) => o.name),
        inputs: r.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, loc: locs.get(t)! })),
      };
    });
  }

  #onShmMessage(kind: number, body: ResponseBody | StreamBody | BlsRequestBody, ref: MessageRef): void {
    const endpoint = this.#endpoint!;
    if (kind === KIND.STREAM) return this.#onStream(body as StreamBody, ref);
    if (kind === KIND.BLS_REQUEST) return void this.#onBls(body as BlsRequestBody, ref);
    if (kind !== KIND.RESPONSE) return endpoint.release(ref);
    const reply = body as ResponseBody;
    const call = this.#inFlight.get(reply.id);
    if (!call) return endpoint.release(ref);
    const receivedNs = nowNs();
    this.#inFlight.delete(reply.id);
    for (const stop of call.unwatch) stop();
    if (this.#state === "busy" && this.#inFlight.size === 0) this.#state = "ready";
    if (reply.error || call.streamed) {
      endpoint.release(ref);
      this.#timeCall(call, reply.execNs, receivedNs);
      if (reply.error) return call.reject(ServerError.from(reply.error));
      return call.resolve(call.requests.map(() => ({ outputs: [], parameters: {}, release() {} })));
    }
    // Outputs stay views over the stub's memory until every response of the call is released.
    let pending = 0;
    const releaseOne = () => {
      if (--pending === 0) endpoint.release(ref);
    };
    const results: InstanceResult[] = reply.responses!.map((r) => {
      const result = this.#result(r, releaseOne);
      if (!result.error) pending++;
      return result;
    });
    if (pending === 0) endpoint.release(ref);
    this.#timeCall(call, reply.execNs, receivedNs);
    call.resolve(results);
  }

  /** One response of a decoupled request, delivered to its sink as it comes. */
  #onStream(body: StreamBody, ref: MessageRef): void {
    const endpoint = this.#endpoint!;
    const stream = this.#streams.get(body.key);
    if (!stream) return endpoint.release(ref);
    if (body.final) this.#endStream(body.key);
    let result: RequestResult | null = null;
    if (body.response) result = this.#result(body.response, () => endpoint.release(ref));
    if (!result || result.error) endpoint.release(ref);
    stream.sink(result, body.final);
  }

  #endStream(key: number): void {
    this.#streams.get(key)?.unwatch();
    this.#streams.delete(key);
    if (this.#streams.size === 0 && this.#streamsClosed) {
      this.#streamsClosed();
      this.#streamsClosed = null;
    }
  }

  /** A wire response as a result whose outputs view the stub's memory; `release` runs once. */
  #result(r: WireResponse, release: () => void): RequestResult {
    if (r.error) return { error: ServerError.from(r.error) };
    const endpoint = this.#endpoint!;
    let released = false;
    return {
      outputs: r.outputs.map((t): CoreTensor => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: endpoint.view(t.loc) })),
      parameters: r.parameters ?? {},
      release: () => {
        if (released) return;
        released = true;
        release();
      },
    };
  }

  /**
   * A handler's BLS call: a request like a client's, whose inputs are views over the stub's memory
   * (released, with the message, once the call ended), and whose responses are copied into this
   * side's arena for the stub. A call outliving `timeoutMs` ends with Triton's timeout error.
   */
  async #onBls(body: BlsRequestBody, ref: MessageRef): Promise<void> {
    const endpoint = this.#endpoint!;
    const controller = new Cancellation();
    let ended = false;
    const reply = (item: StreamItem): void => {
      if (ended || this.#state === "dead") {
        item.response?.release();
        return;
      }
      ended = item.final;
      const blocks: Block[] = [];
      let response: WireResponse | undefined;
      try {
        if (item.response) response = { outputs: this.#copyOut(item.response.outputs, blocks), parameters: item.response.parameters };
        else if (item.error) response = { outputs: [], error: item.error.toJSON() };
      } catch (err) {
        endpoint.freeBlocks(blocks);
        blocks.length = 0;
        response = { outputs: [], error: toServerError(err).toJSON() };
      } finally {
        item.response?.release();
      }
      const answer: BlsResponseBody = { bls: body.bls, response, final: item.final };
      endpoint.send(KIND.BLS_RESPONSE, answer, blocks);
    };
    let stream: ResponseStream;
    try {
      if (!this.#o.bls) throw unsupported("BLS calls are not available to this model");
      stream = this.#o.bls({
        model: body.model,
        version: body.version || undefined,
        id: body.id,
        inputs: body.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: endpoint.view(t.loc) })),
        outputs: body.requestedOutputs.length > 0 ? body.requestedOutputs.map((name) => ({ name })) : undefined,
        parameters: body.parameters,
        signal: controller,
      });
    } catch (err) {
      reply({ error: toServerError(err), final: true });
      endpoint.release(ref);
      return;
    }
    const timer = body.timeoutMs === undefined ? undefined : setTimeout(() => {
      reply({ error: unavailable("Request timeout expired"), final: true });
      controller.abort(unavailable("Request timeout expired"));
      stream.close();
    }, body.timeoutMs);
    try {
      for await (const item of stream) {
        reply(item);
        if (this.#state === "dead") {
          controller.abort(new ServerError("CANCELLED", "the calling stub is gone"));
          break;
        }
      }
    } finally {
      clearTimeout(timer);
      stream.close();
      endpoint.release(ref);
    }
  }

  /** Copies outputs into this side's arena (one block each) for the stub to read. */
  #copyOut(outputs: CoreTensor[], blocks: Block[]): WireTensor[] {
    const endpoint = this.#endpoint!;
    return outputs.map((t) => {
      const block = endpoint.alloc(t.data.byteLength);
      blocks.push(block);
      block.bytes.set(t.data);
      return { name: t.name, datatype: t.datatype, shape: t.shape, loc: [block.arena, block.offset, t.data.byteLength] };
    });
  }

  /** Tells the stub when a request's client goes away (request.isCancelled()); returns the unwatch. */
  #watchCancel(request: CoreRequest, key: number): () => void {
    const signal = request.signal;
    if (!signal) return () => {};
    const onAbort = () => {
      if (this.#child?.connected) this.#child.send({ type: "cancel", keys: [key] } satisfies ToStub);
    };
    if (signal.aborted) {
      queueMicrotask(onAbort);
      return () => {};
    }
    signal.addEventListener("abort", onAbort, { once: true });
    return () => signal.removeEventListener("abort", onAbort);
  }

  /**
   * Splits a finished call's time for the statistics and hands it to its requests. A call sent
   * while the previous one executed only started when that one's answer came back: the gap is
   * waiting, not output work.
   */
  #timeCall(call: InFlight, execNs: number | undefined, receivedNs: number): void {
    const previousAnswerNs = this.#lastAnswerNs;
    this.#lastAnswerNs = receivedNs;
    if (execNs === undefined) return; // the handler never ran
    this.#recentExecNs = this.#recentExecNs === undefined ? execNs : 0.8 * this.#recentExecNs + 0.2 * execNs;
    const endNs = nowNs();
    // The handler ran for execNs before its answer came: it started no later than latestStart,
    // whatever the two processes' schedulers made of the stamps around it.
    const latestStart = Math.max(call.startNs, endNs - execNs);
    const sentNs = Math.min(call.sentNs, latestStart);
    // The stub began this call when it finished the previous one, a little before main heard of
    // it: never place the start later than the handler's own duration allows.
    const startedNs = Math.max(sentNs, Math.min(previousAnswerNs, latestStart));
    const timing: CallTiming = {
      requests: call.requests,
      inputNs: sentNs - call.startNs,
      waitNs: startedNs - sentNs,
      inferNs: execNs,
      outputNs: Math.max(0, endNs - startedNs - execNs),
    };
    for (const r of call.requests) if (r.times) r.times.call = timing;
  }

  #onControl(m: FromStub): void {
    if (m.type === "log") return this.#o.log(m.level, m.message);
    if (m.type === "execution-provider") return this.#o.onExecutionProvider?.(m.provider);
    if (m.type === "pong") {
      this.#lastPong = Date.now();
      return;
    }
    if (m.type === "failed") {
      const err = ServerError.from(m.error);
      // After start-up a failure report means the stub cannot go on (e.g. it could not read a message).
      if (this.#state === "ready" || this.#state === "busy") return this.#broken(m.error.message);
      for (const w of this.#waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(err);
      }
      return;
    }
    const i = this.#waiters.findIndex((w) => w.type === m.type);
    if (i < 0) return;
    const [w] = this.#waiters.splice(i, 1);
    clearTimeout(w.timer);
    w.resolve(m);
  }

  #expect(type: FromStub["type"], timeoutMs = this.#o.stubTimeoutMs): Promise<FromStub> {
    if (this.#state === "dead") return Promise.reject(this.#deadError());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.timer !== timer);
        reject(new ServerError("INTERNAL", `stub '${this.name}' did not answer '${type}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push({ type, resolve, reject, timer });
    });
  }

  #send(m: ToStub): void {
    if (!this.#child?.connected) throw this.#deadError();
    this.#child.send(m);
  }

  #beat(): void {
    if (this.#state === "dead" || !this.#child?.connected) return;
    if (Date.now() - this.#lastPong > this.#o.stubTimeoutMs) {
      this.#o.log("ERROR", `stub '${this.name}' missed heartbeats for ${this.#o.stubTimeoutMs} ms: killing it`);
      this.#deathReason = "stopped answering heartbeats";
      this.kill();
      return;
    }
    this.#child.send({ type: "ping", seq: ++this.#pingSeq } satisfies ToStub);
  }

  /** The channel is unusable: the stub is declared broken and killed (then replaced by its model). */
  #broken(reason: string): void {
    this.#o.log("ERROR", `stub '${this.name}' is broken: ${reason}`);
    this.#deathReason ||= `broken: ${reason}`;
    this.kill();
    // Fail in-flight work now rather than when the exit arrives.
    this.#die(this.#deathReason);
  }

  #deadError(): ServerError {
    const detail = this.#stderrTail.length > 0 ? `: ${this.#stderrTail.slice(-5).join(" | ")}` : "";
    return new ServerError("INTERNAL", `Stub process '${this.name}' is not healthy (${this.#deathReason || "exited"})${detail}`);
  }

  #die(reason: string): void {
    if (this.#state === "dead") return;
    this.#deathReason ||= reason;
    this.#state = "dead";
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    unlinkOwnedSegment(this.#segmentName); // if the stub died before opening it
    this.#endpoint?.close();
    // The stub's extra segments that main had not opened yet are named after the control segment.
    if (this.#segmentName) unlinkSegmentsWithPrefix(`${this.#segmentName}-s`);
    // The doorbell's poll handle closes on the next loop turn; only then may its fd go.
    const fds = this.#doorbells;
    setImmediate(() => fds.forEach((fd) => fd >= 0 && closeFd(fd)));
    this.#doorbells = [-1, -1];
    const err = this.#deadError();
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    const failed = new ServerError("INTERNAL", `Failed to process the request(s) for model instance '${this.name}', message: ${err.message}`);
    for (const call of this.#inFlight.values()) {
      for (const stop of call.unwatch) stop();
      call.reject(failed);
    }
    this.#inFlight.clear();
    for (const [key, stream] of [...this.#streams]) {
      this.#endStream(key);
      stream.sink({ error: failed }, true);
    }
    this.#o.onDeath(this, this.#deathReason);
  }
}
