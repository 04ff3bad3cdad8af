/**
 * StubChannel (src/backends/stub/stub-channel.ts) over a fake endpoint: the message-kind table
 * (register, dispatch by kind, one handler per kind, an unknown kind breaks the channel), and
 * exactly-once settlement of calls and streams when it breaks or closes. Spawns nothing.
 */
import { describe, expect, it } from "vitest";
import { ServerError } from "../../../src/errors/index.js";
import type { CoreRequest, RequestResult } from "../../../src/core/types.js";
import type { Block, EndpointOptions, MessageRef } from "../../../src/ipc/endpoint.js";
import { KIND, type ExecuteBody } from "../../../src/ipc/protocol.js";
import { StubChannel, type AnsweredCall, type ChannelEndpoint } from "../../../src/backends/stub/stub-channel.js";

type Handlers = Pick<EndpointOptions, "onMessage" | "onBroken">;

function fakeEndpoint() {
  const sent: { kind: number; body: any; blocks: readonly Block[] }[] = [];
  const released: MessageRef[] = [];
  let closed = 0;
  let offset = 0;
  const memory = new Uint8Array(1 << 16);
  const endpoint: ChannelEndpoint = {
    start() {},
    close() {
      closed++;
    },
    send(kind, body, blocks) {
      sent.push({ kind, body, blocks });
    },
    release(ref) {
      released.push(ref);
    },
    alloc(bytes) {
      const block = { arena: 0, offset, bytes: memory.subarray(offset, offset + bytes) };
      offset += bytes;
      return block;
    },
    freeBlocks() {},
    view([, at, length]) {
      return memory.subarray(at, at + length);
    },
  };
  return { endpoint, sent, released, closes: () => closed };
}

function channelOf(onBroken: (reason: string, channel: StubChannel) => void = () => {}) {
  const fake = fakeEndpoint();
  let handlers!: Handlers;
  const broken: string[] = [];
  const cancelled: number[] = [];
  const channel: StubChannel = new StubChannel({
    name: "m_0",
    connect: (h) => {
      handlers = h;
      return fake.endpoint;
    },
    watchCancel: (_request, key) => () => cancelled.push(key),
    onBroken: (reason) => {
      broken.push(reason);
      onBroken(reason, channel);
    },
  });
  const deliver = (kind: number, body: unknown, ref: MessageRef = { arena: 0, offset: 8 * fake.sent.length }) =>
    handlers.onMessage(kind, body, ref);
  return { channel, ...fake, handlers, deliver, broken, cancelled };
}

function request(extra: Partial<CoreRequest> = {}): CoreRequest {
  return { model: "m", id: "r", inputs: [{ name: "IN", datatype: "UINT8", shape: [2], data: new Uint8Array([1, 2]) }], parameters: {}, ...extra };
}

/** Counts how a promise settles, so a second settlement would show. */
function settlements(p: Promise<unknown>) {
  const seen: string[] = [];
  p.then(() => seen.push("resolved"), (e: Error) => seen.push(`rejected: ${e.message}`));
  return seen;
}

const tick = () => new Promise((r) => setImmediate(r));

describe("StubChannel message table", () => {
  it("dispatches each kind to the handler registered for it", () => {
    const { channel, deliver } = channelOf();
    const got: unknown[] = [];
    channel.register(KIND.BLS_REQUEST, (body, ref) => got.push([body, ref]));
    const body = { bls: 1, model: "x", version: "", id: "", parameters: {}, requestedOutputs: [], inputs: [] };
    deliver(KIND.BLS_REQUEST, body, { arena: 0, offset: 64 });
    expect(got).toEqual([[body, { arena: 0, offset: 64 }]]);
  });

  it("refuses a second handler for a kind, its own kinds included", () => {
    const { channel } = channelOf();
    channel.register(KIND.BLS_REQUEST, () => {});
    expect(() => channel.register(KIND.BLS_REQUEST, () => {})).toThrow(/message kind 6 already has a handler on the channel to 'm_0'/);
    expect(() => channel.register(KIND.RESPONSE, () => {})).toThrow(/already has a handler/);
    expect(() => channel.register(KIND.STREAM, () => {})).toThrow(/already has a handler/);
  });

  it("breaks on a kind nobody registered: closes the endpoint and tells the owner why", () => {
    const { channel, deliver, broken, closes } = channelOf();
    deliver(99, {});
    expect(broken).toEqual(["main could not read its message: protocol error: no handler for message kind 99"]);
    expect(closes()).toBeGreaterThan(0);
    expect(channel.closed).toBe(true);
    // A kind main only sends is no kind main receives.
    const other = channelOf();
    other.deliver(KIND.EXECUTE, {});
    expect(other.broken[0]).toMatch(/no handler for message kind 1$/);
  });

  it("breaks when the endpoint reports an unreadable message", () => {
    const { handlers, broken, channel } = channelOf();
    handlers.onBroken(new Error("message 2 at [0, 0, 4] could not be decoded: bad"));
    expect(broken).toEqual(["main could not read its message: message 2 at [0, 0, 4] could not be decoded: bad"]);
    expect(channel.closed).toBe(true);
  });
});

