/**
 * Which GPUs this server may place KIND_AUTO / KIND_GPU instances on. Triton asks CUDA; main
 * never loads CUDA (or onnxruntime), so it reads what the NVIDIA kernel driver publishes:
 * - /proc/driver/nvidia/gpus/<pci bus id>/, one folder per GPU;
 * - else the /dev/nvidia<N> device nodes (a container that got the devices but not /proc's
 *   driver folder).
 * Ids are 0..n-1 in PCI bus order, which is CUDA's order under CUDA_DEVICE_ORDER=PCI_BUS_ID and
 * usually its default too. CUDA_VISIBLE_DEVICES, when set to indices, narrows the list the way
 * CUDA would (UUIDs are not resolved: they are taken as "all"); an empty value or "-1" hides
 * every GPU, as in CUDA.
 *
 * Finding a GPU says nothing about whether an execution provider can use it (CUDA libraries,
 * a Vulkan loader for WebGPU): that is the stub's check, which fails the load naming what is missing.
 */
import { readdirSync } from "node:fs";

/** The file system call discovery makes; injected in tests. */
export interface GpuFs {
  readdir(path: string): string[];
}

export interface GpuDiscovery {
  /** The GPU ids instances may use (what Triton's KIND_GPU with no `gpus` expands to). */
  ids: number[];
  /** Where they were found, or why none were: for the log line. */
  source: string;
}

const nodeFs: GpuFs = { readdir: (p) => readdirSync(p) };

const PROC_GPUS = "/proc/driver/nvidia/gpus";

function tryReaddir(fs: GpuFs, path: string): string[] {
  try {
    return fs.readdir(path);
  } catch {
    return [];
  }
}

/** Narrows `count` GPUs by CUDA_VISIBLE_DEVICES (indices only); null when the variable is unset. */
function visible(count: number, env: string | undefined): number[] | null {
  if (env === undefined) return null;
  const items = env.split(",").map((s) => s.trim());
  if (env.trim() === "") return [];
  const ids: number[] = [];
  for (const item of items) {
    if (!/^-?\d+$/.test(item)) return null; // a UUID or MIG name: leave the list alone
    const id = Number(item);
    if (id < 0 || id >= count) break; // CUDA stops at the first invalid index
    if (!ids.includes(id)) ids.push(id);
  }
  // CUDA renumbers the visible devices from 0.
  return ids.map((_, i) => i);
}

/** Discovers NVIDIA GPUs (see above). `fs` and `env` are injectable for tests. */
export function discoverGpus(fs: GpuFs = nodeFs, env: Record<string, string | undefined> = process.env): GpuDiscovery {
  let count = 0;
  let source: string;
  const busIds = tryReaddir(fs, PROC_GPUS);
  if (busIds.length > 0) {
    count = busIds.length;
    source = `${PROC_GPUS} lists ${count} GPU${count > 1 ? "s" : ""} (${[...busIds].sort().join(", ")})`;
  } else {
    const nodes = tryReaddir(fs, "/dev").filter((n) => /^nvidia\d+$/.test(n));
    count = nodes.length;
    source = count > 0
      ? `/dev has ${count} NVIDIA device node${count > 1 ? "s" : ""} (${nodes.sort().join(", ")})`
      : `no NVIDIA GPU found (no ${PROC_GPUS}/* and no /dev/nvidia[0-9]*)`;
  }
  const all = Array.from({ length: count }, (_, i) => i);
  const narrowed = visible(count, env.CUDA_VISIBLE_DEVICES);
  if (count > 0 && narrowed !== null) {
    source += `; CUDA_VISIBLE_DEVICES="${env.CUDA_VISIBLE_DEVICES}" leaves ${narrowed.length}`;
    return { ids: narrowed, source };
  }
  return { ids: all, source };
}

let cached: GpuDiscovery | null = null;

/** discoverGpus() once per process: the hardware does not change while the server runs. */
export function systemGpus(): GpuDiscovery {
  cached ??= discoverGpus();
  return cached;
}
