/**
 * The shared-memory extension's HTTP endpoints, over the server's region registry (src/shm/):
 * POST .../region/{name}/register with {key, offset, byte_size}, .../unregister (one region, or
 * all without a name), GET .../status. CUDA shared memory answers as a Triton built without GPUs:
 * nothing registered, registration refused.
 */
import type { RegionRegistry } from "../shm/registry.js";
import { cudaShmUnsupported, jsonNotObject, jsonUnparsable, shmDisabled, shmRegisterInvalidArgs, shmStatusNotFound } from "../errors/index.js";
import { parseExactJson } from "./json-scan.js";
import type { Route } from "./router.js";

type SharedMemoryRoute = Extract<Route, { kind: "shared-memory" }>;

/** The JSON answer (a string) of one call; throws a ServerError when it fails. */
export function sharedMemoryCall(route: SharedMemoryRoute, body: Buffer, registry: RegionRegistry | undefined): string {
  if (!registry?.enabled) throw shmDisabled();
  const name = route.region;
  if (route.memory === "cuda") {
    if (route.action === "register") throw cudaShmUnsupported(name ?? "");
    if (route.action === "status" && name !== undefined) throw shmStatusNotFound("cuda", name);
    return route.action === "status" ? "[]" : "";
  }
  switch (route.action) {
    case "status":
      return JSON.stringify(registry.status(name));
    case "unregister":
      registry.unregister(name);
      return "";
    case "register": {
      const request = parseRegister(body, name!);
      registry.register(name!, request.key, request.offset, request.byte_size);
      return "";
    }
  }
}

/** {key, offset, byte_size}: offsets and sizes read exactly (uint64s past 2^53 stay exact). */
function parseRegister(body: Buffer, name: string): { key: string; offset: unknown; byte_size: unknown } {
  const text = body.toString("utf8");
  try {
    JSON.parse(text);
  } catch (err) {
    throw jsonUnparsable(err);
  }
  const json = parseExactJson(text);
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw jsonNotObject();
  const r = json as Record<string, unknown>;
  if (typeof r.key !== "string") throw shmRegisterInvalidArgs(name);
  return { key: r.key, offset: r.offset ?? 0, byte_size: r.byte_size ?? 0 };
}
