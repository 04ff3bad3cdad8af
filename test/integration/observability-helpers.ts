/** Shared by the logging, custom-metrics and readiness tests: the fixture repo and small calls. */
import { join } from "node:path";
import type * as grpc from "@grpc/grpc-js";
import { FIXTURES, type RunningServer } from "./harness.js";

export const OBS_REPO = join(FIXTURES, "observability-repo");

/** One JSON inference with an INPUT0 of `n` elements. */
export async function inferN(server: RunningServer, model: string, n: number, parameters: Record<string, unknown> = {}, id = "")
  : Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/v2/models/${model}/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id, inputs: [{ name: "INPUT0", datatype: "FP32", shape: [n], data: Array.from({ length: n }, (_, i) => i) }], parameters }),
  });
  return { status: res.status, body: await res.json() };
}

/** A unary gRPC call as a promise: the response, or the error. */
export function unary(client: any, method: string, request: object): Promise<{ response?: any; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    client[method](request, (error: grpc.ServiceError | null, response: any) => resolve(error ? { error } : { response }));
  });
}
