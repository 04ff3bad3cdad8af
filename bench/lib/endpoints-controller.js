// The rolling-restart harness's "Kubernetes" (bench/lib/rolling-restart.js), in a worker thread
// so that the load generator's busy event loop does not delay it: probes each replica's
// /v2/health/ready every probeMs (kubelet's readiness probe) and, when the ready set changes,
// rewrites nginx's upstreams to the ready replicas and reloads nginx (the EndpointSlice and an
// ingress controller's part). Posts { at, ready } after each reload.
import { writeFileSync } from "node:fs";
import http from "node:http";
import { parentPort, workerData } from "node:worker_threads";


function probe(address) {
  return new Promise((resolve) => {
    const [host, port] = address.split(":");
    const req = http.get({ host, port, path: "/v2/health/ready", timeout: 500, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
  });
}

export function upstreams(ready) {
  const servers = (key) => ready.map((r) => `    server ${r[key]};`).join("\n");
  // keepalive_timeout below the replicas' own idle timeout (Node's 5 s): nginx never reuses a
  // connection that the replica is closing.
  return `upstream tessera_http {\n${servers("http")}\n    keepalive 64;\n    keepalive_timeout 4s;\n}\n` +
    `upstream tessera_grpc {\n${servers("grpc")}\n    keepalive 64;\n    keepalive_timeout 4s;\n}\n`;
}

if (parentPort && workerData) {
  const { replicas, upstreamsFile, nginxPid, probeMs } = workerData;
  let stopped = false;
  parentPort.on("message", (m) => { if (m === "stop") stopped = true; });
  let ready = replicas.map(() => true);
  while (!stopped) {
    const now = await Promise.all(replicas.map((r) => probe(r.http)));
    if (now.some((v, i) => v !== ready[i]) && now.some(Boolean)) {
      ready = now;
      writeFileSync(upstreamsFile, upstreams(replicas.filter((_, i) => now[i])));
      process.kill(nginxPid, "SIGHUP");
      parentPort.postMessage({ at: Date.now(), ready: now });
    }
    await new Promise((r) => setTimeout(r, probeMs));
  }
  parentPort.postMessage("stopped");
}
