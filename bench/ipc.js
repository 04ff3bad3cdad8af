// IPC round trip main → stub → main of a 16-byte tensor through an identity handler, against
// baselines measured in the same run and at the same placement: a raw futex ping-pong between two
// blocking processes (the wake-up floor), the event-loop floor (the same Doorbell and queues as
// tessera between two Node processes, with no message body: what any transport on Node's event
// loop pays before it does any work), and a process.send round trip. Each runs twice: both
// processes pinned to one CPU ("same"), and pinned to two different CPUs ("cross").
// Bulk: a 64 MiB tensor round trip against a same-process 64 MiB copy.
import { execFileSync, fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Doorbell, closeFd, createEventFd, createSegment, publish, unlinkSegment, waitForTailBlocking } from "../dist/src/ipc/addon.js";
import { DEFAULT_SPIN_US } from "../dist/src/ipc/endpoint.js";
import { QUEUE, controlLayout, writeHeader } from "../dist/src/ipc/layout.js";
import { prepareHandlerModule } from "../dist/src/backends/stub/handler-module.js";
import { StubInstance } from "../dist/src/backends/stub/stub-instance.js";
import { listSegments } from "../dist/src/ipc/segments.js";
import { nowUs, summarize } from "./util.js";

const here = dirname(fileURLToPath(import.meta.url));
const CLK_TCK = 100;

