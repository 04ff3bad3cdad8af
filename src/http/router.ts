/**
 * The KServe v2 paths this front end serves, matched by hand: splitting one short path is cheaper
 * than a regex table or a framework, and the set of routes is small and fixed.
 *
 * Matching follows Triton's http_server.cc: a version is digits only, empty segments (`//`, a
 * trailing `/`) match nothing, and a known path with the wrong method is 405, not 404.
 */
import type { RestrictedCategory } from "../core/restricted.js";

export type Route =
  | { kind: "server-metadata" }
  | { kind: "health"; probe: "live" | "ready" }
  | { kind: "model-metadata"; model: string; version?: string }
  | { kind: "model-config"; model: string; version?: string }
  | { kind: "model-ready"; model: string; version?: string }
  | { kind: "infer"; model: string; version?: string }
  /** Generate extension: one JSON response, or (stream) Server-Sent Events. */
  | { kind: "generate"; model: string; version?: string; stream: boolean }
  /** Statistics extension; no model: every model. */
  | { kind: "model-stats"; model?: string; version?: string }
  /** `repository` is set when the client named one: Triton rejects that as unsupported. */
  | { kind: "repository-index"; repository?: string }
  | { kind: "repository-load" | "repository-unload"; model: string; repository?: string }
  /** Logging extension: GET reads the settings, POST changes them. */
  | { kind: "logging" }
  /** Shared-memory extension: systemsharedmemory or cudasharedmemory, [region/{name}/]action. */
  | { kind: "shared-memory"; memory: "system" | "cuda"; action: "register" | "unregister" | "status"; region?: string }
  /** Trace extension: GET reads, POST updates then reads; no model: the global setting. */
  | { kind: "trace-setting"; model?: string };

/** `route` is set for a wrong method too: Triton checks a restriction before the method. */
export type RouteMatch =
  | { kind: "found"; route: Route }
  | { kind: "method-not-allowed"; allow: "GET" | "POST" | "GET, POST"; route: Route }
  | { kind: "not-found" };

const NOT_FOUND: RouteMatch = { kind: "not-found" };

export function matchRoute(method: string | undefined, url: string | undefined): RouteMatch {
  const route = parsePath(url ?? "");
  if (route === null) return NOT_FOUND;
  // The logging extension answers both methods (Triton's HandleLogging).
  if (route.kind === "logging" && (method === "GET" || method === "POST")) return { kind: "found", route };
  if (route.kind === "trace-setting") {
    return method === "GET" || method === "POST" ? { kind: "found", route } : { kind: "method-not-allowed", allow: "GET, POST", route };
  }
  const allow = methodFor(route);
  if (method !== allow) return { kind: "method-not-allowed", allow, route };
  return { kind: "found", route };
}

/** The restricted-API category of each route, as Triton's handlers name them (http_server.cc). */
export function routeCategory(route: Route): RestrictedCategory {
  switch (route.kind) {
    case "health":
    case "model-ready":
      return "health";
    case "server-metadata":
    case "model-metadata":
      return "metadata";
    case "model-config":
      return "model-config";
    case "infer":
    case "generate":
      return "inference";
    case "model-stats":
      return "statistics";
    case "repository-index":
    case "repository-load":
    case "repository-unload":
      return "model-repository";
    case "logging":
      return "logging";
    case "shared-memory":
      return "shared-memory";
    case "trace-setting":
      return "trace";
  }
}

function methodFor(route: Route): "GET" | "POST" {
  switch (route.kind) {
    case "infer":
    case "generate":
    case "repository-index":
    case "repository-load":
    case "repository-unload":
      return "POST";
    case "shared-memory":
      return route.action === "status" ? "GET" : "POST";
    default:
      return "GET";
  }
}

