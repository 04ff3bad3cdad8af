/**
 * One stub OS process, seen from main, as python_backend's StubLauncher keeps it apart from
 * request handling: the control segment and doorbells it is handed, spawn, its stdout/stderr into
 * the log, the control RPC over Node's IPC channel (attach, autocomplete, initialize, finalize),
 * heartbeats, kill, and noticing its death (exit, spawn failure, missed heartbeats, or given up
 * as broken) exactly once, after which its segments are unlinked. It knows nothing of requests.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ServerError, handlerImportFailed, stubNoAnswer, stubUnhealthy } from "../../errors/index.js";
import { PACKAGE_ROOT, closeFd, createEventFd } from "../../ipc/addon.js";
import type { EndpointOptions } from "../../ipc/endpoint.js";
import { controlLayout, writeHeader } from "../../ipc/layout.js";
import {
  PROTOCOL_VERSION, type FromStub, type LogLevel, type MetricSeriesKey, type ModelArgs, type StubLogLevels, type ToStub,
} from "../../ipc/protocol.js";
import { customMetrics } from "../../metrics/custom.js";
import { logSettings, onLogSettings, type LogSettings } from "../../logging.js";
import { StubReadiness } from "./stub-readiness.js";
import { createOwnedSegment, forgetSegment, unlinkOwnedSegment, unlinkSegmentsWithPrefix } from "../../ipc/segments.js";

export const STUB_MAIN = join(PACKAGE_ROOT, "dist", "stub", "main.js");
/**
 * Extra node flags for every stub, for diagnosis (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`,
 * which Node refuses in NODE_OPTIONS): TESSERA_STUB_NODE_FLAGS, split on spaces.
 */
const STUB_NODE_FLAGS = (process.env.TESSERA_STUB_NODE_FLAGS ?? "").split(" ").filter(Boolean);
/** Where the stub finds its doorbells: spawn's stdio slots after stdin, stdout, stderr, ipc. */
const STUB_DOORBELL_FDS: [number, number] = [4, 5];

export interface StubProcessOptions {
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
  /** Once, when the process is gone or given up, whatever the cause; `error` says so, naming it. */
  onDeath(reason: string, error: ServerError): void;
  /** Whose custom metrics these are (the model version): its series outlive this process. */
  metricsOwner?: object;
}

/** Main's side of the control segment: what its endpoint is built on (all but the handlers). */
export type ControlSegment = Omit<EndpointOptions, "onMessage" | "onBroken">;

/** The levels a stub filters its handler's Logger lines by. */
const stubLogLevels = (s: LogSettings): StubLogLevels => ({ info: s.info, warning: s.warning, error: s.error, verbose: s.verbose });

type Waiter = { type: FromStub["type"]; resolve(m: FromStub): void; reject(e: Error): void; timer: NodeJS.Timeout };
type ControlHandlers = { [T in FromStub["type"]]: (m: Extract<FromStub, { type: T }>) => void };

export class StubProcess {
  readonly #o: StubProcessOptions;
  #child: ChildProcess | null = null;
  #segmentName = "";
  /** Main's ends of the doorbells: [rung by main (the stub listens), rung by the stub]. */
  #doorbells: [number, number] = [-1, -1];
  #waiters: Waiter[] = [];
  #heartbeat: NodeJS.Timeout | null = null;
  #lastPong = 0;
  #pingSeq = 0;
  #stderrTail: string[] = [];
  #deathReason = "";
  #serving = false;
  #dead = false;
  /** Custom metrics: the last flush applied, and the series this stub reported. */
  #metricsAck = 0;
  readonly #metricKeys = new Map<string, MetricSeriesKey>();
  #unsubscribeLog: (() => void) | null = null;
  /** The handler's isReady(), asked over the control channel (python_backend's is_ready). */
  readonly readiness = new StubReadiness((seq) => this.notify({ type: "ready-check", seq }), () => this.#dead);
  /** Every control message the stub sends, by type: the replies settle what waits for them. */
  readonly #control: ControlHandlers = {
    log: (m) => this.#o.log(m.level, m.message),
    "execution-provider": (m) => this.#o.onExecutionProvider?.(m.provider),
    pong: () => {
      this.#lastPong = Date.now();
    },
    failed: (m) => this.#onFailed(m),
    metrics: (m) => {
      const owner = this.#o.metricsOwner ?? this;
      for (const k of customMetrics.apply(owner, m.families ?? [], m.updates ?? [])) this.#metricKeys.set(`${k.family}\u0000${k.labels}`, k);
      this.#metricsAck = m.seq;
    },
    "ready-result": (m) => this.readiness.answer(m.seq, m.ready, m.error),
    attached: (m) => this.#reply(m),
    autocompleted: (m) => this.#reply(m),
    initialized: (m) => {
      this.readiness.hasCheck = m.hasIsReady === true;
      this.#reply(m);
    },
    finalized: (m) => this.#reply(m),
  };

