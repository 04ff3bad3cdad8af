import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DeadlineHeap } from "../../../src/scheduler/deadline-heap.js";
import { LinkedQueue, type Linked } from "../../../src/scheduler/linked-queue.js";

interface Item extends Linked<Item> {
  id: number;
  deadline: number;
  heapAt: number;
}
const item = (id: number, deadline = 0): Item => ({ id, deadline, heapAt: -1, queue: null, prev: null, next: null });
const ids = (q: LinkedQueue<Item>) => {
  const out: number[] = [];
  for (let p = q.first; p; p = p.next) out.push(p.id);
  return out;
};

describe("LinkedQueue", () => {
  it("behaves as an array under random push / remove / insertAfter", () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom("push", "remove", "insert"), fc.nat()), { maxLength: 100 }), (ops) => {
      const q = new LinkedQueue<Item>();
      const model: Item[] = [];
      let n = 0;
      for (const [op, k] of ops) {
        if (op === "push") {
          const it = item(n++);
          q.push(it);
          model.push(it);
        } else if (op === "remove" && model.length > 0) {
          const it = model.splice(k % model.length, 1)[0];
          expect(q.remove(it)).toBe(true);
          expect(q.remove(it)).toBe(false); // already out
        } else if (op === "insert") {
          const at = model.length > 0 && k % 3 !== 0 ? model[k % model.length] : null;
          const it = item(n++);
          q.insertAfter(at, it);
          model.splice(at ? model.indexOf(at) + 1 : 0, 0, it);
        }
        expect(ids(q)).toEqual(model.map((m) => m.id));
        expect(q.size).toBe(model.length);
        expect(q.last?.id).toBe(model[model.length - 1]?.id);
      }
      expect(q.clear().map((m) => m.id)).toEqual(model.map((m) => m.id));
      expect(q.size).toBe(0);
    }));
  });

  it("refuses an item that is already queued", () => {
    const a = new LinkedQueue<Item>(), b = new LinkedQueue<Item>();
    const it = item(1);
    a.push(it);
    expect(() => b.push(it)).toThrow(/already queued/);
    expect(b.remove(it)).toBe(false);
  });
});

describe("DeadlineHeap", () => {
  it("always shows the earliest deadline, under random push / pop / remove", () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom("push", "pop", "remove"), fc.integer({ min: 0, max: 50 })), { maxLength: 150 }), (ops) => {
      const h = new DeadlineHeap<Item>();
      const model: Item[] = [];
      let n = 0;
      for (const [op, k] of ops) {
        if (op === "push") {
          const it = item(n++, k);
          h.push(it);
          model.push(it);
        } else if (op === "pop") {
          const top = h.pop();
          const min = Math.min(...model.map((m) => m.deadline));
          if (model.length === 0) expect(top).toBeUndefined();
          else {
            expect(top!.deadline).toBe(min);
            model.splice(model.indexOf(top!), 1);
            expect(top!.heapAt).toBe(-1);
          }
        } else if (model.length > 0) {
          const it = model.splice(k % model.length, 1)[0];
          expect(h.remove(it)).toBe(true);
          expect(h.remove(it)).toBe(false);
        }
        expect(h.size).toBe(model.length);
        if (model.length > 0) expect(h.peek()!.deadline).toBe(Math.min(...model.map((m) => m.deadline)));
      }
    }));
  });
});
