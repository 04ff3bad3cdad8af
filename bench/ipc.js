// IPC round trip main → stub → main, against the floors measured in the same run:
//   raw futex ping-pong between two blocking node processes, and a process.send round trip.
// Bulk: a 64 MiB tensor round trip against a same-process 64 MiB copy.
import { fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createSegment, openSegment, publish, unlinkSegment, waitForTailBlocking } from "../dist/src/ipc/addon.js";
import { prepareHandlerModule } from "../dist/src/backends/stub/handler-module.js";
import { StubInstance } from "../dist/src/backends/stub/stub-instance.js";
import { listSegments } from "../dist/src/ipc/segments.js";
import { nowUs, summarize } from "./util.js";

const here = dirname(fileURLToPath(import.meta.url));

async function futexFloor(rounds) {
  const child = fork(join(here, "ipc-child.js"));
  const name = `/tessera-${process.pid}-benchfutex`;
  const buf = createSegment(name, 4096);
  const u32 = new Uint32Array(buf);
  const ping = 0, pong = 192;
  child.send({ type: "futex", segment: name, queues: [ping, pong], rounds });
  await new Promise((r) => child.once("message", r));
  unlinkSegment(name);
  const samples = [];
  for (let i = 1; i <= rounds; i++) {
    const t = nowUs();
    publish(buf, ping, i >>> 0);
    while (u32[(pong + 64) / 4] !== i >>> 0) waitForTailBlocking(buf, pong, (i - 1) >>> 0, 1000);
    samples.push(nowUs() - t);
  }
  child.kill();
  return summarize(samples.slice(1000));
}

async function processSend(rounds) {
  const child = fork(join(here, "ipc-child.js"));
  const samples = [];
  for (let i = 0; i < rounds; i++) {
    const t = nowUs();
    await new Promise((resolve) => {
      child.once("message", resolve);
      child.send({ type: "echo", i });
    });
    samples.push(nowUs() - t);
  }
  child.kill();
  return summarize(samples.slice(1000));
}

async function startStub() {
  const modulePath = await prepareHandlerModule(join(here, "..", "test", "fixtures", "models", "identity", "1", "model.ts"), "bench-identity");
  const stub = new StubInstance({
    modelName: "identity", modelVersion: "1", instanceName: "identity_0", modulePath, serverPid: process.pid,
    arenaBytes: 1 << 20, growthBytes: 1 << 20, queueCapacity: 1024, heartbeatMs: 1000, stubTimeoutMs: 30000,
    log: () => {}, onDeath: () => {},
  });
  await stub.start();
  await stub.initialize({ model_config: "{}", model_instance_kind: "CPU", model_instance_name: "identity_0",
    model_instance_device_id: "0", model_repository: "", model_version: "1", model_name: "identity" });
  return stub;
}

function request(data) {
  return { model: "identity", id: "", parameters: {}, inputs: [{ name: "INPUT0", datatype: "FP32", shape: [data.byteLength / 4], data }] };
}

export async function run(args) {
  const calls = Number(args[0] ?? 100_000);
  const stub = await startStub();
  const small = request(new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer));
  for (let i = 0; i < 2000; i++) (await stub.execute([small]))[0].release();
  const samples = new Float64Array(calls);
  for (let i = 0; i < calls; i++) {
    const t = nowUs();
    const [r] = await stub.execute([small]);
    r.release();
    samples[i] = nowUs() - t;
  }
  const served = summarize(samples);

  // Bulk: 64 MiB through the identity handler and back, versus one same-process copy.
  const size = 64 << 20;
  const big = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) big[i] = i & 0xff;
  const bigReq = request(big);
  const target = new Uint8Array(size);
  let copyMs = Infinity, rtMs = Infinity;
  for (let k = 0; k < 5; k++) {
    let t = performance.now();
    target.set(big);
    copyMs = Math.min(copyMs, performance.now() - t);
    t = performance.now();
    const [r] = await stub.execute([bigReq]);
    const out = r.outputs[0].data;
    rtMs = Math.min(rtMs, performance.now() - t);
    if (out[4096] !== big[4096] || out.byteLength !== size) throw new Error("bulk round trip corrupted the tensor");
    r.release();
  }
  await stub.stop();

  const futex = await futexFloor(50_000);
  const send = await processSend(20_000);
  const left = listSegments(process.pid);
  const mibs = (ms) => +((size / 2 ** 20) / (ms / 1000)).toFixed(0);
  console.log(`round trip, 16-byte FP32 via identity handler: p50 ${served.p50} µs, p99 ${served.p99} µs (${served.n} calls)`);
  console.log(`  floor, blocking futex ping-pong:            p50 ${futex.p50} µs, p99 ${futex.p99} µs`);
  console.log(`  baseline, process.send round trip:          p50 ${send.p50} µs, p99 ${send.p99} µs`);
  console.log(`  served / process.send (p50): ${(served.p50 / send.p50).toFixed(2)}×   (goal ≤ 0.7×, p50 ≤ 25 µs)`);
  console.log(`bulk 64 MiB round trip: ${rtMs.toFixed(1)} ms = ${mibs(rtMs)} MiB/s; same-process copy ${copyMs.toFixed(1)} ms = ${mibs(copyMs)} MiB/s; ratio ${(copyMs / rtMs).toFixed(2)} (goal ≥ 0.40)`);
  if (left.length > 0) console.log(`WARNING: segments left: ${left.join(", ")}`);
  return {
    calls, p50_us: served.p50, p99_us: served.p99,
    futex_p50_us: futex.p50, futex_p99_us: futex.p99,
    process_send_p50_us: send.p50, process_send_p99_us: send.p99,
    ratio_vs_process_send: +(served.p50 / send.p50).toFixed(3),
    bulk_64mib_rt_ms: +rtMs.toFixed(2), copy_64mib_ms: +copyMs.toFixed(2), bulk_ratio: +(copyMs / rtMs).toFixed(3),
    segments_left: left.length,
  };
}
