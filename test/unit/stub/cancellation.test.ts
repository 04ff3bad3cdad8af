/**
 * Cancellations (stub/cancellation.ts): a cancellation counts only for keys begun and not yet
 * ended, so a late one leaves nothing behind; end() forgets both liveness and cancellation.
 */
import { describe, expect, it } from "vitest";
import { Cancellations } from "../../../stub/cancellation.js";

describe("Cancellations", () => {
  it("marks only live keys as cancelled", () => {
    const c = new Cancellations();
    c.begin(1);
    c.begin(2);
    expect(c.isCancelled(1)).toBe(false);
    c.cancel([1, 3]);
    expect(c.isCancelled(1)).toBe(true);
    expect(c.isCancelled(2)).toBe(false);
    expect(c.isCancelled(3)).toBe(false);
  });

  it("does not remember a cancellation that came before begin()", () => {
    const c = new Cancellations();
    c.cancel([7]);
    c.begin(7);
    expect(c.isCancelled(7)).toBe(false);
  });

  it("end() forgets the key: a cancelled key reused later starts clean", () => {
    const c = new Cancellations();
    c.begin(5);
    c.cancel([5]);
    c.end(5);
    expect(c.isCancelled(5)).toBe(false);
    c.begin(5);
    expect(c.isCancelled(5)).toBe(false);
  });

  it("ignores a cancellation that arrives after end()", () => {
    const c = new Cancellations();
    c.begin(9);
    c.end(9);
    c.cancel([9]);
    expect(c.isCancelled(9)).toBe(false);
    c.begin(9);
    expect(c.isCancelled(9)).toBe(false);
  });

  it("takes several keys at once and leaves other live keys alone", () => {
    const c = new Cancellations();
    for (const k of [1, 2, 3, 4]) c.begin(k);
    c.cancel([2, 4]);
    expect([1, 2, 3, 4].map((k) => c.isCancelled(k))).toEqual([false, true, false, true]);
    c.end(2);
    expect([1, 2, 3, 4].map((k) => c.isCancelled(k))).toEqual([false, false, false, true]);
  });
});
