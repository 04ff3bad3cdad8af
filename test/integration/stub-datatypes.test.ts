/**
 * Every datatype through the real server and a real stub (all_types: IN_<DT> → OUT_<DT>), binary
 * and JSON: what goes in comes back byte for byte, including the bit patterns a float conversion
 * would destroy (NaN payloads, -0, subnormals) and the integers a double cannot hold.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inferBinary, postJson, type RunningServer } from "./harness.js";
import { bytesOf, decodeBytes, encodeBytes, segmentsOf, startStubServer, stopCleanly } from "./stub-helpers.js";

interface Input { name: string; datatype: string; shape: number[]; data: Uint8Array }

const u32 = (...bits: number[]) => bytesOf(Uint32Array.from(bits));
const u16 = (...bits: number[]) => bytesOf(Uint16Array.from(bits));
const u64 = (...bits: bigint[]) => bytesOf(BigUint64Array.from(bits));

/** One input per datatype, each holding its awkward values. */
function everyDatatype(): Input[] {
  const all: [string, number[], Uint8Array][] = [
    ["BOOL", [6], Uint8Array.from([1, 0, 1, 1, 0, 0])],
    ["UINT8", [256], Uint8Array.from({ length: 256 }, (_, i) => i)],
    ["UINT16", [5], u16(0, 1, 0xffff, 0x8000, 12345)],
    ["UINT32", [5], u32(0, 1, 0xffffffff, 0x80000000, 0xdeadbeef)],
    ["UINT64", [5], u64(0n, 1n, 2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n)],
    ["INT8", [5], bytesOf(Int8Array.from([-128, 127, 0, -1, 42]))],
    ["INT16", [5], bytesOf(Int16Array.from([-32768, 32767, 0, -1, 4242]))],
    ["INT32", [5], bytesOf(Int32Array.from([-(2 ** 31), 2 ** 31 - 1, 0, -1, 424242]))],
    ["INT64", [6], bytesOf(BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n]))],
    // Half floats as raw words: quiet and signalling NaN with payloads, ±inf, -0, smallest subnormal, max.
    ["FP16", [8], u16(0x7e01, 0x7c01, 0xfc00, 0x7c00, 0x8000, 0x0001, 0x7bff, 0x3c00)],
    // Single floats as raw bits: NaN payloads (quiet, signalling, negative), -0, subnormal, inf, max.
    ["FP32", [8], u32(0x7fc00001, 0x7f800001, 0xffc12345, 0x80000000, 0x00000001, 0x7f800000, 0x7f7fffff, 0x3dcccccd)],
    ["FP64", [6], u64(0x7ff0000000000001n, 0x7ff8deadbeef0001n, 0xfff8000000000000n, 0x8000000000000000n, 1n, 0x3fb999999999999an)],
    ["BF16", [6], u16(0x7fc1, 0x7f81, 0xff80, 0x8000, 0x0001, 0x3f80)],
    ["BYTES", [9], encodeBytes([
      "", "\0", "a\0b\0", "héllo wörld", "日本語テキスト", "🎉🚀", Uint8Array.from([0xff, 0xfe, 0x00, 0xc3]),
      "x".repeat(70_000), "",
    ])],
  ];
  return [
    ...all.map(([dt, shape, data]) => ({ name: `IN_${dt}`, datatype: dt, shape, data })),
    { name: "IN_3D", datatype: "INT16", shape: [2, 3, 4], data: bytesOf(Int16Array.from({ length: 24 }, (_, i) => i * 1000 - 12000)) },
  ];
}

