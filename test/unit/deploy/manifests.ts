/**
 * deploy/'s manifests, parsed, and the validators the tests check them with: kubernetes-models
 * for the core kinds and prometheus-operator's, ajv over the vendored CRD schemas for KServe's.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import { parseAllDocuments } from "yaml";
import { ConfigMap, PersistentVolumeClaim, Service } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { PodMonitor, ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

export const ROOT = join(import.meta.dirname, "..", "..", "..");
export const DEPLOY = join(ROOT, "deploy");
export const SCHEMAS = join(DEPLOY, "schemas", "kserve-v0.20.0");

export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; [k: string]: any }; [k: string]: any };

/** Every YAML document under deploy/ (schemas aside), with the file it came from. */
export function loadManifests(): { file: string; doc: Manifest }[] {
  const out: { file: string; doc: Manifest }[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory() && e.name !== "schemas") walk(p);
      else if (e.isFile() && e.name.endsWith(".yaml") && !e.name.startsWith(".")) {
        for (const d of parseAllDocuments(readFileSync(p, "utf8"))) {
          if (d.errors.length > 0) throw new Error(`${relative(ROOT, p)}: ${d.errors[0]!.message}`);
          const doc = d.toJS();
          if (doc) out.push({ file: relative(ROOT, p), doc });
        }
      }
    }
  };
  walk(DEPLOY);
  return out;
}

/** The one manifest of `kind` (named `name` where several). */
export function manifest(kind: string, name?: string): Manifest {
  const found = loadManifests().filter((m) => m.doc.kind === kind && (name === undefined || m.doc.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ""}, found ${found.length}`);
  return found[0]!.doc;
}

type Model = { validate(): void };
const CORE: Record<string, new (data: never) => Model> = {
  "v1/ConfigMap": ConfigMap, "v1/Service": Service, "v1/PersistentVolumeClaim": PersistentVolumeClaim,
  "apps/v1/Deployment": Deployment, "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "monitoring.coreos.com/v1/PodMonitor": PodMonitor, "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
};

/**
 * A CRD schema made strict: objects that list their properties reject others (as `kubectl apply`'s
 * strict field validation does), unless the schema keeps unknown fields.
 */
function strict(schema: any): any {
  if (Array.isArray(schema)) return schema.map(strict);
  if (!schema || typeof schema !== "object") return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === "properties" ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, strict(s)])) : strict(v);
  if (schema.properties && schema.additionalProperties === undefined && !schema["x-kubernetes-preserve-unknown-fields"]) {
    out.additionalProperties = false;
  }
  return out;
}

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const kserve = new Map<string, ValidateFunction>();
function kserveValidator(file: string): ValidateFunction {
  let v = kserve.get(file);
  if (!v) {
    v = ajv.compile(strict(JSON.parse(readFileSync(join(SCHEMAS, file), "utf8"))));
    kserve.set(file, v);
  }
  return v;
}
const KSERVE: Record<string, string> = {
  "serving.kserve.io/v1alpha1/ServingRuntime": "servingruntime.v1alpha1.json",
  "serving.kserve.io/v1beta1/InferenceService": "inferenceservice.v1beta1.json",
};

/** Kinds validated here; Seldon's have no vendored schema and get checked field by field. */
export const VALIDATED_KINDS = [...Object.keys(CORE), ...Object.keys(KSERVE)];

/** Errors for one manifest ([] when valid); throws for a kind nothing here validates. */
export function validate(doc: Manifest): string[] {
  const key = `${doc.apiVersion}/${doc.kind}`;
  const Core = CORE[key];
  if (Core) {
    try {
      new Core(doc as never).validate();
      return [];
    } catch (err) {
      return [(err as Error).message];
    }
  }
  const file = KSERVE[key];
  if (!file) throw new Error(`no validator for ${key}`);
  const v = kserveValidator(file);
  return v(doc) ? [] : (v.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
}

/** A pod spec checked strictly against the PodSpec that KServe's predictor schema carries. */
export function validatePodSpec(podSpec: object): string[] {
  const isvc = { apiVersion: "serving.kserve.io/v1beta1", kind: "InferenceService", metadata: { name: "pod-spec-check" }, spec: { predictor: podSpec } };
  return validate(isvc as Manifest);
}
