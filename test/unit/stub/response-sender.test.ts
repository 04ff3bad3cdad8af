/**
 * Response senders (stub/response-sender.ts). CollectingSender: a non-decoupled model's one
 * response then the final flag, with the Python backend's error texts for every misuse.
 * StreamingSender: each send() posts KIND.STREAM {key, response?, final} at once; onClosed runs
 * once at the final flag; fail() ends an open request with an error; an encode that throws frees
 * its blocks and leaves the sender open. Errors are TritonError values (message() is a method).
 */
import { describe, expect, it, vi } from "vitest";
import type { Block, Endpoint } from "../../../src/ipc/endpoint.js";
import { KIND, type WireResponse } from "../../../src/ipc/protocol.js";
import { CollectingSender, StreamingSender, type EncodeResponse } from "../../../stub/response-sender.js";
import { TritonError } from "../../../stub/sdk/errors.js";
import { InferenceResponse, TRITONSERVER_RESPONSE_COMPLETE_FINAL as FINAL } from "../../../stub/sdk/request.js";
import { thrown } from "../thrown.js";


const CLOSED = "Unable to send response. Response sender has been closed.";
const BAD_FLAG = "Unable to send response. Unsupported flag provided.";
const NO_RESPONSE = "Inference Response object must be provided when the response flags is set to zero.";

describe("CollectingSender", () => {
  it("resolves `done` with the one response once the final flag is sent", async () => {
    const sender = new CollectingSender();
    const response = new InferenceResponse();
    let resolved = false;
    void sender.done.then(() => (resolved = true));
    sender.send(response);
    await Promise.resolve();
    expect(resolved).toBe(false);
    sender.send(null, FINAL);
    await expect(sender.done).resolves.toBe(response);
  });

  it("takes the response and the final flag in one call", async () => {
    const sender = new CollectingSender();
    const response = new InferenceResponse();
    sender.send(response, FINAL);
    await expect(sender.done).resolves.toBe(response);
  });

  it("refuses a second response, keeping the first", async () => {
    const sender = new CollectingSender();
    const first = new InferenceResponse();
    sender.send(first);
    const err = thrown(() => sender.send(new InferenceResponse()));
    expect(err.message()).toBe("Unable to send response. Non-decoupled model cannot send more than one response.");
    expect(err.code()).toBe("INVALID_ARG");
    sender.send(undefined, FINAL);
    await expect(sender.done).resolves.toBe(first);
  });

  it("refuses the final flag before any response, and stays open", async () => {
    const sender = new CollectingSender();
    expect(thrown(() => sender.send(null, FINAL)).message()).toBe(
      "Unable to send response. Non-decoupled model cannot send complete final before sending a response.");
    const response = new InferenceResponse();
    sender.send(response, FINAL);
    await expect(sender.done).resolves.toBe(response);
  });

  it("is closed after the final flag (a second response is refused first, as Triton checks)", () => {
    const sender = new CollectingSender();
    sender.send(new InferenceResponse(), FINAL);
    expect(thrown(() => sender.send(new InferenceResponse())).message()).toBe(
      "Unable to send response. Non-decoupled model cannot send more than one response.");
    expect(thrown(() => sender.send(null, FINAL)).message()).toBe(CLOSED);
  });

  it.each([2, 3, -1, 1.5, "1", true])("refuses the flag %j", (flag) => {
    const sender = new CollectingSender();
    expect(thrown(() => sender.send(new InferenceResponse(), flag as number)).message()).toBe(BAD_FLAG);
  });

  it("refuses something that is not an InferenceResponse", () => {
    const sender = new CollectingSender();
    const err = thrown(() => sender.send({ outputTensors: () => [] } as unknown as InferenceResponse, FINAL));
    expect(err.message()).toBe("Unable to send response. send() takes an InferenceResponse.");
  });

  it.each([null, undefined])("refuses %s as a response with flags 0", (none) => {
    const sender = new CollectingSender();
    expect(thrown(() => sender.send(none)).message()).toBe(NO_RESPONSE);
    expect(thrown(() => sender.send(none, 0)).message()).toBe(NO_RESPONSE);
  });
});

interface Sent {
  kind: number;
  body: any;
  blocks: readonly Block[];
}

/** An endpoint that records what is sent and freed, and an encode that marks what it was given. */
function fixture(encodeImpl?: EncodeResponse) {
  const sent: Sent[] = [];
  const freed: Block[][] = [];
  const endpoint = {
    send(kind: number, body: object, blocks: readonly Block[]) {
      sent.push({ kind, body, blocks });
    },
    freeBlocks(blocks: readonly Block[]) {
      freed.push([...blocks]);
    },
  } as unknown as Endpoint;
  const encoded: Array<{ response: InferenceResponse; requested: string[] }> = [];
  const encode: EncodeResponse = encodeImpl ?? ((response, requested, blocks) => {
    encoded.push({ response, requested });
    blocks.push({ arena: 1, offset: 64 * encoded.length, bytes: new Uint8Array(4) });
    const wire: WireResponse = { outputs: [], parameters: { n: encoded.length } };
    const error = response.error();
    if (error) wire.error = { code: error.code(), message: error.message() };
    return wire;
  });
  const onClosed = vi.fn();
  return { sent, freed, endpoint, encode, encoded, onClosed };
}

