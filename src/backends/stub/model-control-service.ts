/**
 * Model control from handlers: a handler's loadModel / unloadModel / isModelReady (pb_utils'
 * load_model, unload_model, is_model_ready) arrives as MODEL_CONTROL and goes to the server's
 * repository API, so it follows the same rules as a client's: explicit mode only (Triton's text
 * otherwise), `config` and `file:` overrides with the same confinement, the same load errors.
 * The answer goes back as MODEL_CONTROL_RESULT. A handler may not load or unload its own model:
 * the call would wait on the very load or request it runs in.
 */
import { modelControlMalformed, modelControlSelf, toServerError, unloadDependentsUnsupported } from "../../errors/index.js";
import type { LoadOptions } from "../../core/types.js";
import type { MessageRef } from "../../ipc/endpoint.js";
import { KIND, type ModelControlBody, type ModelControlResultBody } from "../../ipc/protocol.js";
import type { StubChannel } from "./stub-channel.js";

/** The server's repository API, as handlers reach it. */
export interface ModelControl {
  load(model: string, options: LoadOptions): Promise<void>;
  unload(model: string): Promise<void>;
  isReady(model: string, version?: string): boolean;
}

export function serveModelControl(channel: StubChannel, control: ModelControl | undefined, self: string): void {
  channel.register(KIND.MODEL_CONTROL, (body, ref) => void serveCall(channel, control, self, body, ref));
}

async function serveCall(channel: StubChannel, control: ModelControl | undefined, self: string, body: ModelControlBody, ref: MessageRef): Promise<void> {
  const endpoint = channel.endpoint;
  let answer: ModelControlResultBody;
  try {
    // The file bytes are copied out at once: the message goes back to the stub before the load runs.
    let files: NonNullable<LoadOptions["files"]>;
    try {
      files = (body.files ?? []).map((f) => ({ key: f.key, data: endpoint.view(f.loc).slice() }));
    } finally {
      endpoint.release(ref);
    }
    if (!control) throw modelControlMalformed("this server serves no model control");
    if (typeof body.model !== "string") throw modelControlMalformed("model name must be a string");
    if (body.op === "ready") {
      answer = { ctl: body.ctl, ready: control.isReady(body.model, body.version || undefined) };
    } else if (body.op === "load") {
      if (body.model === self) throw modelControlSelf(self, "load");
      await control.load(body.model, { config: body.config, files });
      answer = { ctl: body.ctl };
    } else if (body.op === "unload") {
      if (body.model === self) throw modelControlSelf(self, "unload");
      if (body.unloadDependents) throw unloadDependentsUnsupported();
      await control.unload(body.model);
      answer = { ctl: body.ctl };
    } else {
      throw modelControlMalformed(`unknown operation '${String(body.op)}'`);
    }
  } catch (err) {
    answer = { ctl: body.ctl, error: toServerError(err).toJSON() };
  }
  if (!channel.closed) endpoint.send(KIND.MODEL_CONTROL_RESULT, answer, []);
}
