/** The stub's dispatch table (stub/kind-table.ts): one handler per kind, unknown kinds are protocol errors. */
import { describe, expect, it } from "vitest";
import { KindTable } from "../../../stub/kind-table.js";

type Handlers = { ping: (seq: number) => number; cancel: (keys: number[]) => number };

describe("KindTable", () => {
  it("returns the handler registered for a kind", () => {
    const t = new KindTable<Handlers>("control message");
    t.register("ping", (seq) => seq + 1);
    t.register("cancel", (keys) => keys.length);
    expect((t.handler("ping") as Handlers["ping"])(1)).toBe(2);
    expect((t.handler("cancel") as Handlers["cancel"])([1, 2])).toBe(2);
  });

  it("refuses a second handler for a kind", () => {
    const t = new KindTable<Handlers>("control message");
    t.register("ping", () => 0);
    expect(() => t.register("ping", () => 1)).toThrow("control message ping already has a handler");
  });

  it("throws a protocol error for a kind with no handler", () => {
    const t = new KindTable<Handlers>("message kind");
    expect(() => t.handler(9)).toThrow("protocol error: no handler for message kind 9");
    expect(() => t.handler("toString")).toThrow(/protocol error/);
  });
});
