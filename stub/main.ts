/**
 * The stub: one OS process per model instance. It attaches to the control segment main created,
 * loads the handler module, and serves EXECUTE messages one at a time. It never outlives main:
 * the IPC channel closing (or the kernel's parent-death signal) ends it, after unlinking any
 * segment name it still owns; if user code keeps this thread busy, a watchdog thread kills it.
 */
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import { setParentDeathSignal, watchParent } from "../src/ipc/addon.js";
import { Endpoint } from "../src/ipc/endpoint.js";
import { readHeader } from "../src/ipc/layout.js";
import { PROTOCOL_VERSION, type FromStub, type ToStub } from "../src/ipc/protocol.js";
import { openAndUnlink, unlinkPendingSegments } from "../src/ipc/segments.js";
import { BlsClient } from "./bls.js";
import { ModelControlClient } from "./model-control.js";
import { Cancellations } from "./cancellation.js";
import { ExecuteQueue, errorInfo, type ExecuteContext } from "./executor.js";
import { autoCompleteFailed, importFailed, initializeFailed, messageUnreadable } from "./errors.js";
import { describeFailure, findModelClass } from "./handler.js";
import { KindTable, type MessageHandlers } from "./kind-table.js";
import { clientRegions } from "./client-regions.js";
import { SequenceStates } from "./sequence-state.js";
import { AutoCompleteConfig } from "./sdk/auto-complete.js";
import { setLogLevels, setLogSink } from "./sdk/logger.js";
import { flushMetrics, setMetricsSink, syncMetrics } from "./sdk/metrics.js";
import { checkReady } from "./readiness.js";
import { setProviderSink } from "./sdk/onnx.js";
import { setBlsTransport } from "./sdk/request.js";
import { setModelControlTransport } from "./sdk/model-control.js";
import type { TritonModel, TritonModelClass } from "./sdk/index.js";

type ControlHandlers = { [T in ToStub["type"]]: (m: Extract<ToStub, { type: T }>) => void | Promise<void> };

let endpoint: Endpoint | null = null;
let ModelClass: TritonModelClass | null = null;
let model: TritonModel | null = null;
let attach: Extract<ToStub, { type: "attach" }> | null = null;
let context: ExecuteContext | null = null;
const cancellations = new Cancellations();
const executions = new ExecuteQueue(cancellations, () => context!);
/** Shared-memory messages from main, by kind. */
const messages = new KindTable<MessageHandlers>("message kind");
executions.serve(messages);
clientRegions.serve(messages, (ref) => endpoint?.release(ref));
/** Control messages from main (Node's IPC channel), by type. */
const control = new KindTable<ControlHandlers>("control message");

function send(message: FromStub): void {
  if (process.connected) process.send!(message);
}

function exitNow(code: number): never {
  unlinkPendingSegments();
  process.exit(code);
}

// Main is gone: nobody will read our answers, so stop at once.
process.on("disconnect", () => exitNow(0));
process.on("SIGTERM", () => exitNow(0));
process.on("SIGINT", () => {
  // The terminal's Ctrl-C reaches the whole process group: main decides when we stop.
});
if (!setParentDeathSignal(15, process.ppid)) exitNow(0);

// The handlers above run on this thread, so a handler stuck in synchronous code never runs them:
// a native watchdog thread then kills the stub once main has been gone for a second. (Nothing is
// lost: while execute runs, the stub has no segment that main has not opened yet.)
watchParent(process.ppid, 250, 1000);

setLogSink((level, message) => send({ type: "log", level, message }));
setProviderSink((provider) => send({ type: "execution-provider", provider }));

process.on("message", (message: ToStub) => {
  handle(message).catch((err) => {
    send({ type: "failed", error: errorInfo(err) });
    exitNow(1);
  });
});

async function handle(m: ToStub): Promise<void> {
  await (control.handler(m.type) as (m: ToStub) => void | Promise<void>)(m);
}

