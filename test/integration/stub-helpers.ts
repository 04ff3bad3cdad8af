/**
 * Shared by the stub-*.test.ts integration tests: start the real server on the stub fixture
 * repository with only the models a test needs, find its stub processes, and check that a stopped
 * server left neither processes nor shared-memory segments behind.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { FIXTURES, startServer, type RunningServer, type StartOptions } from "./harness.js";

export const STUB_REPO = join(FIXTURES, "stub-repo");

/** Starts the server on the stub fixture repository, loading only `models`. */
export function startStubServer(models: string[], options: StartOptions = {}): Promise<RunningServer> {
  return startServer(STUB_REPO, {
    ...options,
    args: ["--model-control-mode=explicit", ...models.map((m) => `--load-model=${m}`), ...(options.args ?? [])],
  });
}

/** /dev/shm entries named after this server (read directly: the test process needs no addon). */
export function segmentsOf(serverPid: number): string[] {
  return readdirSync("/dev/shm").filter((e) => e.startsWith(`tessera-${serverPid}-`));
}

/** Direct children of `pid` (the stubs of a server). */
export function childPids(pid: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).split("\n").filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/** The stub processes of a server (its other children, e.g. esbuild's service, excluded). */
export function stubPids(serverPid: number): number[] {
  return childPids(serverPid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("stub/main.js");
    } catch {
      return false;
    }
  });
}

/** Bytes of /dev/shm/tessera-* mappings in a process (names are unlinked, the mappings stay). */
export function mappedShmBytes(pid: number): number {
  let total = 0;
  for (const line of readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")) {
    if (!line.includes("/dev/shm/tessera-")) continue;
    const [start, end] = line.split(" ")[0].split("-").map((h) => parseInt(h, 16));
    total += end - start;
  }
  return total;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped) counts as gone.
  try {
    const stat = execFileSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" }).trim();
    return stat !== "" && !stat.startsWith("Z");
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value; throws with `what` after `timeoutMs`. */
export async function waitUntil<T>(
  check: () => T | Promise<T>, timeoutMs: number, what: string | (() => string),
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === "function" ? what() : what}`);
    }
    await sleep(50);
  }
}

/**
 * SIGINT (or SIGTERM), then: exit code 0, every stub gone, no segment of this server left in /dev/shm.
 * Returns the log.
 */
export async function stopCleanly(server: RunningServer, signal: "SIGINT" | "SIGTERM" = "SIGINT"): Promise<string> {
  const stubs = childPids(server.pid);
  const code = await server.stop(signal);
  expect(code, server.log()).toBe(0);
  await waitUntil(() => stubs.every((p) => !isAlive(p)), 5000, `stubs ${stubs.join(", ")} to exit`);
  expect(segmentsOf(server.pid)).toEqual([]);
  // Every line, from main or relayed from a stub, is whole and in Triton's shape.
  const torn = server.log().split("\n").filter((l) => l !== "" && !LOG_LINE.test(l));
  expect(torn, "log lines not in the server's format").toEqual([]);
  return server.log();
}

const LOG_LINE = /^[IWEV]\d{4} \d\d:\d\d:\d\d\.\d{6} \d+ [^\]\s]+\] /;

/** Triton's BYTES serialization: per element a 4-byte little-endian length, then the bytes. */
export function encodeBytes(elements: (string | Uint8Array)[]): Uint8Array {
  const parts = elements.map((e) => (typeof e === "string" ? Buffer.from(e, "utf8") : Buffer.from(e)));
  const out = Buffer.alloc(parts.reduce((n, p) => n + 4 + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.writeUInt32LE(p.length, at);
    p.copy(out, at + 4);
    at += 4 + p.length;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export function decodeBytes(raw: Uint8Array): Buffer[] {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    const n = buf.readUInt32LE(at);
    out.push(buf.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  if (at !== buf.length) throw new Error("malformed BYTES data");
  return out;
}

/** The bytes of a typed array (a view, no copy). */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
