/**
 * The only module that loads the native addon: its typed face, with arguments checked here so
 * the C++ side can trust them (better-sqlite3's habit).
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

interface NativeAddon {
  create(name: string, size: number): ArrayBuffer;
  open(name: string): ArrayBuffer;
  unlink(name: string): boolean;
  unmap(buffer: ArrayBuffer): boolean;
  publish(buffer: ArrayBuffer, queueOffset: number, tail: number, doorbellFd: number): boolean;
  createEventFd(): number;
  closeFd(fd: number): void;
  Doorbell: new (fd: number, buffer: ArrayBuffer, queueOffset: number, spinUs: number, callback: () => void) => { close(): void; arm(): void };
  waitBlocking(buffer: ArrayBuffer, queueOffset: number, seenTail: number, timeoutMs: number): boolean;
  setParentDeathSignal(signal: number, parentPid: number): boolean;
  watchParent(parentPid: number, pollMs: number, graceMs: number): void;
  openRegion(nameOrPath: string, viaShm: boolean, writable: boolean): number;
  fdStat(fd: number): [size: number, inode: number];
  mapFd(fd: number, length: number, shared: boolean): ArrayBuffer;
  layout: NativeLayout;
}

export interface NativeLayout {
  queueHead: number;
  queueTail: number;
  queueSleeping: number;
  queueCapacity: number;
  queueHeaderSize: number;
  descriptorSize: number;
}

/** The package root, found from this file whether it runs from src/ (tests) or dist/src/. */
export const PACKAGE_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, "utf8")).name === "tessera") return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("tessera: package root not found");
    dir = parent;
  }
})();

const native: NativeAddon = createRequire(import.meta.url)(
  join(PACKAGE_ROOT, "build", "Release", "shared_memory_ipc.node"),
);

/** POSIX shm names: a leading slash, then no slash, at most NAME_MAX. */
const SHM_NAME = /^\/[A-Za-z0-9._-]{1,250}$/;
const U32_MAX = 0xffffffff;

function checkName(name: string): void {
  if (!SHM_NAME.test(name)) throw new TypeError(`invalid shared-memory name: ${JSON.stringify(name)}`);
}

function checkWord(buffer: ArrayBuffer, offset: number, bytes: number): void {
  if (!(buffer instanceof ArrayBuffer)) throw new TypeError("expected an ArrayBuffer");
  if (!Number.isInteger(offset) || offset < 0 || offset % 4 !== 0 || offset + bytes > buffer.byteLength) {
    throw new RangeError(`offset ${offset} outside the ${buffer.byteLength}-byte segment`);
  }
}

function checkU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) throw new RangeError(`${what} must be a u32`);
}

export const layout: Readonly<NativeLayout> = native.layout;

export function createSegment(name: string, size: number): ArrayBuffer {
  checkName(name);
  if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`invalid segment size ${size}`);
  return native.create(name, size);
}

export function openSegment(name: string): ArrayBuffer {
  checkName(name);
  return native.open(name);
}

/** Removes the name (mappings stay valid); false if it was already gone. */
export function unlinkSegment(name: string): boolean {
  checkName(name);
  return native.unlink(name);
}

/** Unmaps now; every view over the buffer becomes empty. False if it was not a live mapping. */
export function unmapSegment(buffer: ArrayBuffer): boolean {
  if (!(buffer instanceof ArrayBuffer)) throw new TypeError("expected an ArrayBuffer");
  return native.unmap(buffer);
}

/**
 * Makes queue slots up to `tail` visible and, if the consumer sleeps, rings its doorbell
 * (doorbellFd ≥ 0) or wakes its futex waiter (doorbellFd = -1, the benchmark floor).
 */
export function publish(buffer: ArrayBuffer, queueOffset: number, tail: number, doorbellFd = -1): boolean {
  checkWord(buffer, queueOffset, layout.queueHeaderSize);
  checkU32(tail, "tail");
  if (!Number.isInteger(doorbellFd) || doorbellFd < -1) throw new RangeError("doorbellFd must be an fd or -1");
  return native.publish(buffer, queueOffset, tail, doorbellFd);
}

/** A new eventfd, to be a queue's doorbell; the stub inherits it through spawn's stdio. */
export function createEventFd(): number {
  return native.createEventFd();
}

export function closeFd(fd: number): void {
  if (!Number.isInteger(fd) || fd < 0) throw new RangeError("invalid fd");
  native.closeFd(fd);
}