  constructor(options: StubProcessOptions) {
    this.#o = options;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Initialized, heartbeats running. */
  get serving(): boolean {
    return this.#serving;
  }

  get dead(): boolean {
    return this.#dead;
  }

  /** Creates the control segment and the doorbells (before spawn(), so the channel can be built). */
  open(): ControlSegment {
    const o = this.#o;
    const layout = controlLayout(o.queueCapacity, o.arenaBytes);
    const { name, buffer } = createOwnedSegment(o.serverPid, layout.totalSize);
    this.#segmentName = name;
    writeHeader(buffer, layout);
    this.#doorbells = [createEventFd(), createEventFd()];
    return {
      segment: buffer, segmentName: name, layout, side: 0, serverPid: o.serverPid, growthBytes: o.growthBytes,
      doorbells: { in: this.#doorbells[1], out: this.#doorbells[0] },
    };
  }

  spawn(): void {
    const o = this.#o;
    const child = spawn(process.execPath, ["--enable-source-maps", ...STUB_NODE_FLAGS, STUB_MAIN], {
      stdio: ["ignore", "pipe", "pipe", "ipc", this.#doorbells[0], this.#doorbells[1]],
      env: { ...process.env, TESSERA_INSTANCE: o.instanceName },
    });
    this.#child = child;
    child.on("message", (m: FromStub) => this.#onControl(m));
    // The logging extension's changes reach the running stub.
    this.#unsubscribeLog = onLogSettings((settings) => this.notify({ type: "log-settings", levels: stubLogLevels(settings) }));
    child.on("exit", (code, signal) => this.#die(signal ? `killed by ${signal}` : `exited with code ${code}`));
    // 'error' also reports a failed write to a child that is dying: only a spawn failure (no pid)
    // is a death of its own; otherwise 'exit' follows with the real cause.
    child.on("error", (err) => {
      if (child.pid === undefined) this.#die(`failed to start: ${err.message}`);
      else o.log("WARNING", `stub '${o.instanceName}': ${err.message}`);
    });
    // Handlers that print to stdout/stderr: whole lines into the server log.
    createInterface({ input: child.stdout! }).on("line", (l) => o.log("INFO", l));
    createInterface({ input: child.stderr! }).on("line", (l) => {
      this.#stderrTail.push(l);
      if (this.#stderrTail.length > 20) this.#stderrTail.shift();
      o.log("ERROR", l);
    });
  }

  /** The stub opens (and unlinks) the control segment and loads the handler module. */
  async attach(): Promise<void> {
    const o = this.#o;
    await this.#call({ type: "attach", version: PROTOCOL_VERSION, segment: this.#segmentName, serverPid: o.serverPid, growthBytes: o.growthBytes,
      doorbells: STUB_DOORBELL_FDS,
      modulePath: o.modulePath, modelName: o.modelName, modelVersion: o.modelVersion, instanceName: o.instanceName,
      heartbeatMs: o.heartbeatMs, stubTimeoutMs: o.stubTimeoutMs,
      logLevels: stubLogLevels(logSettings()), metricValues: customMetrics.valuesOf(o.metricsOwner ?? this) }, "attached");
    forgetSegment(this.#segmentName); // the stub opened and unlinked it
  }

  async autocomplete(config: Record<string, unknown>): Promise<Record<string, unknown>> {
    return (await this.#call({ type: "autocomplete", config }, "autocompleted") as { config: Record<string, unknown> }).config;
  }

  /** Runs the handler's initialize(args), then starts the heartbeats. */
  async initialize(args: ModelArgs): Promise<void> {
    await this.#call({ type: "initialize", args }, "initialized", Math.max(this.#o.stubTimeoutMs, 60_000));
    this.#serving = true;
    this.#lastPong = Date.now();
    this.#heartbeat = setInterval(() => this.#beat(), this.#o.heartbeatMs);
    this.#heartbeat.unref();
  }

  /** Asks the handler to finalize and the process to exit; kills it if it does not in time. */
  async finalize(timeoutMs: number): Promise<void> {
    const exited = new Promise<void>((r) => this.#child?.once("exit", () => r()));
    try {
      const m = await this.#call({ type: "finalize" }, "finalized", timeoutMs) as Extract<FromStub, { type: "finalized" }>;
      if (m.error) this.#o.log("ERROR", `finalize failed: ${m.error.message}`);
    } catch {
      // already dead, or finalize hung: kill below
    }
    const timer = setTimeout(() => this.kill(), 1000);
    await exited;
    clearTimeout(timer);
  }

  /** Sends a control message if the process can still hear it (cancellations: best effort). */
  notify(m: ToStub): void {
    if (this.#child?.connected) this.#child.send(m);
  }

  kill(): void {
    if (this.#child && this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill("SIGKILL");
  }

  /** The stub cannot go on (its channel broke, or it said so): it is killed and declared dead now. */
  break(reason: string): void {
    this.#o.log("ERROR", `stub '${this.#o.instanceName}' is broken: ${reason}`);
    this.#deathReason ||= `broken: ${reason}`;
    this.kill();
    // Fail in-flight work now rather than when the exit arrives.
    this.#die(this.#deathReason);
  }

  async #call(m: ToStub, reply: FromStub["type"], timeoutMs = this.#o.stubTimeoutMs): Promise<FromStub> {
    this.#send(m);
    return this.#expect(reply, timeoutMs);
  }

  #onControl(m: FromStub): void {
    if (!Object.hasOwn(this.#control, m.type)) {
      if (!this.#dead) this.break(`protocol error: unknown control message '${String(m.type)}'`);
      return;
    }
    (this.#control[m.type] as (m: FromStub) => void)(m);
  }

  #onFailed(m: Extract<FromStub, { type: "failed" }>): void {
    const wire = ServerError.from(m.error);
    // A handler that failed to import: the stub sent the detail alone; main names the module it asked for.
    const err = m.during === "import" ? handlerImportFailed(this.#o.modulePath, wire.message, wire.code) : wire;
    // After start-up a failure report means the stub cannot go on (e.g. it could not read a message).
    if (this.#serving && !this.#dead) return this.break(m.error.message);
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  #reply(m: FromStub): void {
    const i = this.#waiters.findIndex((w) => w.type === m.type);
    if (i < 0) return;
    const [w] = this.#waiters.splice(i, 1);
    clearTimeout(w.timer);
    w.resolve(m);
  }

  #expect(type: FromStub["type"], timeoutMs: number): Promise<FromStub> {
    if (this.#dead) return Promise.reject(this.#deadError());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.timer !== timer);
        reject(stubNoAnswer(this.#o.instanceName, type, timeoutMs));
      }, timeoutMs);
      this.#waiters.push({ type, resolve, reject, timer });
    });
  }

  #send(m: ToStub): void {
    if (!this.#child?.connected) throw this.#deadError();
    this.#child.send(m);
  }

  #beat(): void {
    if (this.#dead || !this.#child?.connected) return;
    if (Date.now() - this.#lastPong > this.#o.stubTimeoutMs) {
      this.#o.log("ERROR", `stub '${this.#o.instanceName}' missed heartbeats for ${this.#o.stubTimeoutMs} ms: killing it`);
      this.#deathReason = "stopped answering heartbeats";
      this.kill();
      return;
    }
    // Custom metrics: main's totals of this stub's series ride on the heartbeat (its value()).
    const metrics = this.#metricKeys.size > 0 ? { ack: this.#metricsAck, values: customMetrics.values(this.#metricKeys.values()) } : undefined;
    this.#child.send({ type: "ping", seq: ++this.#pingSeq, ...(metrics ? { metrics } : {}) } satisfies ToStub);
  }

  #deadError(): ServerError {
    return stubUnhealthy(this.#o.instanceName, this.#deathReason || "exited", this.#stderrTail.slice(-5));
  }

  #die(reason: string): void {
    if (this.#dead) return;
    this.#deathReason ||= reason;
    this.#dead = true;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#unsubscribeLog?.();
    this.readiness.fail("Stub process is not healthy while waiting for is_ready()");
    unlinkOwnedSegment(this.#segmentName); // if the stub died before opening it
    // The stub's extra segments that main had not opened yet are named after the control segment.
    if (this.#segmentName) unlinkSegmentsWithPrefix(`${this.#segmentName}-s`);
    // The doorbell's poll handle closes (onDeath closes the channel) on the next loop turn; only
    // then may its fd go.
    const fds = this.#doorbells;
    setImmediate(() => fds.forEach((fd) => fd >= 0 && closeFd(fd)));
    this.#doorbells = [-1, -1];
    const err = this.#deadError();
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.#o.onDeath(this.#deathReason, err);
  }
}