/** POST a JSON infer request and return the raw response text (JSON.parse would round INT64). */
async function inferText(url: string, model: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}/v2/models/${model}/infer`, {
    method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" },
  });
  return { status: res.status, text: await res.text() };
}

describe("stub datatypes", () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startStubServer(["all_types"]);
  });
  afterAll(async () => {
    await server?.stop("SIGKILL");
  });

  it("round-trips every datatype in one binary request, byte for byte", async () => {
    const inputs = everyDatatype();
    const r = await inferBinary(server.url, "all_types", inputs);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.outputs).toHaveLength(inputs.length);
    for (const input of inputs) {
      const outName = input.name.replace(/^IN_/, "OUT_");
      const meta = r.json.outputs.find((o: { name: string }) => o.name === outName);
      expect(meta, outName).toBeDefined();
      expect(meta.datatype, outName).toBe(input.datatype);
      expect(meta.shape, outName).toEqual(input.shape);
      const got = r.outputs.get(outName)!;
      expect(got.byteLength, outName).toBe(input.data.byteLength);
      expect(Buffer.compare(Buffer.from(got), Buffer.from(input.data)), `${outName} bytes differ`).toBe(0);
    }
  });

  it("BYTES: empty, NUL, multi-byte UTF-8, invalid UTF-8 and 20000 elements come back as sent", async () => {
    const elements: Uint8Array[] = [];
    for (let i = 0; i < 20_000; i++) {
      const kind = i % 5;
      elements.push(
        kind === 0 ? new Uint8Array(0)
          : kind === 1 ? Uint8Array.from([0])
            : kind === 2 ? Buffer.from(`élément ${i} ✓ 𝄞`, "utf8")
              : kind === 3 ? randomBytes(i % 97)
                : Buffer.from(String(i)),
      );
    }
    const data = encodeBytes(elements);
    const r = await inferBinary(server.url, "all_types", [{ name: "IN_BYTES", datatype: "BYTES", shape: [elements.length], data }]);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.outputs[0].shape).toEqual([20_000]);
    const back = decodeBytes(r.outputs.get("OUT_BYTES")!);
    expect(back).toHaveLength(elements.length);
    for (let i = 0; i < elements.length; i++) {
      if (Buffer.compare(back[i], Buffer.from(elements[i])) !== 0) {
        throw new Error(`element ${i} differs: sent ${Buffer.from(elements[i]).toString("hex")}, got ${back[i].toString("hex")}`);
      }
    }
  });

  it("a single empty BYTES element, and zero-element tensors, round-trip", async () => {
    const r = await inferBinary(server.url, "all_types", [
      { name: "IN_BYTES", datatype: "BYTES", shape: [1], data: encodeBytes([""]) },
      { name: "IN_FP32", datatype: "FP32", shape: [0], data: new Uint8Array(0) },
      { name: "IN_INT64", datatype: "INT64", shape: [0], data: new Uint8Array(0) },
    ]);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const byName = Object.fromEntries(r.json.outputs.map((o: { name: string }) => [o.name, o]));
    expect(byName.OUT_BYTES.shape).toEqual([1]);
    expect(Array.from(r.outputs.get("OUT_BYTES")!)).toEqual([0, 0, 0, 0]);
    expect(byName.OUT_FP32.shape).toEqual([0]);
    expect(byName.OUT_FP32.parameters.binary_data_size).toBe(0);
    expect(byName.OUT_INT64.shape).toEqual([0]);
  });

  it("JSON-encoded inputs and outputs, for every datatype JSON allows", async () => {
    const strings = ["", "plain", "nul\u0000inside", "héllo wörld", "日本語", "🎉", "quote \" and \\ backslash"];
    const body = {
      inputs: [
        { name: "IN_BOOL", datatype: "BOOL", shape: [3], data: [true, false, true] },
        { name: "IN_UINT8", datatype: "UINT8", shape: [3], data: [0, 128, 255] },
        { name: "IN_UINT16", datatype: "UINT16", shape: [2], data: [0, 65535] },
        { name: "IN_UINT32", datatype: "UINT32", shape: [2], data: [0, 4294967295] },
        { name: "IN_UINT64", datatype: "UINT64", shape: [2], data: [0, 9007199254740991] },
        { name: "IN_INT8", datatype: "INT8", shape: [2], data: [-128, 127] },
        { name: "IN_INT16", datatype: "INT16", shape: [2], data: [-32768, 32767] },
        { name: "IN_INT32", datatype: "INT32", shape: [2], data: [-2147483648, 2147483647] },
        { name: "IN_INT64", datatype: "INT64", shape: [3], data: [-9007199254740991, 9007199254740991, -9223372036854775808] },
        { name: "IN_FP32", datatype: "FP32", shape: [4], data: [0.1, -2.5, 3.4028234663852886e38, 1e-45] },
        { name: "IN_FP64", datatype: "FP64", shape: [4], data: [0.1, -2.5, 1.7976931348623157e308, 5e-324] },
        { name: "IN_BYTES", datatype: "BYTES", shape: [strings.length], data: strings },
        { name: "IN_3D", datatype: "INT16", shape: [1, 2, 2], data: [[[1, -2], [3, -4]]] },
      ],
    };
    const { status, text } = await inferText(server.url, "all_types", body);
    expect(status, text).toBe(200);
    const json = JSON.parse(text);
    const out = Object.fromEntries(json.outputs.map((o: { name: string }) => [o.name, o]));
    expect(out.OUT_BOOL.data).toEqual([true, false, true]);
    expect(out.OUT_UINT8.data).toEqual([0, 128, 255]);
    expect(out.OUT_UINT16.data).toEqual([0, 65535]);
    expect(out.OUT_UINT32.data).toEqual([0, 4294967295]);
    expect(out.OUT_INT8.data).toEqual([-128, 127]);
    expect(out.OUT_INT16.data).toEqual([-32768, 32767]);
    expect(out.OUT_INT32.data).toEqual([-2147483648, 2147483647]);
    expect(out.OUT_FP32.data).toEqual(Array.from(Float32Array.from([0.1, -2.5, 3.4028234663852886e38, 1e-45])));
    expect(out.OUT_FP64.data).toEqual([0.1, -2.5, 1.7976931348623157e308, 5e-324]);
    expect(out.OUT_BYTES.data).toEqual(strings);
    expect(out.OUT_3D.shape).toEqual([1, 2, 2]);
    expect(out.OUT_3D.data).toEqual([1, -2, 3, -4]);
    // 64-bit integers are written as exact literals (checked in the text: JSON.parse would round).
    expect(text).toContain('"name":"OUT_UINT64","datatype":"UINT64","shape":[2],"data":[0,9007199254740991]');
    expect(text).toContain('"data":[-9007199254740991,9007199254740991,-9223372036854775808]');
  });

  it("binary 64-bit extremes come back as exact JSON literals", async () => {
    const r = await fetchBinaryInJsonOut(server.url, [
      { name: "IN_INT64", datatype: "INT64", shape: [3], data: bytesOf(BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n])) },
      { name: "IN_UINT64", datatype: "UINT64", shape: [2], data: u64(2n ** 64n - 1n, 2n ** 63n + 1n) },
    ]);
    expect(r.status, r.text).toBe(200);
    expect(r.text).toContain('"data":[-9223372036854775808,9223372036854775807,9007199254740993]');
    expect(r.text).toContain('"data":[18446744073709551615,9223372036854775809]');
  });

  it("FP16/BF16 are refused as JSON (input and output) but served as binary", async () => {
    const input = await postJson(`${server.url}/v2/models/all_types/infer`, {
      inputs: [{ name: "IN_FP16", datatype: "FP16", shape: [1], data: [1] }],
    });
    expect(input.status).toBe(400);
    expect(input.body.error).toMatch(/FP16 data via JSON is not supported.*IN_FP16/);

    const output = await fetchBinaryInJsonOut(server.url, [{ name: "IN_BF16", datatype: "BF16", shape: [1], data: u16(0x3f80) }]);
    expect(output.status).toBe(400);
    expect(JSON.parse(output.text).error).toMatch(/BF16 data via JSON is not supported.*OUT_BF16/);
  });

  it("a datatype that does not match the config is refused before the stub", async () => {
    const r = await inferBinary(server.url, "all_types", [{ name: "IN_FP32", datatype: "FP64", shape: [1], data: new Uint8Array(8) }]);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/IN_FP32.*FP64.*expects 'FP32'/);
    // The instance is unaffected.
    const ok = await inferBinary(server.url, "all_types", [{ name: "IN_FP32", datatype: "FP32", shape: [1], data: u32(0x7fc00001) }]);
    expect(ok.status).toBe(200);
    expect(Array.from(ok.outputs.get("OUT_FP32")!)).toEqual([0x01, 0x00, 0xc0, 0x7f]);
  });

  it("stops cleanly: exit 0, no segments left", async () => {
    await stopCleanly(server);
    expect(segmentsOf(server.pid)).toEqual([]);
  });
});

/** Binary inputs, every output as JSON; returns the raw text. */
async function fetchBinaryInJsonOut(url: string, inputs: Input[]): Promise<{ status: number; text: string }> {
  const header = Buffer.from(JSON.stringify({
    inputs: inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape, parameters: { binary_data_size: i.data.byteLength } })),
  }));
  const body = Buffer.concat([header, ...inputs.map((i) => Buffer.from(i.data.buffer, i.data.byteOffset, i.data.byteLength))]);
  const res = await fetch(`${url}/v2/models/all_types/infer`, {
    method: "POST", body, headers: { "inference-header-content-length": String(header.byteLength) },
  });
  return { status: res.status, text: await res.text() };
}
