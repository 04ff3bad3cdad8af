// The other process of the ipc benchmark's baselines: a futex ponger and a process.send echo.
import { openSegment, publish, waitForTailBlocking } from "../dist/src/ipc/addon.js";

process.on("message", (m) => {
  if (m.type === "echo") return process.send(m); // data, if any, comes back as it went
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
