import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ServerError } from "../../../src/errors/index.js";
import {
  UINT64_MAX, asUint64, checkKey, checkRegisterWindow, checkRequestWindow, shmOpenName,
} from "../../../src/shm/bounds.js";
import { checkBytesElements } from "../../../src/core/validate.js";
import { encodeBytesElements, bytesElementsSize } from "../../../src/ipc/datatypes.js";
import { runs } from "../fuzz.js";

// The shared-memory extension's pure checks: windows never overflow and never accept what does
// not fit; keys with the reserved prefix are refused however many slashes precede it; the BYTES
// layout in a region is validated element by element.

const u64 = fc.bigInt({ min: 0n, max: UINT64_MAX });
const small = fc.bigInt({ min: 0n, max: 1n << 20n });

function verdict(fn: () => void): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    expect(err).toBeInstanceOf(ServerError);
    return (err as ServerError).message;
  }
}

describe("request windows", () => {
  it("accept exactly the windows inside the registered one, with Triton's first failing rule", () => {
    fc.assert(fc.property(fc.oneof(small, u64), fc.oneof(small, u64), fc.oneof(small, u64), (region, offset, size) => {
      const v = verdict(() => checkRequestWindow("r", region, offset, size));
      if (offset >= region) expect(v).toBe("Invalid offset for shared memory region: 'r'");
      else if (offset + size > UINT64_MAX) expect(v).toContain("Integer overflow detected");
      else if (offset + size > region) expect(v).toBe("Invalid offset + byte size for shared memory region: 'r'");
      else expect(v).toBeNull();
    }), runs(2000));
  });

  it("registration fits the segment's real size", () => {
    fc.assert(fc.property(u64, u64, fc.nat(), (offset, size, segment) => {
      const v = verdict(() => checkRegisterWindow("r", offset, size, segment));
      expect(v === null).toBe(offset + size <= BigInt(segment));
    }), runs(1000));
  });

  it("reads only uint64s", () => {
    expect(asUint64(5)).toBe(5n);
    expect(asUint64("18446744073709551615")).toBe(UINT64_MAX);
    expect(asUint64(UINT64_MAX + 1n)).toBeNull();
    expect(asUint64("18446744073709551616")).toBeNull();
    for (const bad of [-1, 1.5, "x", "-1", null, {}, true]) expect(asUint64(bad)).toBeNull();
  });
});

describe("keys", () => {
  it("refuse the reserved prefix after any number of leading slashes", () => {
    fc.assert(fc.property(fc.nat({ max: 5 }), fc.string({ maxLength: 20 }), (slashes, rest) => {
      const key = "/".repeat(slashes) + "tessera-" + rest;
      expect(verdict(() => checkKey("r", key, "tessera-"))).toBe(
        `cannot register shared memory region 'r' with key '${key}' as the key contains the reserved prefix 'tessera-'`);
    }), runs(500));
  });

  it("let other keys through, and name what shm_open opens", () => {
    fc.assert(fc.property(fc.nat({ max: 3 }), fc.stringMatching(/^[a-z0-9_.-]{1,30}$/), (slashes, rest) => {
      fc.pre(!rest.startsWith("tessera-"));
      const key = "/".repeat(slashes) + rest;
      expect(verdict(() => checkKey("r", key, "tessera-"))).toBeNull();
      expect(shmOpenName(key)).toBe(`/${rest}`);
    }), runs(500));
    for (const bad of ["", "/", "//", "/a/b", "a\0b"]) expect(shmOpenName(bad)).toBeNull();
  });
});

describe("BYTES in a region", () => {
  const elements = fc.array(fc.uint8Array({ maxLength: 12 }), { maxLength: 8 });

  it("accepts Triton's layout with the count the shape gives", () => {
    fc.assert(fc.property(elements, (els) => {
      const data = new Uint8Array(bytesElementsSize(els));
      encodeBytesElements(els, data);
      expect(() => checkBytesElements("", "IN", "m", els.length, data)).not.toThrow();
      if (els.length > 0) expect(() => checkBytesElements("", "IN", "m", els.length - 1, data)).toThrow(ServerError);
      expect(() => checkBytesElements("", "IN", "m", els.length + 1, data)).toThrow(ServerError);
    }), runs(500));
  });

  it("never reads past the window, whatever the bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat({ max: 8 }), (data, count) => {
      // A view into a larger buffer: bytes after the window must never count.
      const backing = new Uint8Array(data.byteLength + 16).fill(0xff);
      backing.set(data, 0);
      const view = backing.subarray(0, data.byteLength);
      const v = verdict(() => checkBytesElements("", "IN", "m", count, view));
      if (v === null) {
        let at = 0;
        let n = 0;
        const dv = new DataView(view.buffer, view.byteOffset, view.byteLength);
        while (at < view.byteLength) {
          at += 4 + dv.getUint32(at, true);
          n++;
        }
        expect(at).toBe(view.byteLength);
        expect(n).toBe(count);
      }
    }), runs(1000));
  });
});
