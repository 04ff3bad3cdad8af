/**
 * Shared-memory segment names and their owners. A stub's control segment is named
 * `/tessera-<server pid>-<unguessable hex>`; each side's extra segments are that name plus
 * `-m<id>` (main's) or `-s<id>` (the stub's), so a peer can map an arena it has never seen by its
 * id alone. A name only lives until the peer has opened it (the opener unlinks it); until then
 * the creator owns it and unlinks it on exit, when the arena is destroyed, on the peer's death
 * (main sweeps the stub's names by prefix), or when the server next starts and finds the creating
 * server gone (sweepStaleSegments).
 */
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { createSegment, openSegment, unlinkSegment } from "./addon.js";

const PREFIX = "tessera-";
/** What every tessera segment name starts with (after its slash): client keys may not (src/shm/). */
export const SEGMENT_PREFIX = PREFIX;
const SHM_DIR = "/dev/shm";

/** Names this process created that nobody has unlinked yet. */
const pending = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' runs synchronously on every normal exit, process.exit() included.
  process.on("exit", unlinkPendingSegments);
}

export function segmentName(serverPid: number): string {
  return `/${PREFIX}${serverPid}-${randomBytes(12).toString("hex")}`;
}

/** The name of extra arena `id` of one side (0 = main, 1 = the stub) of a control segment. */
export function extraSegmentName(controlName: string, side: 0 | 1, id: number): string {
  return `${controlName}-${side === 0 ? "m" : "s"}${id}`;
}

/** Creates and maps a new segment whose name this process owns until the peer opens it. */
export function createOwnedSegment(serverPid: number, size: number, name = segmentName(serverPid)): { name: string; buffer: ArrayBuffer } {
  installExitHook();
  const buffer = createSegment(name, size);
  pending.add(name);
  return { name, buffer };
}

/** Unlinks every segment still named `<prefix>...` (the extras of a stub that died). */
export function unlinkSegmentsWithPrefix(prefix: string): string[] {
  const removed: string[] = [];
  const base = prefix.slice(1);
  for (const entry of listSegments()) {
    if (!entry.startsWith(base)) continue;
    try {
      if (unlinkSegment(`/${entry}`)) removed.push(entry);
    } catch {
      // gone meanwhile
    }
    pending.delete(`/${entry}`);
  }
  return removed;
}

/** Maps a segment the peer created, then removes its name: from now on only mappings keep it. */
export function openAndUnlink(name: string): ArrayBuffer {
  const buffer = openSegment(name);
  unlinkSegment(name);
  return buffer;
}

/** The creator's side of the hand-over: the peer has opened (and unlinked) it. */
export function forgetSegment(name: string): void {
  pending.delete(name);
}

export function unlinkOwnedSegment(name: string): void {
  if (pending.delete(name)) unlinkSegment(name);
}

export function unlinkPendingSegments(): void {
  for (const name of pending) {
    try {
      unlinkSegment(name);
    } catch {
      // exit path: nothing better to do than try the rest
    }
  }
  pending.clear();
}

/** True while process `pid` exists (also when it is another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Unlinks segments left by tessera servers that are no longer running (e.g. after SIGKILL). */
export function sweepStaleSegments(): string[] {
  let entries: string[];
  try {
    entries = readdirSync(SHM_DIR);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const m = /^tessera-(\d+)-[0-9a-f]+(?:-[ms]\d+)?$/.exec(entry);
    if (!m || processAlive(Number(m[1]))) continue;
    try {
      if (unlinkSegment(`/${entry}`)) removed.push(entry);
    } catch {
      // another server may be sweeping too
    }
  }
  return removed;
}

/** Segments of this server still named in /dev/shm (tests assert none are left). */
export function listSegments(serverPid?: number): string[] {
  try {
    return readdirSync(SHM_DIR).filter((e) =>
      serverPid === undefined ? e.startsWith(PREFIX) : e.startsWith(`${PREFIX}${serverPid}-`),
    );
  } catch {
    return [];
  }
}
