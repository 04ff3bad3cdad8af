/**
 * Issue 21's SDK pieces: Logger's pb_utils level constants and log(message, level); the
 * senders' isCancelled(); CollectingSender's sent response, Triton's check order, close(); and
 * streamExec()'s iterator outside a stub (cancel() exists and does nothing).
 */
import { describe, expect, it } from "vitest";
import { CollectingSender } from "../../../stub/response-sender.js";
import { TritonError } from "../../../stub/sdk/errors.js";
import { Logger, setLogSink } from "../../../stub/sdk/logger.js";
import { InferenceRequest, InferenceResponse, TRITONSERVER_RESPONSE_COMPLETE_FINAL as FINAL } from "../../../stub/sdk/request.js";
import { Tensor } from "../../../stub/sdk/tensor.js";

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof TritonError ? e.message() : String(e);
  }
  throw new Error("expected a throw");
}

describe("Logger", () => {
  it("has pb_utils' level constants, and log() sends each at its level (INFO by default)", () => {
    const lines: [string, string][] = [];
    setLogSink((level, m) => lines.push([level, m]));
    try {
      expect([Logger.INFO, Logger.WARNING, Logger.ERROR, Logger.VERBOSE]).toEqual(["INFO", "WARNING", "ERROR", "VERBOSE"]);
      Logger.log("a", Logger.WARNING);
      Logger.log("b", Logger.ERROR);
      Logger.log("c", Logger.VERBOSE);
      Logger.log("d");
      expect(lines).toEqual([["WARNING", "a"], ["ERROR", "b"], ["VERBOSE", "c"], ["INFO", "d"]]);
      expect(() => Logger.log("e", "LOUD" as never)).toThrow(TypeError);
      expect(lines).toHaveLength(4);
    } finally {
      setLogSink((level, m) => process.stderr.write(`${level} ${m}\n`));
    }
  });
});

describe("CollectingSender", () => {
  it("answers isCancelled() from the request's cancellation", () => {
    let cancelled = false;
    const sender = new CollectingSender(() => cancelled);
    expect(sender.isCancelled()).toBe(false);
    cancelled = true;
    expect(sender.isCancelled()).toBe(true);
    expect(new CollectingSender().isCancelled()).toBe(false);
  });

  it("keeps the first response as sent, final flag or not", () => {
    const sender = new CollectingSender();
    expect(sender.sent).toBeNull();
    const first = new InferenceResponse();
    sender.send(first);
    expect(sender.sent).toBe(first);
    expect(message(() => sender.send(new InferenceResponse(), FINAL)))
      .toBe("Unable to send response. Non-decoupled model cannot send more than one response.");
    expect(sender.sent).toBe(first);
  });

  it("is closed once the call is over", () => {
    const sender = new CollectingSender();
    sender.close();
    expect(message(() => sender.send(new InferenceResponse(), FINAL))).toBe("Unable to send response. Response sender has been closed.");
  });
});

describe("streamExec() outside a stub", () => {
  it("returns an iterator with cancel(), which rejects at the first next() with UNSUPPORTED", async () => {
    const it = new InferenceRequest({ modelName: "m", inputs: [new Tensor("X", Int32Array.of(1), [1])] }).streamExec();
    expect(typeof it.cancel).toBe("function");
    it.cancel();
    const err = await it.next().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(TritonError);
    expect((err as TritonError).code()).toBe("UNSUPPORTED");
  });
});
