/**
 * The shared-memory extension's gRPC methods, over the server's region registry (src/shm/).
 * CUDA shared memory answers as a Triton built without GPUs: nothing registered, registration
 * refused. Each method returns the plain response, or throws a ServerError.
 */
import type { RegionRegistry } from "../shm/registry.js";
import { cudaShmUnsupported, shmDisabled, shmRegionNameMissing, shmStatusNotFound } from "../errors/index.js";
import { int64ToBigInt, type Int64 } from "./infer-codec.js";

/** A decoded uint64 field (a Long, a number, or absent) as a bigint. */
function uint64(v: Int64 | undefined | null): bigint {
  return v === undefined || v === null ? 0n : int64ToBigInt(v, true);
}

/** Each method's request, as protobufjs decoded it (keepCase: proto field names). */
interface ShmRequest {
  name?: string;
  key?: string;
  offset?: Int64;
  byte_size?: Int64;
}
type Handler = (request: ShmRequest) => unknown;

export function sharedMemoryMethods(registry: RegionRegistry | undefined): Record<string, Handler> {
  const check = (): RegionRegistry => {
    if (!registry?.enabled) throw shmDisabled();
    return registry;
  };
  return {
    SystemSharedMemoryStatus: (r: ShmRequest) => {
      const regions: Record<string, unknown> = {};
      for (const s of check().status(r.name || undefined)) regions[s.name] = s;
      return { regions };
    },
    SystemSharedMemoryRegister: (r: ShmRequest) => {
      const reg = check();
      if (!r.name) throw shmRegionNameMissing("system");
      reg.register(r.name, r.key ?? "", uint64(r.offset), uint64(r.byte_size));
      return {};
    },
    SystemSharedMemoryUnregister: (r: ShmRequest) => {
      check().unregister(r.name || undefined);
      return {};
    },
    CudaSharedMemoryStatus: (r: ShmRequest) => {
      check();
      if (r.name) throw shmStatusNotFound("cuda", r.name);
      return { regions: {} };
    },
    CudaSharedMemoryRegister: (r: ShmRequest) => {
      check();
      if (!r.name) throw shmRegionNameMissing("cuda");
      throw cudaShmUnsupported(r.name);
    },
    CudaSharedMemoryUnregister: () => {
      check();
      return {};
    },
  };
}
