/**
 * The system shared-memory extension's region registry: one per server. A registered region is
 * the client's segment opened once (its fd kept, so that stubs map that very object through
 * /proc/<pid>/fd even after the client unlinked its name) and mapped once by main (views for
 * validation and for anything that is not a stub; no copy). Requests hold leases on regions; an
 * unregistered region leaves the table at once, and its fd and mappings (main's, and those of the
 * stubs it was sent to) are released when its last lease ends, so a request in flight never loses
 * its memory.
 */
import { closeFd, fdStat, mapClientRegion, openClientRegion, unmapSegment } from "../ipc/addon.js";
import { SEGMENT_PREFIX } from "../ipc/segments.js";
import { regionDropped } from "../ipc/region-drops.js";
import type { RegionRef } from "../core/types.js";
import {
  shmAlreadyRegistered, shmDisabled, shmInvalidRegion, shmOpenFailed, shmRegionNotFound, shmRegionShrunk,
  shmRegisterFailed, shmRegisterInvalidArgs, shmStatusNotFound,
} from "../errors/index.js";
import { asUint64, checkKey, checkRegisterWindow, checkRequestWindow, shmOpenName } from "./bounds.js";

/** One region as the status extension lists it. */
export interface RegionStatus {
  name: string;
  key: string;
  offset: number;
  byte_size: number;
}

interface Region {
  id: number;
  name: string;
  key: string;
  /** The registered window in the segment. */
  offset: number;
  byteSize: number;
  fd: number;
  inode: number;
  /** Main's read-write mapping of [0, offset + byteSize); null for an empty window. */
  mapping: ArrayBuffer | null;
  bytes: Uint8Array;
  leases: number;
  unregistered: boolean;
}

/** Never reused within the process: a stub's cached mapping is keyed by it. */
let nextRegionId = 1;

export class RegionRegistry {
  readonly #enabled: boolean;
  readonly #regions = new Map<string, Region>();
  /** Unregistered, still leased. */
  readonly #retired = new Set<Region>();

  /** `enabled`: --allow-client-shm; otherwise every call answers the flag's text. */
  constructor(enabled: boolean) {
    this.#enabled = enabled;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** Regions whose memory is still held (registered, or unregistered and leased): for tests and leak checks. */
  get held(): number {
    return this.#regions.size + this.#retired.size;
  }

  #check(): void {
    if (!this.#enabled) throw shmDisabled();
  }

  register(name: string, key: string, offsetRaw: unknown, byteSizeRaw: unknown): void {
    this.#check();
    checkKey(name, key, SEGMENT_PREFIX);
    if (this.#regions.has(name)) throw shmAlreadyRegistered(name);
    const offset = asUint64(offsetRaw ?? 0);
    const byteSize = asUint64(byteSizeRaw ?? 0);
    if (offset === null || byteSize === null) throw shmRegisterInvalidArgs(name);
    const openName = shmOpenName(key);
    if (openName === null) throw shmOpenFailed(key);
    let fd: number;
    try {
      fd = openClientRegion(openName, true);
    } catch (err) {
      throw shmOpenFailed(key, err);
    }
    try {
      const { size, inode } = fdStat(fd);
      if (size < 0) throw shmInvalidRegion(key);
      checkRegisterWindow(name, offset, byteSize, size);
      const end = Number(offset + byteSize); // ≤ the segment's size: a safe integer
      let mapping: ArrayBuffer | null = null;
      if (end > 0) {
        try {
          mapping = mapClientRegion(fd, end, true);
        } catch (err) {
          throw shmRegisterFailed(name, (err as Error).message, err);
        }
      }
      this.#regions.set(name, {
        id: nextRegionId++, name, key, offset: Number(offset), byteSize: Number(byteSize), fd, inode, mapping,
        bytes: mapping ? new Uint8Array(mapping) : new Uint8Array(0), leases: 0, unregistered: false,
      });
    } catch (err) {
      closeFd(fd);
      throw err;
    }
  }

  /** One region (unknown names are not an error, as in Triton), or every region (no name). */
  unregister(name?: string): void {
    this.#check();
    const names = name === undefined ? [...this.#regions.keys()] : [name];
    for (const n of names) {
      const region = this.#regions.get(n);
      if (!region) continue;
      this.#regions.delete(n);
      region.unregistered = true;
      if (region.leases === 0) this.#free(region);
      else this.#retired.add(region);
    }
  }

  status(name?: string): RegionStatus[] {
    this.#check();
    const list = name === undefined ? [...this.#regions.values()] : [this.#regions.get(name)];
    return list.map((r) => {
      if (!r) throw shmStatusNotFound("system", name!);
      return { name: r.name, key: r.key, offset: r.offset, byte_size: r.byteSize };
    });
  }

  /** Leases for one request: every window it takes is given back by release(). */
  leases(): RegionLeases {
    return new RegionLeases(this);
  }

  /** @internal RegionLeases: a window of region `name`, leased. */
  acquire(name: string, offsetRaw: unknown, byteSizeRaw: unknown): { ref: RegionRef; region: Region } {
    this.#check();
    const region = this.#regions.get(name);
    if (!region) throw shmRegionNotFound(name);
    const offset = asUint64(offsetRaw ?? 0);
    const byteSize = asUint64(byteSizeRaw ?? 0);
    if (offset === null || byteSize === null) throw shmRegisterInvalidArgs(name);
    checkRequestWindow(name, BigInt(region.byteSize), offset, byteSize);
    const end = region.offset + region.byteSize;
    // A segment the client shrank since it registered would fault on first touch: refuse it.
    const { size } = fdStat(region.fd);
    if (size < end) throw shmRegionShrunk(name, size, end);
    const at = region.offset + Number(offset);
    const length = Number(byteSize);
    region.leases++;
    return {
      region,
      ref: {
        wire: {
          id: region.id, name, path: `/proc/${process.pid}/fd/${region.fd}`, inode: region.inode, end, offset: at, size: length,
        },
        view: region.bytes.subarray(at, at + length),
      },
    };
  }

  /** @internal RegionLeases: one lease ends. */
  release(region: Region): void {
    if (--region.leases === 0 && region.unregistered) {
      this.#retired.delete(region);
      this.#free(region);
    }
  }

  /** Server shutdown: every region goes, leased or not (the stubs are gone by then). */
  close(): void {
    for (const r of [...this.#regions.values(), ...this.#retired]) this.#free(r);
    this.#regions.clear();
    this.#retired.clear();
  }

  #free(region: Region): void {
    if (region.fd < 0) return;
    if (region.mapping) unmapSegment(region.mapping);
    region.mapping = null;
    region.bytes = new Uint8Array(0);
    closeFd(region.fd);
    region.fd = -1;
    regionDropped(region.id);
  }
}

/** The windows one request holds; release() ends them all, once. */
export class RegionLeases {
  readonly #registry: RegionRegistry;
  readonly #held: Region[] = [];

  constructor(registry: RegionRegistry) {
    this.#registry = registry;
  }

  /** A window of region `name` (the request's shared_memory_offset and _byte_size, unchecked). */
  take(name: string, offset: unknown, byteSize: unknown): RegionRef {
    const { ref, region } = this.#registry.acquire(name, offset, byteSize);
    this.#held.push(region);
    return ref;
  }

  get count(): number {
    return this.#held.length;
  }

  release(): void {
    for (const region of this.#held.splice(0)) this.#registry.release(region);
  }
}
