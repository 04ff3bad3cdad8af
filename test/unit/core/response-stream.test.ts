/**
 * ResponseStream (src/core/response-stream.ts): items come out in push order through for-await and
 * the iteration ends after the final item; pushes after the final item or after close() are
 * released and dropped; close() releases what is buffered and ends a waiting consumer; `finished`.
 */
import { describe, expect, it } from "vitest";
import { ResponseStream, type StreamItem } from "../../../src/core/response-stream.js";
import type { CoreResponse } from "../../../src/core/types.js";
import { ServerError } from "../../../src/errors/index.js";

/** A response that counts its release() calls. */
function response(id: string): CoreResponse & { releases: number } {
  const r = {
    model: "m", version: "1", id, outputs: [], parameters: {}, releases: 0,
    release() {
      r.releases++;
    },
  };
  return r;
}

async function collect(stream: ResponseStream): Promise<StreamItem[]> {
  const items: StreamItem[] = [];
  for await (const item of stream) items.push(item);
  return items;
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("ResponseStream", () => {
  it("yields buffered items in order and ends after the final one", async () => {
    const stream = new ResponseStream();
    const a = response("a");
    const b = response("b");
    const error = new ServerError("INVALID_ARG", "bad");
    stream.push({ response: a, final: false });
    stream.push({ error, final: false });
    stream.push({ response: b, final: true });
    const items = await collect(stream);
    expect(items).toEqual([{ response: a, final: false }, { error, final: false }, { response: b, final: true }]);
    // The stream hands responses over; releasing them is the consumer's job.
    expect([a.releases, b.releases]).toEqual([0, 0]);
  });

  it("wakes a waiting consumer for each item pushed later, and ends on a bare final flag", async () => {
    const stream = new ResponseStream();
    const seen: string[] = [];
    let ended = false;
    const consumer = (async () => {
      for await (const item of stream) seen.push(item.response?.id ?? (item.final ? "FINAL" : "?"));
      ended = true;
    })();
    await tick();
    expect(seen).toEqual([]);
    stream.push({ response: response("1"), final: false });
    await tick();
    expect(seen).toEqual(["1"]);
    stream.push({ response: response("2"), final: false });
    stream.push({ response: response("3"), final: false });
    await tick();
    expect(seen).toEqual(["1", "2", "3"]);
    expect(ended).toBe(false);
    stream.push({ final: true });
    await consumer;
    expect(seen).toEqual(["1", "2", "3", "FINAL"]);
    expect(ended).toBe(true);
  });

  it("releases and drops an item pushed after the final one", async () => {
    const stream = new ResponseStream();
    const last = response("last");
    const late = response("late");
    stream.push({ response: last, final: true });
    stream.push({ response: late, final: false });
    stream.push({ error: new ServerError("INVALID_ARG", "late error"), final: true });
    expect(late.releases).toBe(1);
    expect(last.releases).toBe(0);
    expect((await collect(stream)).map((i) => i.response)).toEqual([last]);
  });

  it("`finished` turns true with the final item only", () => {
    const stream = new ResponseStream();
    expect(stream.finished).toBe(false);
    stream.push({ response: response("a"), final: false });
    expect(stream.finished).toBe(false);
    stream.push({ error: new ServerError("INVALID_ARG", "e"), final: true });
    expect(stream.finished).toBe(true);
  });

  it("`finished` stays false when the stream is closed without a final item", () => {
    const stream = new ResponseStream();
    stream.close();
    stream.push({ response: response("x"), final: true });
    expect(stream.finished).toBe(false);
  });

  it("close() releases buffered responses, once each", async () => {
    const stream = new ResponseStream();
    const a = response("a");
    const b = response("b");
    stream.push({ response: a, final: false });
    stream.push({ error: new ServerError("INVALID_ARG", "e"), final: false });
    stream.push({ response: b, final: true });
    stream.close();
    expect([a.releases, b.releases]).toEqual([1, 1]);
    // Nothing is handed out after close(): the consumer would release them a second time.
    expect(await collect(stream)).toEqual([]);
    stream.close();
    expect([a.releases, b.releases]).toEqual([1, 1]);
  });

  it("close() ends the iteration of a consumer waiting for the next item", async () => {
    const stream = new ResponseStream();
    const first = response("first");
    stream.push({ response: first, final: false });
    const seen: StreamItem[] = [];
    const consumer = (async () => {
      for await (const item of stream) seen.push(item);
    })();
    await tick();
    expect(seen).toHaveLength(1);
    stream.close();
    await expect(Promise.race([consumer.then(() => "ended"), tick().then(() => "still waiting")])).resolves.toBe("ended");
    // What was handed out before close() belongs to the consumer.
    expect(first.releases).toBe(0);
  });

  it("releases every response pushed after close()", () => {
    const stream = new ResponseStream();
    stream.close();
    const a = response("a");
    const b = response("b");
    stream.push({ response: a, final: false });
    stream.push({ response: b, final: true });
    stream.push({ error: new ServerError("INVALID_ARG", "e"), final: true });
    expect([a.releases, b.releases]).toEqual([1, 1]);
  });
});

describe("ResponseStream: a consumer that lags", () => {
  it("keeps at most eight responses in shared memory; later ones are copied out and given back", async () => {
    const s = new ResponseStream();
    const pushed = Array.from({ length: 12 }, (_, i) => {
      const r = response(`r${i}`);
      r.outputs = [{ name: "O", datatype: "UINT8", shape: [1], data: Uint8Array.of(i) }];
      s.push({ response: r, final: i === 11 });
      return r;
    });
    expect(pushed.map((r) => r.releases)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
    // What was given back is overwritten, as a reused shared-memory slot would be.
    for (const r of pushed.slice(8)) r.outputs[0].data.fill(255);
    const seen: number[] = [];
    for await (const item of s) {
      seen.push(item.response!.outputs[0].data[0]);
      item.response!.release();
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(pushed.map((r) => r.releases)).toEqual(Array(12).fill(1));
  });
});