/**
 * The consumer of one queue on this thread's event loop: `onUnread` runs on the JS thread whenever
 * the queue (at `queueOffset` in `buffer`) holds unread descriptors, found right before the loop
 * would block, or when the peer rings the eventfd `fd` because this side was asleep. After
 * traffic it watches the queue for up to `spinUs` before sleeping (yielding the CPU, and stopping
 * as soon as the loop has other work). It never keeps the process alive.
 */
export class Doorbell {
  #native: { close(): void; arm(): void } | null;

  constructor(fd: number, buffer: ArrayBuffer, queueOffset: number, spinUs: number, onUnread: () => void) {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError("invalid doorbell fd");
    checkWord(buffer, queueOffset, layout.queueHeaderSize);
    if (!Number.isInteger(spinUs) || spinUs < 0 || spinUs > 1_000_000) throw new RangeError("spinUs must be 0..1e6");
    this.#native = new native.Doorbell(fd, buffer, queueOffset, spinUs, onUnread);
  }

  /** This side expects an answer soon: watch the queue for it before the loop next sleeps. */
  arm(): void {
    this.#native?.arm();
  }

  close(): void {
    this.#native?.close();
    this.#native = null;
  }
}

/** Blocks the calling thread: only for measuring the raw futex floor (bench/). */
export function waitForTailBlocking(buffer: ArrayBuffer, queueOffset: number, seenTail: number, timeoutMs: number): boolean {
  checkWord(buffer, queueOffset, layout.queueHeaderSize);
  checkU32(seenTail, "seenTail");
  return native.waitBlocking(buffer, queueOffset, seenTail, timeoutMs);
}

/** Asks the kernel to signal this process when its parent dies; false if it already has. */
export function setParentDeathSignal(signal: number, parentPid: number): boolean {
  return native.setParentDeathSignal(signal, parentPid);
}

/**
 * Kills this process (SIGKILL) `graceMs` after its parent is gone, from a native thread: the
 * last resort for a stub whose JS thread is stuck in a handler and never runs its exit path.
 */
export function watchParent(parentPid: number, pollMs: number, graceMs: number): void {
  for (const [v, what] of [[parentPid, "parentPid"], [pollMs, "pollMs"], [graceMs, "graceMs"]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${what} must be a positive integer`);
  }
  native.watchParent(parentPid, pollMs, graceMs);
}

// ---- client shared memory (the system shared-memory extension, src/shm/) ----

/** A client's key as shm_open takes it: a leading slash, one name, no NUL. */
const CLIENT_KEY = /^\/[^/\0]{1,254}$/;
/** What a stub opens to map the object main registered: main's descriptor under /proc. */
const PROC_FD = /^\/proc\/\d+\/fd\/\d+$/;

/**
 * Opens a client's segment by key (shm_open) or, for a stub, by main's /proc/<pid>/fd/<n> path;
 * returns the fd (close it with closeFd). Throws with the errno text when it cannot.
 */
export function openClientRegion(keyOrPath: string, writable: boolean): number {
  const viaShm = CLIENT_KEY.test(keyOrPath);
  if (!viaShm && !PROC_FD.test(keyOrPath)) throw new TypeError(`invalid shared-memory key: ${JSON.stringify(keyOrPath)}`);
  return native.openRegion(keyOrPath, viaShm, writable);
}

/** The fd's object now (fstat): its size (-1 when fstat fails) and inode. */
export function fdStat(fd: number): { size: number; inode: number } {
  if (!Number.isInteger(fd) || fd < 0) throw new RangeError("invalid fd");
  const [size, inode] = native.fdStat(fd);
  return { size, inode };
}

/**
 * Maps the first `length` bytes of `fd` (at most its current size, so no page lies past the end
 * at mapping time). shared: read-write MAP_SHARED (an O_RDWR fd); otherwise a private
 * copy-on-write mapping, whose writes never reach the client's pages.
 */
export function mapClientRegion(fd: number, length: number, shared: boolean): ArrayBuffer {
  if (!Number.isInteger(fd) || fd < 0) throw new RangeError("invalid fd");
  if (!Number.isSafeInteger(length) || length <= 0) throw new RangeError(`invalid mapping length ${length}`);
  const [size] = native.fdStat(fd);
  if (size < length) throw new RangeError(`mapping ${length} bytes of a ${size}-byte object`);
  return native.mapFd(fd, length, shared);
}
