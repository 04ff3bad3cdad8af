/**
 * Triton's CPU metrics (nv_cpu_*): system-wide utilization and RAM, polled every
 * --metrics-interval-ms like Triton's polling thread, read from /proc as Triton does (Linux), with
 * Node's os module where there is no /proc.
 */
import { readFileSync } from "node:fs";
import * as os from "node:os";

export interface CpuTimes {
  busy: number;
  total: number;
}

export interface CpuReading {
  /** Busy share of all cores since the previous poll, 0..1 (0 until two polls). */
  utilization: number;
  totalBytes: number;
  usedBytes: number;
}

/** The aggregate "cpu" line of /proc/stat: idle = idle + iowait; busy = everything else counted. */
export function parseProcStat(text: string): CpuTimes | null {
  const line = text.split("\n").find((l) => l.startsWith("cpu "));
  if (!line) return null;
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) return null;
  const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** MemTotal and MemAvailable of /proc/meminfo, in bytes: used = total - available. */
export function parseMemInfo(text: string): { totalBytes: number; usedBytes: number } | null {
  const kib = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s*kB`, "m").exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const total = kib("MemTotal");
  const available = kib("MemAvailable");
  if (total === undefined || available === undefined) return null;
  return { totalBytes: total, usedBytes: Math.max(0, total - available) };
}

function readProc(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function cpuTimes(): CpuTimes {
  const stat = readProc("/proc/stat");
  const parsed = stat ? parseProcStat(stat) : null;
  if (parsed) return parsed;
  let busy = 0;
  let total = 0;
  for (const c of os.cpus()) {
    const t = c.times;
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

function memory(): { totalBytes: number; usedBytes: number } {
  const info = readProc("/proc/meminfo");
  return (info ? parseMemInfo(info) : null) ?? { totalBytes: os.totalmem(), usedBytes: os.totalmem() - os.freemem() };
}

/** Polls on a timer that never keeps the process alive; stop() ends it. */
export class CpuSampler {
  #last: CpuTimes;
  #timer: NodeJS.Timeout | null = null;
  reading: CpuReading;

  constructor() {
    this.#last = cpuTimes();
    this.reading = { utilization: 0, ...memory() };
  }

  start(intervalMs: number): void {
    this.stop();
    this.#timer = setInterval(() => this.poll(), intervalMs);
    this.#timer.unref();
  }

  poll(): void {
    const now = cpuTimes();
    const dTotal = now.total - this.#last.total;
    const dBusy = now.busy - this.#last.busy;
    this.#last = now;
    const utilization = dTotal > 0 ? Math.min(1, Math.max(0, dBusy / dTotal)) : this.reading.utilization;
    this.reading = { utilization, ...memory() };
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
