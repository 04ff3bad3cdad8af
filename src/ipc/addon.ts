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
  publish(buffer: ArrayBuffer, queueOffset: number, tail: number): boolean;
  Waiter: new (buffer: ArrayBuffer, queueOffset: number, callback: (ready: boolean) => void) => NativeWaiter;
  waitBlocking(buffer: ArrayBuffer, queueOffset: number, seenTail: number, timeoutMs: number): boolean;
  setParentDeathSignal(signal: number, parentPid: number): boolean;
  layout: NativeLayout;
}

interface NativeWaiter {
  arm(seenTail: number, timeoutMs: number): void;
  close(): void;
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

export function publish(buffer: ArrayBuffer, queueOffset: number, tail: number): boolean {
  checkWord(buffer, queueOffset, layout.queueHeaderSize);
  checkU32(tail, "tail");
  return native.publish(buffer, queueOffset, tail);
}

/**
 * Waits on one queue from a native thread of its own (never the libuv pool, which a server with
 * many stubs would exhaust). arm() starts one wait; `onWake(true)` when the tail moved past the
 * tail it was armed with, `onWake(false)` at the deadline. close() ends the thread.
 */
export class QueueWaiter {
  #native: NativeWaiter | null;
  #armed = false;

  constructor(buffer: ArrayBuffer, queueOffset: number, onWake: (ready: boolean) => void) {
    checkWord(buffer, queueOffset, layout.queueHeaderSize);
    this.#native = new native.Waiter(buffer, queueOffset, (ready) => {
      this.#armed = false;
      onWake(ready);
    });
  }

  arm(seenTail: number, timeoutMs: number): void {
    checkU32(seenTail, "seenTail");
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0) throw new RangeError("timeoutMs must be a non-negative integer");
    if (!this.#native) throw new Error("waiter is closed");
    if (this.#armed) throw new Error("waiter is already armed");
    this.#armed = true;
    this.#native.arm(seenTail, timeoutMs);
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
