/**
 * The built-in onnxruntime backend maps every common datatype both ways and returns only the
 * requested outputs: a generated ONNX model of Identity nodes, one per datatype, no handler.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { inferBinary, startServer, type RunningServer } from "./harness.js";

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;
const TYPES: [string, number, string][] = [
  ["F32", T.FLOAT, "FP32"], ["F16", T.FLOAT16, "FP16"], ["I64", T.INT64, "INT64"], ["I32", T.INT32, "INT32"],
  ["U8", T.UINT8, "UINT8"], ["B", T.BOOL, "BOOL"], ["S", T.STRING, "BYTES"],
];

let repo: string;
let server: RunningServer;

beforeAll(async () => {
  repo = mkdtempSync(join(tmpdir(), "tessera-onnx-types-"));
  mkdirSync(join(repo, "identity", "1"), { recursive: true });
  const io = (name: string, elemType: number) => onnx.ValueInfoProto.create({
    name, type: { tensorType: { elemType, shape: { dim: [{ dimParam: "batch" }, { dimValue: 3 }] } } },
  });
  // A second model whose tensors are only the batch dim: auto-complete gives dims [1], reshape [].
  const scalar = (name: string) => onnx.ValueInfoProto.create({
    name, type: { tensorType: { elemType: T.FLOAT, shape: { dim: [{ dimParam: "batch" }] } } },
  });
  const perRow = onnx.GraphProto.create({
    name: "per_row", node: [onnx.NodeProto.create({ opType: "Neg", input: ["X"], output: ["Y"] })],
    input: [scalar("X")], output: [scalar("Y")],
  });
  mkdirSync(join(repo, "per_row", "1"), { recursive: true });
  writeFileSync(join(repo, "per_row", "1", "model.onnx"), onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8, producerName: "tessera", opsetImport: [{ domain: "", version: 17 }], graph: perRow })).finish());
  const graph = onnx.GraphProto.create({
    name: "identity",
    node: TYPES.map(([n]) => onnx.NodeProto.create({ opType: "Identity", input: [`IN_${n}`], output: [`OUT_${n}`] })),
    input: TYPES.map(([n, t]) => io(`IN_${n}`, t)),
    output: TYPES.map(([n, t]) => io(`OUT_${n}`, t)),
  });
  const model = onnx.ModelProto.create({ irVersion: 8, producerName: "tessera", opsetImport: [{ domain: "", version: 17 }], graph });
  writeFileSync(join(repo, "identity", "1", "model.onnx"), onnx.ModelProto.encode(model).finish());
  server = await startServer(repo);
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
  rmSync(repo, { recursive: true, force: true });
});

/** Raw little-endian bytes per datatype, as the binary extension carries them. */
function bytesOf(dt: string): Uint8Array {
  const view = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (dt) {
    case "FP32": return view(new Float32Array([1.5, -2, 3]));
    case "FP16": return view(new Uint16Array([0x3c00, 0x4000, 0xc200])); // 1, 2, -3
    case "INT64": return view(new BigInt64Array([1n, -2n, 3000000000n]));
    case "INT32": return view(new Int32Array([7, -8, 9]));
    case "UINT8": return new Uint8Array([0, 128, 255]);
    case "BOOL": return new Uint8Array([1, 0, 1]);
    case "BYTES": return new Uint8Array(Buffer.concat(["a", "hé", ""].map((e) => {
      const b = Buffer.from(e);
      const n = Buffer.alloc(4);
      n.writeUInt32LE(b.length);
      return Buffer.concat([n, b]);
    })));
  }
  throw new Error(dt);
}

const VALUES: Record<string, unknown[]> = { FP32: [1.5, -2, 3], INT64: [1, -2, 3000000000], INT32: [7, -8, 9], UINT8: [0, 128, 255], BOOL: [true, false, true], BYTES: ["a", "hé", ""] };
const ALL = TYPES.map(([n, , dt]) => ({ name: `IN_${n}`, datatype: dt, shape: [1, 3], data: bytesOf(dt) }));

describe("datatypes through the built-in onnxruntime backend", () => {
  it("auto-completes one input and output per datatype", async () => {
    const cfg = await (await fetch(`${server.url}/v2/models/identity/config`)).json();
    expect(cfg.input.map((t: any) => t.data_type)).toEqual(["TYPE_FP32", "TYPE_FP16", "TYPE_INT64", "TYPE_INT32", "TYPE_UINT8", "TYPE_BOOL", "TYPE_STRING"]);
  });

  it("every datatype round-trips byte for byte (binary extension)", async () => {
    const r = await inferBinary(server.url, "identity", ALL);
    expect(r.status).toBe(200);
    for (const [n, , dt] of TYPES) {
      expect(r.json.outputs.find((x: any) => x.name === `OUT_${n}`), n).toMatchObject({ datatype: dt, shape: [1, 3] });
      expect([...r.outputs.get(`OUT_${n}`)!], n).toEqual([...bytesOf(dt)]);
    }
  });

  it("only the requested outputs come back, with JSON values", async () => {
    const r = await inferBinary(server.url, "identity", ALL, { outputs: [{ name: "OUT_S", parameters: { binary_data: false } }, { name: "OUT_I64", parameters: { binary_data: false } }], parameters: { binary_data_output: false } });
    expect(r.status).toBe(200);
    expect(r.json.outputs.map((o: any) => o.name).sort()).toEqual(["OUT_I64", "OUT_S"]);
    expect(r.json.outputs.find((o: any) => o.name === "OUT_S").data).toEqual(VALUES.BYTES);
    expect(r.json.outputs.find((o: any) => o.name === "OUT_I64").data.map(Number)).toEqual(VALUES.INT64);
  });

  it("a tensor that is only the batch dim gets dims [1] with reshape [], and serves", async () => {
    const cfg = await (await fetch(`${server.url}/v2/models/per_row/config`)).json();
    expect(cfg.input[0]).toMatchObject({ name: "X", dims: [1], reshape: { shape: [] } });
    const x = new Float32Array([1, -2, 3]);
    const r = await inferBinary(server.url, "per_row", [{ name: "X", datatype: "FP32", shape: [3, 1], data: new Uint8Array(x.buffer) }]);
    expect(r.status).toBe(200);
    expect(r.json.outputs[0]).toMatchObject({ name: "Y", shape: [3, 1] });
    expect([...new Float32Array(r.outputs.get("Y")!.slice().buffer)]).toEqual([-1, 2, -3]);
  });

  it("a missing input is refused with a message naming it", async () => {
    const r = await inferBinary(server.url, "identity", ALL.slice(1));
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/IN_F32/);
  });
});
