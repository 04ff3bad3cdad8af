/**
 * BYTES element counts and round trips, and the repository's parameter checks, against the real
 * server (test/fixtures/bytes-repo): Triton's texts and statuses over HTTP JSON and binary.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { FIXTURES, inferBinary, postJson, startServer, type RunningServer } from "./harness.js";

const serialize = (elements: Uint8Array[]) => Buffer.concat(elements.flatMap((e) => {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(e.byteLength);
  return [len, Buffer.from(e)];
}));
const int32 = { name: "INPUT0", datatype: "INT32", shape: [2], data: new Uint8Array(8) };
const strings = (n: number) => serialize(Array.from({ length: n }, (_, i) => Buffer.from(`s${i}`)));

describe("BYTES and repository parameters, as Triton answers them", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(join(FIXTURES, "bytes-repo"), { args: ["--model-control-mode", "explicit", "--load-model", "*"] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("counts BYTES elements over binary and JSON, too few and too many, in Triton's input order", async () => {
    const ok = await inferBinary(server.url, "bytes_pair", [int32, { name: "INPUT1", datatype: "BYTES", shape: [16], data: strings(16) }]);
    expect(ok.status).toBe(200);
    const few = await inferBinary(server.url, "bytes_pair", [int32, { name: "INPUT1", datatype: "BYTES", shape: [16], data: strings(14) }]);
    expect(few).toMatchObject({ status: 400, json: { error: "[request id: <id_unknown>] expected 16 string elements for inference input 'INPUT1' for model 'bytes_pair', got 14" } });
    const many = await inferBinary(server.url, "bytes_pair", [int32, { name: "INPUT1", datatype: "BYTES", shape: [16], data: strings(17) }]);
    expect(many.json.error).toBe("[request id: <id_unknown>] unexpected number of string elements 17 for inference input 'INPUT1' for model 'bytes_pair', expecting 16");
    const json = await postJson(`${server.url}/v2/models/bytes_pair/infer`, {
      id: "j", inputs: [{ name: "INPUT1", datatype: "BYTES", shape: [16], data: Array(14).fill("a") }, { name: "INPUT0", datatype: "FP32", shape: [2], data: [1, 2] }],
    });
    // INPUT1 comes first in this request: its count is reported before INPUT0's datatype.
    expect(json).toEqual({ status: 400, body: { error: "[request id: j] expected 16 string elements for inference input 'INPUT1' for model 'bytes_pair', got 14" } });
  });

  it("echoes arbitrary bytes unchanged, as binary and as JSON output", async () => {
    const elements = [Buffer.from([0xed, 0xa0, 0x80]), Buffer.alloc(0), Buffer.from([0, 0xff, 0x22, 0x5c])];
    const data = serialize(elements);
    const bin = await inferBinary(server.url, "string_identity", [{ name: "INPUT0", datatype: "BYTES", shape: [3], data }]);
    expect(Buffer.from(bin.outputs.get("OUTPUT0")!)).toEqual(data);
    const header = Buffer.from(JSON.stringify({
      inputs: [{ name: "INPUT0", datatype: "BYTES", shape: [3], parameters: { binary_data_size: data.byteLength } }],
      outputs: [{ name: "OUTPUT0", parameters: { binary_data: false } }],
    }));
    const res = await fetch(`${server.url}/v2/models/string_identity/infer`, {
      method: "POST", body: Buffer.concat([header, data]), headers: { "inference-header-content-length": String(header.byteLength), "accept-encoding": "identity" },
    });
    const body = Buffer.from(await res.arrayBuffer());
    expect(Number(res.headers.get("content-length"))).toBe(body.byteLength);
    const out = JSON.parse(body.toString("latin1")).outputs[0].data as string[];
    expect(out.map((s) => Buffer.from(s, "latin1"))).toEqual(elements);
  });

  it("answers repository parameter type errors with Triton's texts", async () => {
    expect(await postJson(`${server.url}/v2/repository/index`, { ready: "yes" }))
      .toEqual({ status: 400, body: { error: "Invalid value for 'ready': expected a boolean" } });
    expect(await postJson(`${server.url}/v2/repository/models/string_identity/load`, { parameters: { config: {} } }))
      .toEqual({ status: 500, body: { error: "attempt to access JSON non-string as string" } });
    expect(await postJson(`${server.url}/v2/repository/models/string_identity/unload`, { parameters: { unload_dependents: 1 } }))
      .toEqual({ status: 500, body: { error: "Unable to parse 'unload_dependents': attempt to access JSON non-boolean as boolean" } });
  });

  it("fails an over-long or escaping file: override as a failed poll (500), and stays up", async () => {
    for (const path of ["A".repeat(256), "../x"]) {
      const res = await postJson(`${server.url}/v2/repository/models/string_identity/load`, { parameters: { config: "{}", [`file:${path}`]: "YQ==" } });
      expect(res).toEqual({ status: 500, body: { error: "failed to load 'string_identity', failed to poll from model repository" } });
    }
    expect(server.log()).toMatch(/Poll failed for model directory 'string_identity': .*ENAMETOOLONG/);
    expect((await fetch(`${server.url}/v2/models/string_identity/ready`)).status).toBe(200);
  });
});