control.register("attach", async (m) => {
  if (m.version !== PROTOCOL_VERSION) throw new Error(`protocol version mismatch: main ${m.version}, stub ${PROTOCOL_VERSION}`);
  attach = m;
  if (m.logLevels) setLogLevels(m.logLevels);
  setMetricsSink((flush) => send({ type: "metrics", ...flush }), m.metricValues);
  const segment = openAndUnlink(m.segment);
  endpoint = new Endpoint({
    segment,
    segmentName: m.segment,
    layout: readHeader(segment),
    side: 1,
    serverPid: m.serverPid,
    growthBytes: m.growthBytes,
    doorbells: { in: m.doorbells[0], out: m.doorbells[1] },
    // A kind with no handler throws: the endpoint breaks the channel (onBroken below).
    onMessage: (kind, body, ref) => (messages.handler(kind) as (body: unknown, ref: unknown) => void)(body, ref),
    // A message main sent that this stub cannot read: main must fail what is in flight and
    // replace this process, so say why and go.
    onBroken: (err) => {
      const failed: FromStub = { type: "failed", error: messageUnreadable(err) };
      if (!process.connected) exitNow(1);
      process.send!(failed, () => exitNow(1));
    },
  });
  const client = new BlsClient(endpoint);
  client.serve(messages);
  endpoint.start();
  setBlsTransport((call) => client.call(call));
  const modelControl = new ModelControlClient(endpoint);
  modelControl.serve(messages);
  setModelControlTransport((call) => modelControl.call(call));
  let module: Record<string, unknown>;
  try {
    module = await import(pathToFileURL(m.modulePath).href);
  } catch (err) {
    send({ type: "failed", error: importFailed(describeFailure(err, m.modulePath)), during: "import" });
    return exitNow(1);
  }
  ModelClass = findModelClass(module, m.modulePath);
  send({ type: "attached", version: PROTOCOL_VERSION, pid: process.pid });
});

control.register("autocomplete", async (m) => {
  const cls = ModelClass!;
  let config = m.config;
  if (typeof cls.autoCompleteConfig === "function") {
    try {
      const done = await cls.autoCompleteConfig(new AutoCompleteConfig(config));
      if (!(done instanceof AutoCompleteConfig)) throw new Error("autoCompleteConfig must return the AutoCompleteConfig it was given");
      config = done.asDict();
    } catch (err) {
      send({ type: "failed", error: autoCompleteFailed(describeFailure(err, attach!.modulePath)) });
      return exitNow(1);
    }
  }
  send({ type: "autocompleted", config });
});

control.register("initialize", async (m) => {
  try {
    model = new ModelClass!();
    if (typeof model.execute !== "function") throw new Error("the model class has no execute() method");
    await model.initialize?.(m.args);
    context = {
      model, endpoint: endpoint!, modelName: attach!.modelName, instanceName: attach!.instanceName, decoupled: isDecoupled(m.args.model_config), cancellations,
      // Frames of a failing execute are named relative to the repository: clients never see server paths.
      sourceRoot: dirname(m.args.model_repository),
      senderTimeoutMs: attach!.stubTimeoutMs,
      states: SequenceStates.fromConfig(m.args.model_config, m.args.model_repository),
      iterative: JSON.parse(m.args.model_config).sequence_batching?.iterative_sequence === true,
    };
  } catch (err) {
    send({ type: "failed", error: initializeFailed(describeFailure(err, attach!.modulePath)) });
    return exitNow(1);
  }
  send({ type: "initialized", hasIsReady: typeof model?.isReady === "function" });
});

control.register("ping", (m) => {
  if (m.metrics) syncMetrics(m.metrics.ack, m.metrics.values);
  send({ type: "pong", seq: m.seq });
});

control.register("log-settings", (m) => setLogLevels(m.levels));

control.register("ready-check", async (m) => send({ type: "ready-result", seq: m.seq, ...(await checkReady(model)) }));

control.register("cancel", (m) => cancellations.cancel(m.keys));

control.register("finalize", async () => {
  await executions.finish();
  let error;
  try {
    await model?.finalize?.();
  } catch (err) {
    error = errorInfo(err);
  }
  flushMetrics(); // what finalize() and the last calls counted
  endpoint?.close();
  send({ type: "finalized", error });
  // Let the channel flush the reply before the process goes.
  process.channel?.unref();
  setTimeout(() => exitNow(0), 50).unref();
});

function isDecoupled(modelConfig: string): boolean {
  try {
    return JSON.parse(modelConfig)?.model_transaction_policy?.decoupled === true;
  } catch {
    return false;
  }
}
