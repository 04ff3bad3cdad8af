/**
 * One stub instance as the scheduler sees it (ModelInstance): a StubProcess (spawn, control RPC,
 * heartbeats, death) and a StubChannel (calls and streams over shared memory) with the services
 * registered on it (BLS serving, call timing). Lifecycle: starting → ready ⇄ busy → dead. Death
 * (exit, missed heartbeats, a broken channel, or kill) fails every in-flight request, once, with
 * an error that names the instance.
 */
import { instanceNotReady, instanceRequestsFailed, type ServerError } from "../../errors/index.js";
import type { ResponseStream } from "../../core/response-stream.js";
import type { CoreRequest } from "../../core/types.js";
import { Endpoint } from "../../ipc/endpoint.js";
import type { ModelArgs } from "../../ipc/protocol.js";
import type { InstanceResult, InstanceState, ModelInstance } from "../backend.js";
import { serveBls } from "./bls-service.js";
import { serveModelControl, type ModelControl } from "./model-control-service.js";
import { CallTimer } from "./call-timing.js";
import { forwardCancellation } from "./cancel-forwarding.js";
import { StubChannel } from "./stub-channel.js";
import { StubProcess, type StubProcessOptions } from "./stub-process.js";

export { STUB_MAIN } from "./stub-process.js";

export interface StubOptions extends Omit<StubProcessOptions, "onDeath"> {
  /** Runs a handler's BLS request through the server, as a client's (any model, streamed). */
  bls?(request: CoreRequest): ResponseStream;
  /** A handler's loadModel / unloadModel / isModelReady: the server's repository API. */
  modelControl?: ModelControl;
  /** Called once when the process is gone, whatever the cause. */
  onDeath(instance: StubInstance, reason: string): void;
}

export class StubInstance implements ModelInstance {
  readonly name: string;
  readonly #o: StubOptions;
  readonly #process: StubProcess;
  readonly #timer = new CallTimer();
  #channel: StubChannel | null = null;

  constructor(options: StubOptions) {
    this.#o = options;
    this.name = options.instanceName;
    this.#process = new StubProcess({ ...options, onDeath: (reason, err) => this.#died(reason, err) });
  }

  get state(): InstanceState {
    if (this.#process.dead) return "dead";
    if (!this.#process.serving) return "starting";
    return this.pending > 0 ? "busy" : "ready";
  }

  get pending(): number {
    return this.#channel?.pending ?? 0;
  }

  get recentExecNs(): number | undefined {
    return this.#timer.recentExecNs;
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  /** The handler's isReady() at the last check (true without one). */
  get handlerReady(): boolean {
    return this.#process.readiness.last.ready;
  }

  /** Asks the handler's isReady() now (python_backend's rules: one in flight, five seconds). */
  checkReady(): Promise<boolean> {
    return this.#process.readiness.check().then((a) => {
      if (a.error) this.#o.log("WARNING", `'${this.name}' is not ready (user-defined check failed): ${a.error}`);
      return a.ready;
    });
  }

  /** Spawns the process and loads the handler. Resolves with the auto-completed config when asked. */
  async start(autoCompleteConfig?: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
    const segment = this.#process.open();
    const channel = new StubChannel({
      name: this.name,
      connect: (handlers) => new Endpoint({ ...segment, ...handlers }),
      watchCancel: (request, key) => forwardCancellation(request, key, (keys) => this.#process.notify({ type: "cancel", keys })),
      onBroken: (reason) => this.#process.break(reason),
    });
    serveBls(channel, this.#o.bls);
    serveModelControl(channel, this.#o.modelControl, this.#o.modelName);
    this.#timer.observe(channel);
    this.#channel = channel;
    this.#process.spawn();
    try {
      await this.#process.attach();
      channel.start();
      return autoCompleteConfig ? await this.#process.autocomplete(autoCompleteConfig) : undefined;
    } catch (err) {
      this.kill();
      throw err;
    }
  }

  /** Runs the handler's initialize(args); the instance is ready after. */
  async initialize(args: ModelArgs): Promise<void> {
    try {
      await this.#process.initialize(args);
    } catch (err) {
      this.kill();
      throw err;
    }
  }

  execute(requests: CoreRequest[]): Promise<InstanceResult[]> {
    const state = this.state;
    if (state !== "ready" && state !== "busy") {
      return Promise.reject(instanceNotReady(this.name));
    }
    return this.#channel!.execute(requests);
  }

  /**
   * Lets open decoupled requests finish (for a while), then asks the handler to finalize and the
   * process to exit; kills it if it does not in time.
   */
  async stop(timeoutMs = 5000, streamsWaitMs = Math.max(this.#o.stubTimeoutMs, 30_000)): Promise<void> {
    if (this.state === "dead") return;
    const channel = this.#channel;
    if (channel && channel.openStreams > 0 && streamsWaitMs > 0) {
      await channel.streamsClosed(streamsWaitMs);
      const open = channel.openStreams;
      if (open > 0) this.#o.log("WARNING", `'${this.name}' stops with ${open} decoupled request(s) still open after ${streamsWaitMs} ms`);
    }
    if ((this.state as InstanceState) === "dead") return; // died while we waited
    await this.#process.finalize(timeoutMs);
  }

  kill(): void {
    this.#process.kill();
  }

  #died(reason: string, err: ServerError): void {
    this.#channel?.close(instanceRequestsFailed(this.name, err));
    this.#o.onDeath(this, reason);
  }
}
