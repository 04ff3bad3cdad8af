/**
 * The gRPC schema at run time: grpc_service.proto (with model_config.proto, which it imports) and
 * health.proto, parsed once with protobufjs, and the grpc-js service definitions built from them.
 *
 * The definitions are built here rather than by @grpc/proto-loader so that tessera controls both
 * ends of the codec: requests are decoded into protobufjs messages whose `bytes` fields are views
 * over the buffer grpc-js received (no copy), and responses are handed to grpc-js already encoded
 * (a Buffer passes through untouched), so an inference response is encoded — its output views
 * copied once into the message — before the CoreResponse is released.
 */
import { Buffer } from "node:buffer";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { protoFileNotFound } from "../errors/index.js";

/**
 * Where each .proto lives at run time: beside this module under vitest (src/grpc/), or — once
 * built to dist/src/grpc/, since tsc copies no .proto files — in the source tree next to dist/.
 */
function protoPath(folder: "grpc" | "config", name: string): string {
  const candidates = [
    new URL(`../${folder}/${name}`, import.meta.url),
    new URL(`../../../src/${folder}/${name}`, import.meta.url),
  ].map((u) => fileURLToPath(u));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw protoFileNotFound(name, candidates);
  return found;
}

/** The folders a client generator (proto-loader) needs as include dirs for grpc_service.proto. */
export function protoIncludeDirs(): string[] {
  return [protoPath("grpc", "grpc_service.proto"), protoPath("config", "model_config.proto")]
    .map((p) => p.slice(0, p.lastIndexOf("/")));
}

export const SERVICE_PROTO = "grpc_service.proto";
export const HEALTH_PROTO = "health.proto";

let cached: protobuf.Root | undefined;

/** One root holding packages `inference` (service + model config) and `grpc.health.v1`. */
export function grpcRoot(): protobuf.Root {
  if (cached) return cached;
  const root = new protobuf.Root();
  const options = { keepCase: true };
  // The service file's `import "model_config.proto"` is satisfied by parsing that file into the
  // same root first: protobufjs's parse() records imports but never follows them.
  protobuf.parse(readFileSync(protoPath("config", "model_config.proto"), "utf8"), root, options);
  protobuf.parse(readFileSync(protoPath("grpc", SERVICE_PROTO), "utf8"), root, options);
  protobuf.parse(readFileSync(protoPath("grpc", HEALTH_PROTO), "utf8"), root, options);
  root.resolveAll();
  cached = root;
  return root;
}

export function messageType(name: string): protobuf.Type {
  return grpcRoot().lookupType(name);
}

/** Encodes a plain object (numbers for enums and int64, Uint8Array for bytes) without conversion. */
export function encodePlain(type: protobuf.Type, value: object): Buffer {
  return type.encode(value as protobuf.Message).finish() as Buffer;
}

/**
 * The grpc-js definition of a service. Request deserialization yields protobufjs messages (and
 * throws protobufjs's error for bytes it cannot decode); response serialization accepts an
 * already-encoded Buffer as is, or converts a plain object (enum names, int64 as strings are
 * accepted: fromObject) and encodes it.
 */
export function serviceDefinition(fullName: string): ServiceDefinition {
  const service = grpcRoot().lookupService(fullName);
  const definition: Record<string, ServiceDefinition[string]> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const req = method.resolvedRequestType!;
    const res = method.resolvedResponseType!;
    definition[method.name] = {
      path: `/${fullName}/${method.name}`,
      requestStream: Boolean(method.requestStream),
      responseStream: Boolean(method.responseStream),
      requestSerialize: (value: object) => Buffer.from(req.encode(req.fromObject(value)).finish()),
      requestDeserialize: (bytes: Buffer) => req.decode(bytes),
      responseSerialize: (value: object) =>
        Buffer.isBuffer(value) ? value : Buffer.from(res.encode(res.fromObject(value)).finish()),
      responseDeserialize: (bytes: Buffer) => res.decode(bytes),
    };
  }
  return definition;
}
