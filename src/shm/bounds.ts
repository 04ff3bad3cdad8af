/**
 * The pure checks of the system shared-memory extension, in Triton's order and with its texts:
 * keys (the reserved prefix, after any leading slashes), the registered window against the
 * segment's real size, and each request's window against the registered one. Sizes are uint64 on
 * the wire, so they are checked as bigints: nothing here can overflow.
 */
import {
  shmInvalidOffset, shmKeyReserved, shmRegisterInvalidArgs, shmSizeOverflow, shmWindowOutOfRange,
} from "../errors/index.js";

export const UINT64_MAX = (1n << 64n) - 1n;

/**
 * The key as shm_open resolves it: glibc skips every leading slash, so "//x", "/x" and "x" name
 * the same segment. null when no segment can have that name (empty, or a slash inside).
 */
export function shmOpenName(key: string): string | null {
  let at = 0;
  while (at < key.length && key.charCodeAt(at) === 47) at++;
  const rest = key.slice(at);
  if (rest === "" || rest.includes("/") || rest.includes("\0") || rest.length > 254) return null;
  return `/${rest}`;
}

/** Refuses a key that names one of tessera's own segments (CVE-2025-23319's lesson). */
export function checkKey(name: string, key: string, reservedPrefix: string): void {
  let at = 0;
  while (at < key.length && key.charCodeAt(at) === 47) at++;
  if (key.startsWith(reservedPrefix, at)) throw shmKeyReserved(name, key, reservedPrefix);
}

/** A uint64 parameter as a bigint, or null when it is not one. */
export function asUint64(value: unknown): bigint | null {
  if (typeof value === "bigint") return value >= 0n && value <= UINT64_MAX ? value : null;
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === "string" && /^\d{1,20}$/.test(value)) {
    const v = BigInt(value);
    return v <= UINT64_MAX ? v : null;
  }
  return null;
}

/** Registration: offset + byte_size must fit in the segment's size (fstat) now. */
export function checkRegisterWindow(name: string, offset: bigint, byteSize: bigint, segmentSize: number): void {
  if (offset + byteSize > BigInt(segmentSize)) throw shmRegisterInvalidArgs(name);
}

/**
 * A request's window (offset, byte size) against the registered window of `regionSize` bytes, as
 * Triton's GetMemoryInfo: the offset inside it, no overflow, the end inside it.
 */
export function checkRequestWindow(name: string, regionSize: bigint, offset: bigint, byteSize: bigint): void {
  if (offset >= regionSize) throw shmInvalidOffset(name);
  if (byteSize > UINT64_MAX - offset) throw shmSizeOverflow(name, byteSize, offset);
  if (offset + byteSize > regionSize) throw shmWindowOutOfRange(name);
}