describe("StreamingSender", () => {
  it("posts one STREAM message per send, at once, with its key and blocks", () => {
    const f = fixture();
    const sender = new StreamingSender(42, ["OUT"], f.endpoint, f.encode, f.onClosed);
    const r1 = new InferenceResponse();
    sender.send(r1);
    expect(f.sent).toHaveLength(1);
    expect(f.sent[0]).toEqual({
      kind: KIND.STREAM,
      body: { key: 42, response: { outputs: [], parameters: { n: 1 } }, final: false },
      blocks: [{ arena: 1, offset: 64, bytes: new Uint8Array(4) }],
    });
    expect(f.encoded[0]).toEqual({ response: r1, requested: ["OUT"] });
    sender.send(new InferenceResponse(), 0);
    expect(f.sent.map((s) => [s.kind, s.body.key, s.body.final, s.body.response.parameters.n])).toEqual([
      [KIND.STREAM, 42, false, 1], [KIND.STREAM, 42, false, 2],
    ]);
    expect(f.onClosed).not.toHaveBeenCalled();
    expect(f.freed).toEqual([]);
  });

  it("sends a bare final flag without a response, runs onClosed once, then is closed", () => {
    const f = fixture();
    const sender = new StreamingSender(3, [], f.endpoint, f.encode, f.onClosed);
    sender.send(new InferenceResponse());
    sender.send(null, FINAL);
    expect(f.sent[1]).toEqual({ kind: KIND.STREAM, body: { key: 3, final: true }, blocks: [] });
    expect(f.sent[1]!.body).not.toHaveProperty("response");
    expect(f.onClosed).toHaveBeenCalledTimes(1);
    expect(thrown(() => sender.send(new InferenceResponse())).message()).toBe(CLOSED);
    expect(thrown(() => sender.send(null, FINAL)).message()).toBe(CLOSED);
    expect(f.sent).toHaveLength(2);
    expect(f.onClosed).toHaveBeenCalledTimes(1);
  });

  it("sends a response with the final flag as one message; onClosed runs after it was posted", () => {
    const f = fixture();
    const order: string[] = [];
    const endpoint = {
      send: (kind: number, body: object, blocks: readonly Block[]) => {
        order.push("send");
        (f.endpoint as any).send(kind, body, blocks);
      },
      freeBlocks: (f.endpoint as any).freeBlocks,
    } as unknown as Endpoint;
    const sender = new StreamingSender(8, [], endpoint, f.encode, () => order.push("closed"));
    sender.send(new InferenceResponse(), FINAL);
    expect(f.sent.map((s) => s.body)).toEqual([{ key: 8, response: { outputs: [], parameters: { n: 1 } }, final: true }]);
    expect(order).toEqual(["send", "closed"]);
  });

  it("checks flags and a missing response before posting anything", () => {
    const f = fixture();
    const sender = new StreamingSender(1, [], f.endpoint, f.encode, f.onClosed);
    expect(thrown(() => sender.send(new InferenceResponse(), 2)).message()).toBe(BAD_FLAG);
    expect(thrown(() => sender.send(null)).message()).toBe(NO_RESPONSE);
    expect(thrown(() => sender.send(undefined, 0)).message()).toBe(NO_RESPONSE);
    expect(f.sent).toEqual([]);
    expect(f.encoded).toEqual([]);
    // Still open.
    sender.send(new InferenceResponse(), FINAL);
    expect(f.sent).toHaveLength(1);
  });

  it("fail() sends the error as a final response while open, and does nothing once closed", () => {
    const f = fixture();
    const sender = new StreamingSender(5, [], f.endpoint, f.encode, f.onClosed);
    sender.fail(new TritonError("execute failed", TritonError.INVALID_ARG));
    expect(f.sent).toHaveLength(1);
    expect(f.sent[0]!.body).toEqual({
      key: 5, final: true,
      response: { outputs: [], parameters: { n: 1 }, error: { code: "INVALID_ARG", message: "execute failed" } },
    });
    expect(f.encoded[0]!.response.error()!.message()).toBe("execute failed");
    expect(f.onClosed).toHaveBeenCalledTimes(1);
    sender.fail(new TritonError("again"));
    expect(f.sent).toHaveLength(1);
    expect(f.onClosed).toHaveBeenCalledTimes(1);
  });

  it("fail() after the handler's own final flag sends nothing", () => {
    const f = fixture();
    const sender = new StreamingSender(6, [], f.endpoint, f.encode, f.onClosed);
    sender.send(new InferenceResponse(), FINAL);
    sender.fail(new TritonError("too late"));
    expect(f.sent).toHaveLength(1);
    expect(f.sent[0]!.body.response.error).toBeUndefined();
  });

  it("frees the blocks of an encode that throws, posts nothing, and stays open", () => {
    const f = fixture();
    const block = { arena: 2, offset: 128, bytes: new Uint8Array(8) };
    let failNext = true;
    const encode: EncodeResponse = (response, requested, blocks) => {
      blocks.push(block);
      if (failNext) throw new TritonError("output 'OUT' is too large");
      return f.encode(response, requested, blocks);
    };
    const sender = new StreamingSender(7, [], f.endpoint, encode, f.onClosed);
    const err = thrown(() => sender.send(new InferenceResponse(), FINAL));
    expect(err.message()).toBe("output 'OUT' is too large");
    expect(f.freed).toEqual([[block]]);
    expect(f.sent).toEqual([]);
    expect(f.onClosed).not.toHaveBeenCalled();
    // Not closed: the handler (or fail()) can still end the request.
    failNext = false;
    sender.send(new InferenceResponse(), FINAL);
    expect(f.sent.map((s) => s.body.final)).toEqual([true]);
    expect(f.onClosed).toHaveBeenCalledTimes(1);
  });
});
