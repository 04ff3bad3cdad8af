/**
 * Cancellations (stub/cancellation.ts): keys only grow. A cancellation counts for a key that is
 * live, or above every key seen (its request is still on the way: the cancel overtook it); a key
 * already over is ignored, so a late cancellation leaves nothing behind.
 */
import { describe, expect, it } from "vitest";
import { Cancellations } from "../../../stub/cancellation.js";

describe("Cancellations", () => {
  it("marks live keys as cancelled, and leaves the others alone", () => {
    const c = new Cancellations();
    c.begin(1);
    c.begin(2);
    expect(c.isCancelled(1)).toBe(false);
    c.cancel([1]);
    expect(c.isCancelled(1)).toBe(true);
    expect(c.isCancelled(2)).toBe(false);
  });

  it("remembers a cancellation that overtook its request", () => {
    const c = new Cancellations();
    c.begin(3);
    c.cancel([7]);
    c.begin(7);
    expect(c.isCancelled(7)).toBe(true);
    c.end(7);
    expect(c.isCancelled(7)).toBe(false);
  });

  it("end() forgets the key", () => {
    const c = new Cancellations();
    c.begin(5);
    c.cancel([5]);
    c.end(5);
    expect(c.isCancelled(5)).toBe(false);
  });

  it("ignores a cancellation that arrives after end()", () => {
    const c = new Cancellations();
    c.begin(9);
    c.end(9);
    c.cancel([9]);
    expect(c.isCancelled(9)).toBe(false);
  });

  it("ignores a cancellation of a key below the highest seen that is not live", () => {
    const c = new Cancellations();
    c.begin(4);
    c.cancel([2]);
    expect(c.isCancelled(2)).toBe(false);
  });

  it("takes several keys at once", () => {
    const c = new Cancellations();
    for (const k of [1, 2, 3, 4]) c.begin(k);
    c.cancel([2, 4]);
    expect([1, 2, 3, 4].map((k) => c.isCancelled(k))).toEqual([false, true, false, true]);
    c.end(2);
    expect([1, 2, 3, 4].map((k) => c.isCancelled(k))).toEqual([false, false, false, true]);
  });
});
