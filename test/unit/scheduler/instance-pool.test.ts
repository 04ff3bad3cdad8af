/**
 * InstancePool: least busy first, round robin among equals; dead and starting instances never
 * chosen, dead ones left out by set(); reserve/release pin a key to one live instance, and a pin
 * on an instance that died or was replaced is dropped.
 */
import { describe, expect, it } from "vitest";
import { ANY_ROOM, InstancePool } from "../../../src/scheduler/instance-pool.js";
import { FakeInstance } from "./fake-instance.js";

const ONE = () => 1;
const names = (n: number, f: () => string | undefined) => Array.from({ length: n }, f);

describe("InstancePool", () => {
  it("goes round robin among equally free instances, and the least busy first", () => {
    const pool = new InstancePool();
    const [a, b, c] = ["a", "b", "c"].map((n) => new FakeInstance(n));
    pool.set([a, b, c]);
    expect(names(6, () => {
      const i = pool.find(ANY_ROOM)!;
      pool.took(i);
      return i.name;
    })).toEqual(["a", "b", "c", "a", "b", "c"]);
    void a.execute([]);
    void c.execute([]);
    expect(pool.find(ANY_ROOM)?.name).toBe("b"); // the only one with nothing in flight
    expect(pool.find(ONE)?.name).toBe("b");
    void b.execute([]);
    expect(pool.find(ONE)).toBeUndefined(); // all hold their one call
  });

  it("finding is not taking: an instance found but not used keeps its turn", () => {
    const pool = new InstancePool();
    const [a, b] = ["a", "b"].map((n) => new FakeInstance(n));
    pool.set([a, b]);
    expect(pool.find(ANY_ROOM)?.name).toBe("a");
    expect(pool.find(ANY_ROOM)?.name).toBe("a");
    pool.took(a);
    expect(pool.find(ANY_ROOM)?.name).toBe("b");
  });

  it("never picks a dead or starting instance; set() leaves dead ones out", () => {
    const pool = new InstancePool();
    const [a, b, c] = ["a", "b", "c"].map((n) => new FakeInstance(n));
    b.state = "dead";
    c.state = "starting";
    pool.set([a, b, c]);
    expect(pool.instances.map((i) => i.name)).toEqual(["a", "c"]);
    a.state = "dead"; // died after set(): skipped, not chosen
    expect(pool.find(ANY_ROOM)).toBeUndefined();
    c.state = "ready";
    expect(pool.find(ANY_ROOM)?.name).toBe("c");
  });

  it("setInstances replaces the list: a replacement is chosen, a removed instance never again", () => {
    const pool = new InstancePool();
    const [a, b, b2] = ["a", "b", "b2"].map((n) => new FakeInstance(n));
    pool.set([a, b]);
    pool.took(a);
    pool.set([a, b2]);
    expect(pool.instances).toEqual([a, b2]);
    const seen = new Set(names(4, () => {
      const i = pool.find(ANY_ROOM)!;
      pool.took(i);
      return i.name;
    }));
    expect(seen).toEqual(new Set(["a", "b2"]));
    pool.set([a]); // shorter than the rotation's place: it starts over
    expect(pool.find(ANY_ROOM)?.name).toBe("a");
    pool.set([]);
    expect(pool.find(ANY_ROOM)).toBeUndefined();
  });

  it("reserve pins a key to one instance until release; other keys spread round robin", () => {
    const pool = new InstancePool();
    const [a, b] = ["a", "b"].map((n) => new FakeInstance(n));
    pool.set([a, b]);
    expect(pool.reserve("s1")).toBe(a);
    expect(pool.reserve("s2")).toBe(b);
    void a.execute([]); // busy or not, s1 stays on a
    expect(pool.reserve("s1")).toBe(a);
    expect(pool.reservedFor("s1")).toBe(a);
    expect(pool.reservations).toBe(2);
    expect(pool.release("s1")).toBe(true);
    expect(pool.release("s1")).toBe(false);
    expect(pool.reservedFor("s1")).toBeUndefined();
    expect(pool.reserve("s1")).toBe(b); // a is busy now: the least busy takes the new pin
    void b.execute([]);
    expect(pool.reserve("s3", ONE)).toBeUndefined(); // nobody has room: no pin
    expect(pool.reservedFor("s3")).toBeUndefined();
  });

  it("drops a reservation when its instance dies or is replaced", () => {
    const pool = new InstancePool();
    const [a, b, a2] = ["a", "b", "a2"].map((n) => new FakeInstance(n));
    pool.set([a, b]);
    pool.reserve("s1");
    pool.reserve("s2");
    a.state = "dead";
    expect(pool.reservedFor("s1")).toBeUndefined(); // died: dropped where it is looked up
    expect(pool.reservations).toBe(1);
    expect(pool.reserve("s1")).toBe(b); // a fresh pin, on a live instance
    pool.set([a2]); // b replaced
    expect(pool.reservations).toBe(0);
    expect(pool.reserve("s2")).toBe(a2);
  });
});
