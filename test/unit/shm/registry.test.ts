import { afterEach, describe, expect, it } from "vitest";
import { readdirSync, readFileSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { RegionRegistry } from "../../../src/shm/registry.js";
import { onRegionDropped } from "../../../src/ipc/region-drops.js";
import { decodeInferRequest as decodeHttp, encodeInferResponse as encodeHttp } from "../../../src/http/infer-codec.js";
import { ServerError } from "../../../src/errors/index.js";

// The registry over real client segments (files in /dev/shm, as shm_open makes them).

const made: string[] = [];
function segment(bytes: Uint8Array | number): string {
  const key = `/unit-shm-${randomBytes(6).toString("hex")}`;
  writeFileSync(`/dev/shm${key}`, typeof bytes === "number" ? Buffer.alloc(bytes) : bytes);
  made.push(key);
  return key;
}
afterEach(() => {
  for (const k of made.splice(0)) try { unlinkSync(`/dev/shm${k}`); } catch {}
});

const fds = () => readdirSync("/proc/self/fd").length;
const maps = () => readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.includes("/dev/shm/unit-shm-")).length;
const message = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ServerError);
    return (err as ServerError).message;
  }
  return null;
};

describe("RegionRegistry", () => {
  it("answers the flag's text for every call when off", () => {
    const r = new RegionRegistry(false);
    const text = "Client shared memory is disabled. Start the server with '--allow-client-shm=true' to enable.";
    expect(message(() => r.register("a", segment(8), 0, 8))).toBe(text);
    expect(message(() => r.status())).toBe(text);
    expect(message(() => r.unregister())).toBe(text);
    expect(message(() => r.leases().take("a", 0, 8))).toBe(text);
  });

  it("registers, lists, views in place, and refuses bad windows", () => {
    const r = new RegionRegistry(true);
    const key = segment(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    r.register("a", key, 2, 4);
    expect(r.status()).toEqual([{ name: "a", key, offset: 2, byte_size: 4 }]);
    expect(message(() => r.register("a", key, 0, 1))).toBe("shared memory region 'a' already in manager");
    expect(message(() => r.register("b", key, 4, 5))).toBe("failed to register shared memory region 'b': invalid args");
    expect(message(() => r.register("c", "/unit-shm-none", 0, 1))).toBe("Unable to open shared memory region: '/unit-shm-none'");
    expect(message(() => r.register("d", "///tessera-9-00", 0, 1))).toContain("contains the reserved prefix 'tessera-'");
    const leases = r.leases();
    const ref = leases.take("a", 1, 2);
    expect([...ref.view]).toEqual([4, 5]);
    expect(ref.wire).toMatchObject({ name: "a", offset: 3, size: 2, end: 6 });
    expect(message(() => leases.take("a", 4, 0))).toBe("Invalid offset for shared memory region: 'a'");
    expect(message(() => leases.take("a", 1, 4))).toBe("Invalid offset + byte size for shared memory region: 'a'");
    expect(message(() => leases.take("zz", 0, 1))).toBe("Unable to find shared memory region: 'zz'");
    leases.release();
    r.unregister();
    expect(r.status()).toEqual([]);
  });

  it("keeps an unregistered region's memory until its last lease ends, then drops it", () => {
    const r = new RegionRegistry(true);
    const key = segment(16);
    r.register("a", key, 0, 16);
    const dropped: number[] = [];
    const off = onRegionDropped((id) => dropped.push(id));
    const leases = r.leases();
    const ref = leases.take("a", 0, 16);
    r.unregister("a");
    expect(r.status()).toEqual([]);
    expect(r.held).toBe(1);
    ref.view[0] = 7; // still mapped
    expect(readFileSync(`/dev/shm${key}`)[0]).toBe(7);
    expect(dropped).toEqual([]);
    leases.release();
    leases.release(); // once
    expect(dropped).toEqual([ref.wire.id]);
    expect(r.held).toBe(0);
    off();
  });

  it("refuses a segment the client truncated since it registered", () => {
    const r = new RegionRegistry(true);
    const key = segment(4096);
    r.register("a", key, 0, 4096);
    truncateSync(`/dev/shm${key}`, 100);
    expect(message(() => r.leases().take("a", 0, 4))).toBe(
      "shared memory region 'a' is now 100 bytes, smaller than the 4096 bytes its registration covers: the segment was truncated");
    r.close();
  });

  it("leaks no descriptor or mapping over register/unregister cycles", () => {
    const r = new RegionRegistry(true);
    const key = segment(64);
    const before = [fds(), maps()];
    for (let i = 0; i < 300; i++) {
      r.register(`r${i}`, key, 0, 64);
      const l = r.leases();
      l.take(`r${i}`, 0, 64);
      if (i % 2) r.unregister(`r${i}`);
      l.release();
      if (i % 2 === 0) r.unregister();
    }
    expect([fds(), maps()]).toEqual(before);
  });

  it("HTTP: an input in a region is a view (no copy), an output goes into its window", () => {
    const r = new RegionRegistry(true);
    const data = new Float32Array([1, 2, 3, 4]);
    const key = segment(new Uint8Array(data.buffer));
    const outKey = segment(16);
    r.register("in", key, 0, 16);
    r.register("out", outKey, 0, 16);
    const body = Buffer.from(JSON.stringify({
      inputs: [{ name: "I", datatype: "FP32", shape: [4], parameters: { shared_memory_region: "in", shared_memory_byte_size: 16 } }],
      outputs: [{ name: "O", parameters: { shared_memory_region: "out", shared_memory_byte_size: 16 } }],
    }));
    const leases = r.leases();
    const d = decodeHttp(body, body.byteLength, "m", undefined, false, leases);
    expect(d.request.inputs[0]!.region).toBeDefined();
    expect(new Float32Array(d.request.inputs[0]!.data.slice().buffer)).toEqual(data);
    const enc = encodeHttp({ model: "m", version: "1", id: "", parameters: {}, release() {},
      outputs: [{ name: "O", datatype: "FP32", shape: [4], data: new Uint8Array(new Float32Array([9, 8, 7, 6]).buffer) }] }, d.format);
    expect(enc.binary).toEqual([]);
    expect(String(enc.json)).toContain('"outputs":[{"name":"O","datatype":"FP32","shape":[4]}]');
    expect([...new Float32Array(Uint8Array.from(readFileSync(`/dev/shm${outKey}`)).buffer)]).toEqual([9, 8, 7, 6]);
    // Too large for its window: Triton's text.
    expect(message(() => encodeHttp({ model: "m", version: "1", id: "", parameters: {}, release() {},
      outputs: [{ name: "O", datatype: "FP32", shape: [8], data: new Uint8Array(32) }] }, d.format)))
      .toBe("shared memory size specified with the request for output 'O' (16 bytes) should be at least 32 bytes to hold the results");
    leases.release();
    r.close();
  });
});
