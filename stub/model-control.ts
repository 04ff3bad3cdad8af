/**
 * The stub's side of model control from handlers (sdk/model-control.ts): each call goes to main as
 * MODEL_CONTROL (file contents copied into this stub's arena, read there by main), and its
 * MODEL_CONTROL_RESULT settles the handler's promise. Main's side is
 * src/backends/stub/model-control-service.ts.
 */
import type { Block, Endpoint, MessageRef } from "../src/ipc/endpoint.js";
import { KIND, type ModelControlBody, type ModelControlResultBody } from "../src/ipc/protocol.js";
import { TritonError } from "./sdk/errors.js";
import type { ModelControlCall } from "./sdk/model-control.js";
import type { MessageTable } from "./kind-table.js";

export class ModelControlClient {
  readonly #endpoint: Endpoint;
  #next = 1;
  readonly #calls = new Map<number, { resolve(r: { ready?: boolean }): void; reject(e: TritonError): void }>();

  constructor(endpoint: Endpoint) {
    this.#endpoint = endpoint;
  }

  call(call: ModelControlCall): Promise<{ ready?: boolean }> {
    const ctl = this.#next++;
    const blocks: Block[] = [];
    return new Promise((resolve, reject) => {
      try {
        const body: ModelControlBody = { ctl, op: call.op, model: call.model };
        if (call.op === "ready") body.version = call.version;
        if (call.op === "unload") body.unloadDependents = call.unloadDependents;
        if (call.op === "load") {
          if (call.config !== undefined) body.config = call.config;
          body.files = call.files.map((f) => {
            const block = this.#endpoint.alloc(f.data.byteLength);
            block.bytes.set(f.data);
            blocks.push(block);
            return { key: f.key, loc: [block.arena, block.offset, block.bytes.byteLength] };
          });
        }
        this.#calls.set(ctl, { resolve, reject });
        this.#endpoint.send(KIND.MODEL_CONTROL, body, blocks);
      } catch (err) {
        this.#endpoint.freeBlocks(blocks);
        this.#calls.delete(ctl);
        reject(new TritonError((err as Error).message, TritonError.INTERNAL));
      }
    });
  }

  /** Takes main's MODEL_CONTROL_RESULT messages. */
  serve(table: MessageTable): void {
    table.register(KIND.MODEL_CONTROL_RESULT, (body, ref) => this.#onResult(body, ref));
  }

  #onResult(body: ModelControlResultBody, ref: MessageRef): void {
    this.#endpoint.release(ref);
    const call = this.#calls.get(body.ctl);
    this.#calls.delete(body.ctl);
    if (!call) return;
    if (body.error) call.reject(new TritonError(body.error.message, body.error.code));
    else call.resolve({ ready: body.ready });
  }
}
