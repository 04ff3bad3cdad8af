// add_sub over HTTP keep-alive (JSON and binary bodies) at several concurrencies, beside a bare
// node:http server in its own process answering a same-size JSON body, from the same client.
import { fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { load, startTessera } from "./util.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

const jsonBody = Buffer.from(JSON.stringify({ inputs: [
  { name: "INPUT0", shape: [4], datatype: "FP32", data: [1, 2, 3, 4] },
  { name: "INPUT1", shape: [4], datatype: "FP32", data: [1, 1, 1, 1] },
] }));
const binHeader = Buffer.from(JSON.stringify({
  inputs: [
    { name: "INPUT0", shape: [4], datatype: "FP32", parameters: { binary_data_size: 16 } },
    { name: "INPUT1", shape: [4], datatype: "FP32", parameters: { binary_data_size: 16 } },
  ],
  parameters: { binary_data_output: true },
}));
const binBody = Buffer.concat([binHeader, Buffer.from(new Float32Array([1, 2, 3, 4]).buffer), Buffer.from(new Float32Array([1, 1, 1, 1]).buffer)]);

export async function run() {
  const tessera = await startTessera([join(root, "examples", "model_repository")]);
  const probe = await fetch(`http://127.0.0.1:${tessera.port}/v2/models/add_sub/infer`, { method: "POST", body: jsonBody });
  const answer = await probe.text();
  if (probe.status !== 200) throw new Error(`add_sub failed: ${answer}`);
  const bare = fork(join(here, "http-bare-child.js"), [answer]);
  const barePort = await new Promise((r) => bare.once("message", (m) => r(m.port)));

  const rows = [];
  for (const c of [1, 16, 64]) {
    // Each side runs twice, alternating, and the better run counts: this VM's noise comes in bursts.
    const best = (a, b) => (b && b.rps > a.rps ? b : a);
    let json, binary, base;
    for (let k = 0; k < 2; k++) {
      json = best(await load(tessera.port, "/v2/models/add_sub/infer", jsonBody, { "content-type": "application/json" }, c), json);
      binary = best(await load(tessera.port, "/v2/models/add_sub/infer", binBody,
        { "inference-header-content-length": binHeader.length, "content-type": "application/octet-stream" }, c), binary);
      base = best(await load(barePort, "/", jsonBody, { "content-type": "application/json" }, c), base);
    }
    rows.push({ c, json, binary, bare: base });
    console.log(`c=${String(c).padEnd(3)} add_sub JSON ${json.rps} req/s (p50 ${json.p50_us} µs) | binary ${binary.rps} req/s (p50 ${binary.p50_us} µs) | bare node:http ${base.rps} req/s (p50 ${base.p50_us} µs) | JSON/bare ${(json.rps / base.rps).toFixed(2)}, binary/bare ${(binary.rps / base.rps).toFixed(2)}`);
  }
  bare.kill();
  await tessera.stop();
  const at64 = rows.find((r) => r.c === 64);
  console.log(`goal at c=64: ≥ 0.70 of the bare server; JSON ${(at64.json.rps / at64.bare.rps).toFixed(2)}, binary ${(at64.binary.rps / at64.bare.rps).toFixed(2)}`);
  return {
    seconds_per_run: Number(process.env.BENCH_SECONDS ?? 3),
    results: rows,
    ratio_json_c64: +(at64.json.rps / at64.bare.rps).toFixed(3),
    ratio_binary_c64: +(at64.binary.rps / at64.bare.rps).toFixed(3),
  };
}