/** Pins every thread of `pid` to `cpu` (taskset); false where taskset is missing. */
function pin(pid, cpu) {
  try {
    execFileSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** CPU time (µs) a process has used so far, from /proc. */
function cpuUs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1e6;
}

async function futexFloor(rounds, cpu) {
  const child = fork(join(here, "ipc-child.js"));
  pin(child.pid, cpu);
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

/** Doorbell ping-pong between this process and a Node child, both on their event loops. */
async function loopFloor(rounds, cpu) {
  const layout = controlLayout(64, 4096);
  const name = `/tessera-${process.pid}-benchloop`;
  const buf = createSegment(name, layout.totalSize);
  writeHeader(buf, layout);
  const [ping, pong] = layout.queue;
  const fds = [createEventFd(), createEventFd()]; // rings the child (queue 0), rings us (queue 1)
  const child = fork(join(here, "ipc-child.js"), [], { stdio: ["ignore", "inherit", "inherit", "ipc", fds[0], fds[1]] });
  pin(child.pid, cpu);
  child.send({ type: "loop", segment: name, queues: [ping, pong], spinUs: DEFAULT_SPIN_US });
  await new Promise((r) => child.once("message", r));
  unlinkSegment(name);
  const u32 = new Uint32Array(buf);
  let answered = null;
  const bell = new Doorbell(fds[1], buf, pong, DEFAULT_SPIN_US, () => {
    const tail = Atomics.load(u32, (pong + QUEUE.tail) / 4);
    Atomics.store(u32, (pong + QUEUE.head) / 4, tail);
    if (answered) answered(tail);
  });
  const samples = [];
  for (let i = 1; i <= rounds; i++) {
    const t = nowUs();
    await new Promise((resolve) => {
      answered = (tail) => tail === i >>> 0 && resolve();
      publish(buf, ping, i >>> 0, fds[0]);
      bell.arm();
    });
    samples.push(nowUs() - t);
  }
  bell.close();
  child.kill();
  for (const fd of fds) closeFd(fd);
  return summarize(samples.slice(1000));
}

async function processSend(rounds, cpu) {
  const child = fork(join(here, "ipc-child.js"));
  pin(child.pid, cpu);
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

async function tessera(calls, cpu) {
  const stub = await startStub();
  pin(stub.pid, cpu);
  const small = request(new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer));
  for (let i = 0; i < 2000; i++) (await stub.execute([small]))[0].release();
  const samples = new Float64Array(calls);
  const cpu0 = cpuUs(process.pid) + cpuUs(stub.pid);
  for (let i = 0; i < calls; i++) {
    const t = nowUs();
    const [r] = await stub.execute([small]);
    r.release();
    samples[i] = nowUs() - t;
  }
  const cpuPerRt = (cpuUs(process.pid) + cpuUs(stub.pid) - cpu0) / calls;
  return { stub, served: summarize(samples), cpuPerRt };
}

async function bulk(stub) {
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
  return { size, copyMs, rtMs };
}

export async function run(args) {
  const calls = Number(args[0] ?? process.env.BENCH_CALLS ?? 30_000);
  const canPin = cpus().length >= 2 && pin(process.pid, 0);
  if (!canPin) console.log("note: taskset unavailable or one CPU: placements are not pinned");
  const result = { calls };
  const placements = [["same", 0], ["cross", 1]];
  let bulkFigures = null;
  let cpuPerRt = 0;
  for (const [placement, cpu] of placements) {
    // Main stays on CPU 0; the other process goes to CPU 0 (same) or 1 (cross).
    const { stub, served, cpuPerRt: cpuRt } = await tessera(calls, cpu);
    if (placement === "cross") {
      cpuPerRt = cpuRt;
      bulkFigures = await bulk(stub);
    }
    await stub.stop();
    const futex = await futexFloor(Math.min(calls, 30_000), cpu);
    const loop = await loopFloor(Math.min(calls, 30_000), cpu);
    const send = await processSend(Math.min(calls, 20_000), cpu);
    const ratio = served.p50 / send.p50;
    console.log(`${placement} CPU: round trip, 16-byte FP32 via identity handler: p50 ${served.p50} µs, p99 ${served.p99} µs (${served.n} calls, ${cpuRt.toFixed(1)} µs CPU each, both processes)`);
    console.log(`  floor, blocking futex ping-pong:            p50 ${futex.p50} µs, p99 ${futex.p99} µs   (tessera/floor ${(served.p50 / futex.p50).toFixed(2)}×, goal ≤ 3)`);
    console.log(`  floor, event-loop doorbell ping-pong:       p50 ${loop.p50} µs, p99 ${loop.p99} µs   (tessera/event-loop floor ${(served.p50 / loop.p50).toFixed(2)}×)`);
    console.log(`  baseline, process.send round trip:          p50 ${send.p50} µs, p99 ${send.p99} µs   (tessera/process.send ${ratio.toFixed(2)}×, goal ≤ ${placement === "cross" ? "0.3" : "1.0"})`);
    result[`p50_${placement}_us`] = served.p50;
    result[`p99_${placement}_us`] = served.p99;
    result[`floor_${placement}_us`] = futex.p50;
    result[`loop_floor_${placement}_us`] = loop.p50;
    result[`send_${placement}_us`] = send.p50;
    result[`ratio_${placement}`] = +ratio.toFixed(3);
    result[`floor_ratio_${placement}`] = +(served.p50 / futex.p50).toFixed(3);
  }
  if (canPin) pin(process.pid, `0-${cpus().length - 1}`);
  const { size, copyMs, rtMs } = bulkFigures;
  const mibs = (ms) => +((size / 2 ** 20) / (ms / 1000)).toFixed(0);
  console.log(`bulk 64 MiB round trip (cross): ${rtMs.toFixed(1)} ms = ${mibs(rtMs)} MiB/s; same-process copy ${copyMs.toFixed(1)} ms = ${mibs(copyMs)} MiB/s; ratio ${(copyMs / rtMs).toFixed(2)} (goal ≥ 0.5)`);
  const left = listSegments(process.pid);
  if (left.length > 0) console.log(`WARNING: segments left: ${left.join(", ")}`);
  return {
    ...result, placement: canPin ? "main on CPU 0; other process on CPU 0 (same) or CPU 1 (cross)" : "unpinned",
    cpu_us_per_rt: +cpuPerRt.toFixed(2),
    bulk_64mib_rt_ms: +rtMs.toFixed(2), copy_64mib_ms: +copyMs.toFixed(2), bulk_ratio: +(copyMs / rtMs).toFixed(3),
    segments_left: left.length,
  };
}
