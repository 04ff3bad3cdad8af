import { afterEach, describe, expect, it } from "vitest";
import { TritonError } from "../../../stub/sdk/errors.js";
import { isModelReady, loadModel, setModelControlTransport, unloadModel, type ModelControlCall } from "../../../stub/sdk/model-control.js";

const rejection = async (p: Promise<unknown>): Promise<TritonError> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof TritonError) return e;
    throw e;
  }
  throw new Error("expected a rejection");
};

describe("the SDK's model loading API (pb_utils' load_model, unload_model, is_model_ready)", () => {
  afterEach(() => setModelControlTransport(null));

  it("rejects with UNSUPPORTED outside a served model", async () => {
    expect((await rejection(loadModel("m"))).code()).toBe("UNSUPPORTED");
    expect((await rejection(isModelReady("m"))).code()).toBe("UNSUPPORTED");
  });

  it("sends what pb_utils sends: the name, config, file: contents as bytes, the version as a string", async () => {
    const sent: ModelControlCall[] = [];
    setModelControlTransport(async (call) => {
      sent.push(call);
      return call.op === "ready" ? { ready: true } : {};
    });
    await loadModel("m", { config: "{}", files: { "file:1/model.ts": "export {}", "file:1/w.bin": Uint8Array.of(1, 2) } });
    await unloadModel("m", { unloadDependents: true });
    expect(await isModelReady("m", 2)).toBe(true);
    expect(sent).toEqual([
      { op: "load", model: "m", config: "{}", files: [{ key: "file:1/model.ts", data: new TextEncoder().encode("export {}") }, { key: "file:1/w.bin", data: Uint8Array.of(1, 2) }] },
      { op: "unload", model: "m", unloadDependents: true },
      { op: "ready", model: "m", version: "2" },
    ]);
  });

  it("refuses bad arguments before sending anything, with INVALID_ARG", async () => {
    setModelControlTransport(async () => {
      throw new Error("must not be sent");
    });
    for (const p of [
      loadModel(""), loadModel("m", { files: { "1/model.ts": "x" } }), loadModel("m", { files: { "file:x": 1 as never } }),
      loadModel("m", { config: {} as never }), unloadModel(undefined as never),
    ]) expect((await rejection(p)).code()).toBe("INVALID_ARG");
  });
});
