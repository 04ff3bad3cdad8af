import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { ServerError } from "../../../src/errors/index.js";
import { warmUp, warmupSamples } from "../../../src/backends/warmup.js";
import type { ModelInstance } from "../../../src/backends/backend.js";
import type { CoreRequest } from "../../../src/core/types.js";
import { decodeBytesElements, encodeBytesElements, bytesElementsSize } from "../../../src/ipc/datatypes.js";
import { runs } from "../fuzz.js";

const dir = mkdtempSync(join(tmpdir(), "tessera-warmup-"));
mkdirSync(join(dir, "warmup"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Input = { data_type: string; dims: number[]; zero_data?: boolean; random_data?: boolean; input_data_file?: string };
const config = (inputs: Record<string, Input>, extra: { batch_size?: number; count?: number; max_batch_size?: number } = {}) => ({
  max_batch_size: extra.max_batch_size ?? 0,
  input: [],
  model_warmup: [{ name: "s", batch_size: extra.batch_size ?? 1, count: extra.count ?? 0, inputs: inputs as never }],
});
const failure = (fn: () => unknown): ServerError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof ServerError) return e;
    throw e;
  }
  throw new Error("expected a ServerError");
};

describe("warmup samples (Triton's GenerateWarmupData)", () => {
  it("makes zeros, random bytes (zeros for BYTES) and the batch dimension; count at least 1; batch 0 skipped", () => {
    const [s] = warmupSamples(config({ A: { data_type: "TYPE_FP32", dims: [2, 3], zero_data: true }, B: { data_type: "TYPE_STRING", dims: [3], random_data: true } }, { max_batch_size: 4, batch_size: 3 }), dir);
    expect(s!.count).toBe(1);
    expect(s!.batchSize).toBe(3);
    expect(s!.inputs.map((t) => [t.name, t.datatype, t.shape, t.data.byteLength])).toEqual([["A", "FP32", [1, 2, 3], 24], ["B", "BYTES", [1, 3], 12]]);
    expect(decodeBytesElements(s!.inputs[1]!.data, 3)!.map((e) => e.byteLength)).toEqual([0, 0, 0]);
    expect(warmupSamples(config({ A: { data_type: "TYPE_FP32", dims: [1], zero_data: true } }, { batch_size: 0 }), dir)).toEqual([]);
  });

  it("refuses what Triton refuses, with its texts", () => {
    expect(failure(() => warmupSamples(config({ A: { data_type: "TYPE_FP32", dims: [-1], zero_data: true } }), dir)).message)
      .toBe("warmup setting expects all variable-size dimensions are specified for input 'A'");
    expect(failure(() => warmupSamples(config({ A: { data_type: "TYPE_FP32", dims: [1] } }), dir)).message)
      .toBe("warmup setting expects input 'A' to have input_data_type set");
    expect(failure(() => warmupSamples(config({ A: { data_type: "TYPE_FP32", dims: [1], input_data_file: "missing.bin" } }), dir)).message)
      .toMatch(/^unable to read warmup data file 'missing.bin' for input 'A': ENOENT/);
  });

  it("property: any file is the input's data, or a clear INVALID_ARG (BYTES: Triton's layout; others: long enough)", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 6 }), fc.boolean(), (bytes, n, asBytes) => {
      writeFileSync(join(dir, "warmup", "f.bin"), bytes);
      const input = { data_type: asBytes ? "TYPE_STRING" : "TYPE_INT32", dims: [n], input_data_file: "f.bin" };
      try {
        const [s] = warmupSamples(config({ X: input }), dir);
        const data = s!.inputs[0]!.data;
        if (asBytes) expect(decodeBytesElements(data, n)).not.toBeNull();
        else expect([data.byteLength, bytes.byteLength >= 4 * n]).toEqual([4 * n, true]);
      } catch (e) {
        expect(e).toBeInstanceOf(ServerError);
        expect((e as ServerError).code).toBe("INVALID_ARG");
        if (!asBytes) expect(bytes.byteLength).toBeLessThan(4 * n);
        else expect(decodeBytesElements(bytes, n)).toBeNull();
      }
    }), runs(200));
  });

  it("reads a BYTES file in Triton's layout", () => {
    const elements = [new TextEncoder().encode("ab"), new Uint8Array(0), new TextEncoder().encode("xyz")];
    const raw = new Uint8Array(bytesElementsSize(elements));
    encodeBytesElements(elements, raw);
    writeFileSync(join(dir, "warmup", "s.bin"), raw);
    const [s] = warmupSamples(config({ S: { data_type: "TYPE_STRING", dims: [3], input_data_file: "s.bin" } }), dir);
    expect(decodeBytesElements(s!.inputs[0]!.data, 3)!.map((e) => new TextDecoder().decode(e))).toEqual(["ab", "", "xyz"]);
  });
});

describe("warmUp (Triton's WarmUp)", () => {
  const instance = (answer: (requests: CoreRequest[]) => void, errors: (string | null)[] = []): ModelInstance & { calls: number[] } => {
    const calls: number[] = [];
    return {
      name: "i", state: "ready", pending: 0, calls,
      async execute(requests) {
        calls.push(requests.length);
        answer(requests);
        return requests.map((_, i) => (errors[i] ? { error: new ServerError("INVALID_ARG", errors[i]!) } : { outputs: [], parameters: {}, release() {} }));
      },
    };
  };
  const [sample] = warmupSamples(config({ A: { data_type: "TYPE_FP32", dims: [1], zero_data: true } }, { batch_size: 2, count: 3 }), dir);

  it("sends batch_size requests in one call, count times", async () => {
    const i = instance(() => {});
    await warmUp(i, [sample!], "m", false);
    expect(i.calls).toEqual([2, 2, 2]);
  });

  it("fails at the first response error, naming the sample, every error joined", async () => {
    const i = instance(() => {}, ["one", "two"]);
    await expect(warmUp(i, [sample!], "m", false)).rejects.toThrow("failed to run warmup sample 's': one; two");
    expect(i.calls).toEqual([2]);
  });

  it("decoupled: waits for every request's final response, and collects their errors", async () => {
    let finals = 0;
    const i = instance((requests) => {
      for (const r of requests) {
        setTimeout(() => r.sink!({ error: new ServerError("INTERNAL", "late") }, false), 5);
        setTimeout(() => { finals++; r.sink!(null, true); }, 10);
      }
    });
    await expect(warmUp(i, [sample!], "m", true)).rejects.toThrow("failed to run warmup sample 's': late; late");
    expect(finals).toBe(2);
  });
});
