/**
 * deploy/'s manifests, offline: each one valid for its kind (kubernetes-models; KServe's CRD
 * schemas with ajv, strict about unknown fields), and what the issue asks of each, checked against
 * the server itself: the args parse with tessera's own CLI, the probes hit its health paths on
 * the ports it listens on, the grace period outlasts drain + exit timeout, the HPA's metric is
 * one the server exports and the adapter serves.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseArgs } from "../../../src/cli.js";
import { ENV_FLAGS, withEnvArgs } from "../../../src/deploy/env-args.js";
import { DEPLOY, type Manifest, VALIDATED_KINDS, loadManifests, manifest, validate, validatePodSpec } from "./manifests.js";

const clone = <T>(x: T): T => structuredClone(x);
// ajv compiles the InferenceService schema (640 KB) once, in ~10 s; far longer on a busy machine.
const COMPILE_MS = 240_000;

describe("deploy/ manifests", () => {
  const all = loadManifests();

  it("are all validated, each for its kind", () => {
    expect(all.length).toBeGreaterThanOrEqual(9);
    for (const { file, doc } of all) {
      if (doc.apiVersion.startsWith("mlops.seldon.io/")) continue; // no vendored schema: checked below
      expect(VALIDATED_KINDS, file).toContain(`${doc.apiVersion}/${doc.kind}`);
      expect(validate(doc), file).toEqual([]);
    }
  }, COMPILE_MS);

  it("reject what the cluster would reject: a misspelled field, a wrong type", () => {
    const sr = clone(manifest("ServingRuntime"));
    sr.spec.containers[0].imagePullPolicyy = "Always";
    expect(validate(sr).join()).toMatch(/additional properties/);
    const isvc = clone(manifest("InferenceService"));
    isvc.spec.predictor.minReplicas = "two";
    expect(validate(isvc).join()).toMatch(/must be integer/);
    const dep = clone(manifest("Deployment"));
    dep.spec.replicas = "two";
    expect(validate(dep).join()).toMatch(/must be integer/);
    expect(validatePodSpec({ ...manifest("Deployment").spec.template.spec, terminationGracePeriodSecond: 1 }).join()).toMatch(/additional properties/);
    const pm = clone(manifest("PodMonitor"));
    pm.spec.podMetricsEndpoints[0].port = 8002;
    expect(validate(pm).join()).toMatch(/must be string/);
  }, COMPILE_MS);

  it("KServe ServingRuntime: formats, protocols, container, ports, metrics annotations", () => {
    const sr = manifest("ServingRuntime").spec;
    const formats = sr.supportedModelFormats;
    expect(formats.map((f: { name: string }) => f.name)).toEqual(expect.arrayContaining(["tessera", "triton"]));
    for (const f of formats) expect(f).toMatchObject({ autoSelect: true, priority: expect.any(Number) });
    expect(sr.protocolVersions).toEqual(["v2", "grpc-v2"]);
    expect(sr.containers).toHaveLength(1);
    const c = sr.containers[0];
    expect(c.name).toBe("kserve-container");
    const o = parseArgs(c.args);
    expect(o.modelRepositories).toEqual(["/mnt/models"]);
    expect(o.httpPort).toBe(8080);
    const h2c = c.ports.find((p: { name: string }) => p.name === "h2c");
    expect(h2c.containerPort).toBe(o.grpcPort);
    expect(c.ports.some((p: { containerPort: number }) => p.containerPort === 8080)).toBe(true);
    expect(sr.annotations).toEqual({ "prometheus.kserve.io/port": String(o.metricsPort), "prometheus.kserve.io/path": "/metrics" });
    expect(c.args).toContain("--model-repository=/mnt/models");
  });

  it("the example InferenceService serves the Korean embedding ensemble with the runtime", () => {
    const isvc = manifest("InferenceService");
    const m = isvc.spec.predictor.model;
    expect(m.runtime).toBe(manifest("ServingRuntime").metadata.name);
    expect(manifest("ServingRuntime").spec.supportedModelFormats.map((f: { name: string }) => f.name)).toContain(m.modelFormat.name);
    expect(m.storageUri).toMatch(/^(s3|gs|pvc|https?):\/\//);
    expect(isvc.metadata.name).toMatch(/embedding/);
    expect(readFileSync(join(DEPLOY, "kserve", "inferenceservice-embedding.yaml"), "utf8")).toMatch(/embedding,tokenizer,text_encoder/);
    const sr = manifest("ServingRuntime").spec.containers[0];
    const timeouts = parseArgs(sr.args);
    expect(isvc.spec.predictor.terminationGracePeriodSeconds).toBeGreaterThan(timeouts.exitTimeoutSecs + (timeouts.drainDelaySecs ?? 0));
  });

  for (const [what, container] of [
    ["ServingRuntime", () => manifest("ServingRuntime").spec.containers[0]],
    ["Deployment", () => manifest("Deployment").spec.template.spec.containers[0]],
  ] as const) {
    it(`${what}: probes on /v2/health/live and /v2/health/ready, on the HTTP port; non-root, capabilities dropped`, () => {
      const c = container();
      const o = parseArgs(withEnvArgs(c.args, Object.fromEntries((c.env ?? []).map((e: { name: string; value: string }) => [e.name, e.value]))));
      const port = (p: number | string) => (typeof p === "number" ? p : c.ports.find((x: { name: string }) => x.name === p).containerPort);
      expect(c.livenessProbe.httpGet.path).toBe("/v2/health/live");
      expect(c.readinessProbe.httpGet.path).toBe("/v2/health/ready");
      expect(port(c.livenessProbe.httpGet.port)).toBe(o.httpPort);
      expect(port(c.readinessProbe.httpGet.port)).toBe(o.httpPort);
      expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
      expect(c.securityContext.runAsNonRoot ?? manifest("Deployment").spec.template.spec.securityContext.runAsNonRoot).toBe(true);
      // Writable places for a read-only root: /tmp, and /dev/shm in memory.
      expect(c.volumeMounts.map((m: { mountPath: string }) => m.mountPath)).toEqual(expect.arrayContaining(["/dev/shm", "/tmp"]));
    });
  }

  it("Deployment: env names are tessera's, the pod spec is strictly valid, the grace period outlasts drain + exit timeout", () => {
    const dep = manifest("Deployment");
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    for (const e of c.env) expect(ENV_FLAGS.map(([n]) => n)).toContain(e.name);
    expect(validatePodSpec(pod)).toEqual([]);
    const o = parseArgs(withEnvArgs(c.args, Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]))));
    expect(o.drainDelaySecs).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(o.exitTimeoutSecs + o.drainDelaySecs!);
    const dshm = pod.volumes.find((v: { name: string }) => v.name === c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === "/dev/shm").name);
    expect(dshm.emptyDir.medium).toBe("Memory");
    expect(pod.volumes.find((v: { persistentVolumeClaim?: { claimName: string } }) => v.persistentVolumeClaim)?.persistentVolumeClaim.claimName)
      .toBe(manifest("PersistentVolumeClaim").metadata.name);
  }, COMPILE_MS);

  it("Service, PodMonitor, PDB and HPA point at the Deployment's pods and ports", () => {
    const dep = manifest("Deployment");
    const labels = dep.spec.template.metadata.labels;
    const portNames = dep.spec.template.spec.containers[0].ports.map((p: { name: string }) => p.name);
    const svc = manifest("Service");
    expect(labels).toMatchObject(svc.spec.selector);
    for (const p of svc.spec.ports) expect(portNames).toContain(p.targetPort);
    const pm = manifest("PodMonitor");
    expect(labels).toMatchObject(pm.spec.selector.matchLabels);
    for (const e of pm.spec.podMetricsEndpoints) expect(portNames).toContain(e.port);
    const pdb = manifest("PodDisruptionBudget");
    expect(labels).toMatchObject(pdb.spec.selector.matchLabels);
    const hpa = manifest("HorizontalPodAutoscaler");
    expect(hpa.apiVersion).toBe("autoscaling/v2");
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: "Deployment", name: dep.metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThan(pdb.spec.maxUnavailable);
  });

  it("the HPA's Pods metric is served by the adapter rules, from a metric the server exports", () => {
    const hpa = manifest("HorizontalPodAutoscaler");
    const metric = hpa.spec.metrics.find((m: { type: string }) => m.type === "Pods");
    const rules = parse((manifest("ConfigMap", "prometheus-adapter-tessera") as Manifest).data["config.yaml"]).rules;
    const rule = rules.find((r: { name: { as: string } }) => r.name.as === metric.pods.metric.name);
    expect(rule, metric.pods.metric.name).toBeDefined();
    expect(rule.resources.overrides.pod.resource).toBe("pod");
    const exported = readFileSync(join(DEPLOY, "..", "src", "metrics", "registry.ts"), "utf8");
    for (const r of rules) {
      const series = /^(\w+)\{/.exec(r.seriesQuery)![1]!;
      expect(exported).toContain(`"${series}"`);
      for (const [, name] of (r.metricsQuery as string).matchAll(/\b(nv_\w+)\{/g)) expect(exported).toContain(`"${name}"`);
    }
  });

  it("Seldon Core 2 Server: replaces the triton container, with the ports and folder Seldon's agent uses", () => {
    const server = manifest("Server");
    expect(server.apiVersion).toBe("mlops.seldon.io/v1alpha1");
    expect(server.spec.serverConfig).toBe("triton");
    const c = server.spec.podSpec.containers[0];
    expect(c.name).toBe("triton");
    const o = parseArgs(c.args);
    expect(o).toMatchObject({ modelRepositories: ["/mnt/agent/models"], httpPort: 9000, grpcPort: 9500, modelControlMode: "explicit" });
    expect(c.command.slice(0, 2)).toEqual(["/usr/bin/tini", "--"]);
  });
});
