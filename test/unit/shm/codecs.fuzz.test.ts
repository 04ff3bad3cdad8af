import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { unlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { RegionRegistry } from "../../../src/shm/registry.js";
import { decodeInferRequest as decodeHttp } from "../../../src/http/infer-codec.js";
import { decodeInferRequest as decodeGrpc } from "../../../src/grpc/infer-codec.js";
import { ServerError } from "../../../src/errors/index.js";
import { runs } from "../fuzz.js";

// Both front ends' shared-memory parameters, hostile or not: a request either decodes to views
// that lie inside the registered window, exactly as long as asked, or fails with a ServerError;
// and every lease it took goes back.

const key = `/unit-shm-fuzz-${randomBytes(6).toString("hex")}`;
writeFileSync(`/dev/shm${key}`, Buffer.alloc(4096));
const registry = new RegionRegistry(true);
registry.register("r", key, 1024, 2048);
afterAll(() => {
  registry.close();
  unlinkSync(`/dev/shm${key}`);
});

const number = fc.oneof(fc.nat({ max: 4096 }), fc.integer({ min: -5, max: 5 }), fc.constant(2 ** 64 - 1), fc.double(), fc.constant(2 ** 53 + 2));
const param = fc.oneof(number, fc.string({ maxLength: 4 }), fc.constant(null), fc.boolean());
const region = fc.oneof(fc.constant("r"), fc.constant("nope"), fc.constant(7));

function inWindow(view: Uint8Array, size: unknown): void {
  expect(view.byteLength).toBe(Number(size ?? 0));
  expect(view.byteOffset).toBeGreaterThanOrEqual(1024);
  expect(view.byteOffset + view.byteLength).toBeLessThanOrEqual(3072);
}

describe("shared-memory parameters", () => {
  it("HTTP", () => {
    fc.assert(fc.property(region, fc.option(param, { nil: undefined }), fc.option(param, { nil: undefined }), fc.boolean(), (name, offset, size, asOutput) => {
      const params: Record<string, unknown> = { shared_memory_region: name };
      if (offset !== undefined) params.shared_memory_offset = offset;
      if (size !== undefined) params.shared_memory_byte_size = size;
      const json = asOutput
        ? { inputs: [], outputs: [{ name: "O", parameters: params }] }
        : { inputs: [{ name: "I", datatype: "UINT8", shape: [1], parameters: params }] };
      const body = Buffer.from(JSON.stringify(json));
      const leases = registry.leases();
      try {
        const d = decodeHttp(body, body.byteLength, "m", undefined, false, leases);
        const ref = asOutput ? d.request.outputs![0]!.region! : d.request.inputs[0]!.region!;
        inWindow(ref.view, size);
        expect(leases.count).toBe(1);
      } catch (err) {
        expect(err).toBeInstanceOf(ServerError);
      } finally {
        leases.release();
      }
      expect(registry.held).toBe(1);
    }), runs(1500));
  });

  it("gRPC", () => {
    const p = (v: unknown) => typeof v === "string" ? { parameter_choice: "string_param", string_param: v }
      : typeof v === "boolean" ? { parameter_choice: "bool_param", bool_param: v }
      : typeof v === "number" && Number.isSafeInteger(v) ? { parameter_choice: "int64_param", int64_param: v }
      : { parameter_choice: "double_param", double_param: Number(v) };
    fc.assert(fc.property(region, fc.option(param, { nil: undefined }), fc.option(param, { nil: undefined }), (name, offset, size) => {
      const params: Record<string, any> = { shared_memory_region: p(name) };
      if (offset !== undefined && offset !== null) params.shared_memory_offset = p(offset);
      if (size !== undefined && size !== null) params.shared_memory_byte_size = p(size);
      const leases = registry.leases();
      try {
        const r = decodeGrpc({ model_name: "m", inputs: [{ name: "I", datatype: "UINT8", shape: [1], parameters: params }] }, leases);
        inWindow(r.inputs[0]!.data, size ?? 0);
      } catch (err) {
        expect(err).toBeInstanceOf(ServerError);
      } finally {
        leases.release();
      }
    }), runs(1500));
  });
});
