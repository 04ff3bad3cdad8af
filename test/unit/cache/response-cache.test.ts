/**
 * The response cache's pieces without a server: the request key (what tells two requests apart,
 * and that a digest collision cannot answer another request), the LRU-by-bytes store, and the
 * --cache-config parser (properties with fast-check: any input gives settings or a clear error).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cacheSettingsFrom } from "../../../src/cache/cache-config.js";
import { requestKey, sameKey, storeKey } from "../../../src/cache/request-key.js";
import { ResponseCache } from "../../../src/cache/response-cache.js";
import type { CoreRequest, CoreTensor } from "../../../src/core/types.js";
import { runs } from "../fuzz.js";

const tensor = (name: string, bytes: number[], shape = [bytes.length], datatype: CoreTensor["datatype"] = "UINT8"): CoreTensor =>
  ({ name, datatype, shape, data: Uint8Array.from(bytes) });
const request = (inputs: CoreTensor[], outputs?: { name: string; classification?: number }[]): CoreRequest =>
  ({ model: "m", id: "", inputs, parameters: {}, ...(outputs ? { outputs } : {}) });
const ID = '"m" 1 1';

describe("requestKey", () => {
  it("tells apart identity, names, datatypes, shapes, bytes and requested outputs", () => {
    const base = request([tensor("A", [1, 2, 3, 4])]);
    const variants: [CoreRequest, string][] = [
      [request([tensor("B", [1, 2, 3, 4])]), ID],
      [request([tensor("A", [1, 2, 3, 4], [2, 2])]), ID],
      [request([tensor("A", [1, 2, 3, 4], [4], "INT8")]), ID],
      [request([tensor("A", [1, 2, 3, 5])]), ID],
      [request([tensor("A", [1, 2, 3, 4])], [{ name: "OUT" }]), ID],
      [request([tensor("A", [1, 2, 3, 4])], [{ name: "OUT", classification: 2 }]), ID],
      [base, '"m" 2 1'],
      [base, '"m" 1 2'],
    ];
    const k = requestKey(base, ID);
    for (const [r, id] of variants) {
      const v = requestKey(r, id);
      expect(v.digest).not.toBe(k.digest);
      expect(sameKey(storeKey(k), v)).toBe(false);
    }
  });

  it("ignores the order of inputs and of requested outputs, and the request's id and parameters", () => {
    const a = requestKey(request([tensor("X", [1]), tensor("Y", [2])], [{ name: "P" }, { name: "Q" }]), ID);
    const b = requestKey({ ...request([tensor("Y", [2]), tensor("X", [1])], [{ name: "Q" }, { name: "P" }]), id: "7", parameters: { p: 1 } }, ID);
    expect(b.digest).toBe(a.digest);
    expect(sameKey(storeKey(a), b)).toBe(true);
  });

  it("hashes large keys and still compares every byte (a forged digest does not match)", () => {
    const big = Array.from({ length: 4096 }, (_, i) => i & 0xff);
    const a = requestKey(request([tensor("A", big)]), ID);
    expect(a.digest).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const other = [...big];
    other[4000] ^= 1;
    const b = { ...requestKey(request([tensor("A", other)]), ID), digest: a.digest };
    expect(sameKey(storeKey(a), b)).toBe(false);
  });

  it("never finds two requests the same unless their keyed fields are (property)", () => {
    const arb = fc.record({
      name: fc.constantFrom("A", "B", "A\n", '"A"'),
      bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 6 }),
      rows: fc.boolean(),
      out: fc.option(fc.constantFrom("O", "P"), { nil: undefined }),
    });
    const make = (x: { name: string; bytes: number[]; rows: boolean; out: string | undefined }) =>
      request([tensor(x.name, x.bytes, x.rows ? [1, x.bytes.length] : [x.bytes.length])], x.out ? [{ name: x.out }] : undefined);
    fc.assert(fc.property(arb, arb, (x, y) => {
      const same = JSON.stringify(x) === JSON.stringify(y);
      const kx = requestKey(make(x), ID);
      const ky = requestKey(make(y), ID);
      expect(sameKey(storeKey(kx), ky)).toBe(same);
      expect(kx.digest === ky.digest).toBe(same);
    }), runs(400));
  });
});

describe("ResponseCache", () => {
  const key = (v: number) => requestKey(request([tensor("A", [v])]), ID);
  const out = (v: number) => [tensor("OUT", [v, v, v, v])];

  it("stores a copy: the original buffer may change or go away", () => {
    const cache = new ResponseCache(10_000);
    const outputs = out(5);
    cache.insert(key(1), outputs, { p: "x" });
    outputs[0].data.fill(0);
    const hit = cache.lookup(key(1))!;
    expect([...hit.outputs[0].data]).toEqual([5, 5, 5, 5]);
    expect(hit.parameters).toEqual({ p: "x" });
    expect(cache.lookup(key(2))).toBeUndefined();
  });

  it("evicts the least recently used entries to stay within its bytes, and refuses an entry larger than all", () => {
    const one = new ResponseCache(1_000_000);
    one.insert(key(0), out(0), {});
    const size = one.counters.bytes;
    const cache = new ResponseCache(size * 3);
    for (const v of [1, 2, 3]) expect(cache.insert(key(v), out(v), {})).toBe(true);
    expect(cache.lookup(key(1))).toBeDefined(); // 2 is now the least recently used
    cache.insert(key(4), out(4), {});
    expect(cache.lookup(key(2))).toBeUndefined();
    for (const v of [1, 3, 4]) expect(cache.lookup(key(v))).toBeDefined();
    expect(cache.counters).toMatchObject({ entries: 3, bytes: size * 3, evictions: 1 });
    const tiny = new ResponseCache(size - 1);
    expect(tiny.insert(key(1), out(1), {})).toBe(false);
    expect(tiny.counters).toMatchObject({ entries: 0, bytes: 0, tooLarge: 1 });
  });

  it("keeps its bytes within capacity whatever the sequence of inserts and lookups (property)", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 3000 }), fc.array(fc.tuple(fc.boolean(), fc.nat({ max: 20 }), fc.nat({ max: 300 })), { maxLength: 60 }),
      (capacity, ops) => {
        const cache = new ResponseCache(capacity);
        const live = new Map<number, number>();
        for (const [insert, k, n] of ops) {
          if (insert) {
            if (cache.insert(key(k), [tensor("OUT", Array.from({ length: n }, () => k))], {})) live.set(k, n);
          } else {
            const hit = cache.lookup(key(k));
            if (hit) expect(hit.outputs[0].data.byteLength).toBe(live.get(k));
          }
          expect(cache.counters.bytes).toBeLessThanOrEqual(capacity);
        }
      }), runs(200));
  });
});

describe("ResponseCache against a reference LRU", () => {
  const key = (v: number) => requestKey(request([tensor("A", [v])]), ID);
  const outputsOf = (k: number, n: number) => [tensor("OUT", Array.from({ length: n }, () => k))];
  const sizeOf = (k: number, n: number) => {
    const c = new ResponseCache(1_000_000);
    c.insert(key(k), outputsOf(k, n), {});
    return c.counters.bytes;
  };

  it("holds exactly the entries a reference LRU by bytes holds (property)", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2500 }), fc.array(fc.tuple(fc.boolean(), fc.nat({ max: 12 }), fc.nat({ max: 200 })), { maxLength: 80 }),
      (capacity, ops) => {
        const cache = new ResponseCache(capacity);
        // Reference: an array, oldest first, of [key, bytes].
        let ref: [number, number][] = [];
        for (const [insert, k, n] of ops) {
          if (insert) {
            const bytes = sizeOf(k, n);
            // One too large for the whole cache is not stored, and leaves an earlier answer in place.
            if (bytes <= capacity) {
              ref = ref.filter(([r]) => r !== k);
              while (ref.reduce((t, [, b]) => t + b, 0) + bytes > capacity) ref.shift();
              ref.push([k, bytes]);
            }
            cache.insert(key(k), outputsOf(k, n), {});
          } else {
            const at = ref.findIndex(([r]) => r === k);
            if (at >= 0) ref.push(...ref.splice(at, 1));
            expect(cache.lookup(key(k)) !== undefined).toBe(at >= 0);
          }
        }
        for (let k = 0; k <= 12; k++) expect(cache.lookup(key(k)) !== undefined).toBe(ref.some(([r]) => r === k));
      }), runs(200));
  });
});

describe("cacheSettingsFrom", () => {
  it("reads Triton's forms", () => {
    expect(cacheSettingsFrom([], undefined)).toBeNull();
    expect(cacheSettingsFrom(["local,size=1048576"], undefined)).toEqual({ size: 1048576 });
    expect(cacheSettingsFrom(["local,size=1", "local,size=2"], undefined)).toEqual({ size: 2 });
    expect(cacheSettingsFrom([], "8192")).toEqual({ size: 8192 });
  });

  it("refuses the rest with Triton's texts", () => {
    const refused = (config: string[], bytes?: string) => {
      try {
        cacheSettingsFrom(config, bytes);
      } catch (err) {
        return (err as Error).message;
      }
      return "accepted";
    };
    expect(refused(["local,size=1"], "1")).toBe("Error: Incompatible flags --response-cache-byte-size and --cache-config both provided. Please provide one or the other.");
    expect(refused(["local,size=1", "redis,host=x"])).toBe("found multiple cache configurations, but only a single cache is currently supported");
    expect(refused(["size=1"])).toBe("No cache specified. --cache-config option format is <cache name>,<setting>=<value>. Got size=1");
    expect(refused(["local,size="])).toBe("--cache-config option format is '<cache name>,<setting>=<value>'. Got local,size=");
    expect(refused(["local,=5"])).toBe("--cache-config option format is '<cache name>,<setting>=<value>'. Got local,=5");
    expect(refused(["redis,host=x"])).toMatch(/unknown cache 'redis'/);
    expect(refused(["local,count=3"])).toMatch(/unknown setting 'count'/);
    expect(refused(["local,size=-1"])).toMatch(/expected a number of bytes/);
    expect(refused([], "1e3")).toMatch(/expected a number of bytes/);
  });

  it("answers any flag value with settings or an Error (property)", () => {
    const piece = fc.string({ unit: fc.constantFrom("local", "redis", ",", "=", "size", "1", "0", " ", "x", "-"), maxLength: 8 });
    fc.assert(fc.property(fc.array(piece, { maxLength: 3 }), fc.option(piece, { nil: undefined }), (config, bytes) => {
      let result: unknown;
      try {
        result = cacheSettingsFrom(config, bytes);
      } catch (err) {
        expect(err).toBeInstanceOf(Error);
        return;
      }
      if (result !== null) expect(Number.isSafeInteger((result as { size: number }).size)).toBe(true);
    }), runs(500));
  });
});