/** The route a path names, whatever the method; null when it names none. */
export function parsePath(url: string): Route | null {
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  if (path === "/v2") return { kind: "server-metadata" };
  if (!path.startsWith("/v2/")) return null;
  const seg = path.slice(4).split("/");
  for (const s of seg) if (s === "") return null;

  switch (seg[0]) {
    case "health":
      if (seg.length === 2 && (seg[1] === "live" || seg[1] === "ready")) {
        return { kind: "health", probe: seg[1] };
      }
      return null;
    case "models":
      return parseModelPath(seg);
    case "repository":
      return parseRepositoryPath(seg);
    case "logging":
      return seg.length === 1 ? { kind: "logging" } : null;
    case "systemsharedmemory":
    case "cudasharedmemory":
      return parseSharedMemoryPath(seg);
    case "trace":
      return seg.length === 2 && seg[1] === "setting" ? { kind: "trace-setting" } : null;
    default:
      return null;
  }
}

// models/stats, models/{m}[/versions/{v}][/ready|/config|/infer|/generate|/generate_stream|/stats]
function parseModelPath(seg: string[]): Route | null {
  if (seg.length < 2) return null;
  // As in Triton, this is every model's statistics, not the metadata of a model named "stats".
  if (seg.length === 2 && seg[1] === "stats") return { kind: "model-stats" };
  const model = decodeSegment(seg[1]!);
  if (model === null) return null;
  let at = 2;
  let version: string | undefined;
  if (seg[at] === "versions") {
    const v = seg[at + 1];
    if (v === undefined || !isDigits(v)) return null;
    version = v;
    at += 2;
  }
  if (at === seg.length) return { kind: "model-metadata", model, version };
  if (version === undefined && at + 2 === seg.length && seg[at] === "trace" && seg[at + 1] === "setting") {
    return { kind: "trace-setting", model };
  }
  if (at + 1 !== seg.length) return null;
  switch (seg[at]) {
    case "ready":
      return { kind: "model-ready", model, version };
    case "config":
      return { kind: "model-config", model, version };
    case "infer":
      return { kind: "infer", model, version };
    case "generate":
      return { kind: "generate", model, version, stream: false };
    case "generate_stream":
      return { kind: "generate", model, version, stream: true };
    case "stats":
      return { kind: "model-stats", model, version };
    default:
      return null;
  }
}

// repository[/{r}]/index, repository[/{r}]/models/{m}/(load|unload)
function parseRepositoryPath(seg: string[]): Route | null {
  let at = 1;
  let repository: string | undefined;
  // A repository name is present when the segment after it still forms a valid tail.
  if (seg.length === 3 || seg.length === 5) {
    const r = decodeSegment(seg[1]!);
    if (r === null) return null;
    repository = r;
    at = 2;
  }
  if (seg.length - at === 1 && seg[at] === "index") return { kind: "repository-index", repository };
  if (seg.length - at === 3 && seg[at] === "models") {
    const model = decodeSegment(seg[at + 1]!);
    if (model === null) return null;
    const action = seg[at + 2];
    if (action === "load") return { kind: "repository-load", model, repository };
    if (action === "unload") return { kind: "repository-unload", model, repository };
  }
  return null;
}

// (system|cuda)sharedmemory[/region/{name}]/(register|unregister|status); register needs a name.
function parseSharedMemoryPath(seg: string[]): Route | null {
  const memory = seg[0] === "systemsharedmemory" ? "system" : "cuda";
  let region: string | undefined;
  let at = 1;
  if (seg[1] === "region") {
    if (seg.length !== 4) return null;
    const name = decodeSegment(seg[2]!);
    if (name === null) return null;
    region = name;
    at = 3;
  }
  if (seg.length !== at + 1) return null;
  const action = seg[at];
  if (action === "status" || action === "unregister") return { kind: "shared-memory", memory, action, region };
  if (action === "register" && region !== undefined) return { kind: "shared-memory", memory, action, region };
  return null;
}

function isDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return s.length > 0;
}

// Model names may carry escaped characters (spaces, unicode); a malformed escape names nothing.
function decodeSegment(s: string): string | null {
  if (!s.includes("%")) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}
