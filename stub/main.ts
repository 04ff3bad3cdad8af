/**
 * The stub: one OS process per model instance. It attaches to the control segment main created,
 * loads the handler module, and serves EXECUTE messages one at a time. It never outlives main:
 * the IPC channel closing (or the kernel's parent-death signal) ends it, after unlinking any
 * segment name it still owns; if user code keeps this thread busy, a watchdog thread kills it.
 */
import { pathToFileURL } from "node:url";
import { setParentDeathSignal, watchParent } from "../src/ipc/addon.js";
import { Endpoint, type MessageRef } from "../src/ipc/endpoint.js";
import { readHeader } from "../src/ipc/layout.js";
import {
  KIND, PROTOCOL_VERSION, type BlsResponseBody, type ExecuteBody, type FromStub, type ToStub,
} from "../src/ipc/protocol.js";
import { openAndUnlink, unlinkPendingSegments } from "../src/ipc/segments.js";
import { BlsClient } from "./bls.js";
import { Cancellations } from "./cancellation.js";
import { errorInfo, runExecute, type ExecuteContext } from "./executor.js";
import { describeFailure, findModelClass } from "./handler.js";
import { AutoCompleteConfig } from "./sdk/auto-complete.js";
import { setLogSink } from "./sdk/logger.js";
import { setProviderSink } from "./sdk/onnx.js";
import { setBlsTransport } from "./sdk/request.js";
import type { TritonModel, TritonModelClass } from "./sdk/index.js";

let endpoint: Endpoint | null = null;
let ModelClass: TritonModelClass | null = null;
let model: TritonModel | null = null;
let attach: Extract<ToStub, { type: "attach" }> | null = null;
let context: ExecuteContext | null = null;
let bls: BlsClient | null = null;
const cancellations = new Cancellations();
const executions: [ExecuteBody, MessageRef][] = [];
let executing = false;
let finalizing = false;

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
  switch (m.type) {
    case "attach": {
      if (m.version !== PROTOCOL_VERSION) throw new Error(`protocol version mismatch: main ${m.version}, stub ${PROTOCOL_VERSION}`);
      attach = m;
      const segment = openAndUnlink(m.segment);
      endpoint = new Endpoint({
        segment,
        segmentName: m.segment,
        layout: readHeader(segment),
        side: 1,
        serverPid: m.serverPid,
        growthBytes: m.growthBytes,
        doorbells: { in: m.doorbells[0], out: m.doorbells[1] },
        onMessage: onShmMessage,
        // A message main sent that this stub cannot read: main must fail what is in flight and
        // replace this process, so say why and go.
        onBroken: (err) => {
          const failed: FromStub = { type: "failed", error: { code: "INTERNAL", message: `the stub could not read its message: ${err.message}` } };
          if (!process.connected) exitNow(1);
          process.send!(failed, () => exitNow(1));
        },
      });
      endpoint.start();
      const client = new BlsClient(endpoint);
      bls = client;
      setBlsTransport((call) => client.call(call));
      let module: Record<string, unknown>;
      try {
        module = await import(pathToFileURL(m.modulePath).href);
      } catch (err) {
        throw new Error(`failed to load '${m.modulePath}': ${describeFailure(err, m.modulePath)}`);
      }
      ModelClass = findModelClass(module, m.modulePath);
      send({ type: "attached", version: PROTOCOL_VERSION, pid: process.pid });
      return;
    }
    case "autocomplete": {
      const cls = ModelClass!;
      let config = m.config;
      if (typeof cls.autoCompleteConfig === "function") {
        try {
          const done = await cls.autoCompleteConfig(new AutoCompleteConfig(config));
          if (!(done instanceof AutoCompleteConfig)) throw new Error("autoCompleteConfig must return the AutoCompleteConfig it was given");
          config = done.asDict();
        } catch (err) {
          send({ type: "failed", error: { code: "INVALID_ARG", message: `autoCompleteConfig failed: ${describeFailure(err, attach!.modulePath)}` } });
          return exitNow(1);
        }
      }
      send({ type: "autocompleted", config });
      return;
    }
    case "initialize": {
      try {
        model = new ModelClass!();
        if (typeof model.execute !== "function") throw new Error("the model class has no execute() method");
        await model.initialize?.(m.args);
        context = {
          model, endpoint: endpoint!, modelName: attach!.modelName, decoupled: isDecoupled(m.args.model_config), cancellations,
          senderTimeoutMs: attach!.stubTimeoutMs,
        };
      } catch (err) {
        send({ type: "failed", error: { code: "INTERNAL", message: `initialize failed: ${describeFailure(err, attach!.modulePath)}` } });
        return exitNow(1);
      }
      send({ type: "initialized" });
      return;
    }
    case "ping":
      send({ type: "pong", seq: m.seq });
      return;
    case "cancel":
      cancellations.cancel(m.keys);
      return;
    case "finalize": {
      finalizing = true;
      while (executing) await new Promise((r) => setTimeout(r, 5));
      let error;
      try {
        await model?.finalize?.();
      } catch (err) {
        error = errorInfo(err);
      }
      endpoint?.close();
      send({ type: "finalized", error });
      // Let the channel flush the reply before the process goes.
      process.channel?.unref();
      setTimeout(() => exitNow(0), 50).unref();
      return;
    }
  }
}

function onShmMessage(kind: number, body: unknown, ref: MessageRef): void {
  if (kind === KIND.BLS_RESPONSE && bls) return bls.onResponse(body as BlsResponseBody, ref);
  if (kind !== KIND.EXECUTE) {
    endpoint!.release(ref);
    return;
  }
  const execute = body as ExecuteBody;
  // From now on a cancellation of these requests counts, also while the call waits its turn.
  for (const r of execute.requests) cancellations.begin(r.key);
  executions.push([execute, ref]);
  if (!executing) void drainExecutions();
}

function isDecoupled(modelConfig: string): boolean {
  try {
    return JSON.parse(modelConfig)?.model_transaction_policy?.decoupled === true;
  } catch {
    return false;
  }
}

async function drainExecutions(): Promise<void> {
  executing = true;
  while (executions.length > 0 && !finalizing) {
    const [body, ref] = executions.shift()!;
    const { reply, blocks, inputsDone } = await runExecute(body, context!);
    // Inputs are dead once execute returned (a decoupled call's: once its senders closed):
    // release them first so main can reuse the memory by the time it reads the response.
    if (inputsDone) void inputsDone.then(() => endpoint?.release(ref));
    else endpoint!.release(ref);
    endpoint!.send(KIND.RESPONSE, reply, blocks);
  }
  executing = false;
}