describe("StubChannel calls", () => {
  it("sends a call, answers it from RESPONSE, and tells observers first", async () => {
    const { channel, sent, deliver, released } = channelOf();
    const seen: AnsweredCall[] = [];
    channel.observe((c) => seen.push(c));
    const r = request();
    const result = channel.execute([r]);
    expect(channel.pending).toBe(1);
    const body = sent[0].body as ExecuteBody;
    expect(sent[0].kind).toBe(KIND.EXECUTE);
    expect(body.requests[0].inputs[0]).toMatchObject({ name: "IN", datatype: "UINT8", shape: [2] });
    deliver(KIND.RESPONSE, { id: body.id, responses: [{ outputs: [{ name: "OUT", datatype: "UINT8", shape: [2], loc: [0, 0, 2] }] }], execNs: 5 },
      { arena: 0, offset: 100 });
    expect(channel.pending).toBe(0);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ requests: [r], execNs: 5 });
    const [out] = (await result) as (RequestResult & { release(): void })[];
    expect(out.error).toBeUndefined();
    expect(released).toEqual([]); // the outputs still view the stub's memory
    out.release();
    out.release();
    expect(released).toEqual([{ arena: 0, offset: 100 }]);
  });

  it("fails every in-flight call and open stream once when the channel breaks", async () => {
    // The owner closes with its own error, as StubInstance does (through the process's death).
    const { channel, deliver, sent, cancelled } = channelOf((_reason, ch) => ch.close(new ServerError("INTERNAL", "instance 'm_0' died")));
    const a = settlements(channel.execute([request({ signal: new AbortController().signal })]));
    const b = settlements(channel.execute([request()]));
    const sinkCalls: [RequestResult | null, boolean][] = [];
    const streamed = settlements(channel.execute([request({ sink: (res, final) => sinkCalls.push([res, final]) })]));
    expect(channel.pending).toBe(3);
    expect(channel.openStreams).toBe(1);
    deliver(42, {});
    // Late answers for the failed calls find nothing (and release their message).
    deliver(KIND.RESPONSE, { id: (sent[0].body as ExecuteBody).id, responses: [{ outputs: [] }] });
    deliver(KIND.STREAM, { key: (sent[2].body as ExecuteBody).requests[0].key, final: true });
    channel.close(new ServerError("INTERNAL", "again"));
    await tick();
    expect(a).toEqual(["rejected: instance 'm_0' died"]);
    expect(b).toEqual(["rejected: instance 'm_0' died"]);
    expect(streamed).toEqual(["rejected: instance 'm_0' died"]);
    expect(sinkCalls).toHaveLength(1);
    expect(sinkCalls[0][1]).toBe(true);
    expect((sinkCalls[0][0] as { error: ServerError }).error.message).toBe("instance 'm_0' died");
    expect(channel.pending).toBe(0);
    expect(channel.openStreams).toBe(0);
    expect(cancelled.length).toBe(3); // every cancellation watch was stopped
  });

  it("fails them itself when the owner does not close it on a break", async () => {
    const { channel, deliver } = channelOf();
    const a = settlements(channel.execute([request()]));
    deliver(KIND.BLS_RESPONSE, {});
    await tick();
    expect(a).toEqual(["rejected: the channel to 'm_0' is broken: main could not read its message: protocol error: no handler for message kind 7"]);
  });

  it("resolves streamsClosed once the last stream ended", async () => {
    const { channel, deliver, sent } = channelOf();
    const finals: boolean[] = [];
    void channel.execute([request({ sink: (_r, final) => finals.push(final) })]);
    let done = false;
    void channel.streamsClosed(60_000).then(() => (done = true));
    await tick();
    expect(done).toBe(false);
    deliver(KIND.STREAM, { key: (sent[0].body as ExecuteBody).requests[0].key, final: true });
    await tick();
    expect(done).toBe(true);
    expect(finals).toEqual([true]);
  });
});
