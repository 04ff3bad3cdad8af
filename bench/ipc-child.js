// The other process of the ipc benchmark's baselines: a futex ponger, an event-loop ponger (the
// same Doorbell and queue indices as an Endpoint, with no message body), and a process.send echo.
import { Doorbell, openSegment, publish, waitForTailBlocking } from "../dist/src/ipc/addon.js";
import { QUEUE } from "../dist/src/ipc/layout.js";

// The event-loop ponger's doorbells: spawn's stdio slots after stdin, stdout, stderr, ipc.
const LOOP_FD_IN = 4, LOOP_FD_OUT = 5;
let bell = null;

process.on("message", (m) => {
  if (m.type === "echo") return process.send(m); // data, if any, comes back as it went
  if (m.type === "loop") return loopPonger(m);
  if (m.type !== "futex") return;
  const buf = openSegment(m.segment);
  const u32 = new Uint32Array(buf);
  const [ping, pong] = m.queues;
  process.send({ type: "ready" });
  // Blocking ping-pong: wait for main's tail to move, answer by moving ours.
  for (let i = 1; i <= m.rounds; i++) {
    while (u32[(ping + 64) / 4] !== i >>> 0) waitForTailBlocking(buf, ping, (i - 1) >>> 0, 1000);
    publish(buf, pong, i >>> 0);
  }
});

/** Answers each descriptor main publishes on queue 0 with one on queue 1, from a Doorbell callback. */
function loopPonger(m) {
  const buf = openSegment(m.segment);
  const u32 = new Uint32Array(buf);
  const [ping, pong] = m.queues;
  bell = new Doorbell(LOOP_FD_IN, buf, ping, m.spinUs, () => {
    const tail = Atomics.load(u32, (ping + QUEUE.tail) / 4);
    Atomics.store(u32, (ping + QUEUE.head) / 4, tail);
    publish(buf, pong, tail, LOOP_FD_OUT);
    bell.arm();
  });
  process.send({ type: "ready" });
}
