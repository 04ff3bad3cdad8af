/**
 * Server log lines in Triton's shape ("I1123 11:19:03.123456 1234 source] message"), written
 * whole, so lines from many stubs never interleave mid-line.
 */
import { appendFileSync } from "node:fs";

export type Severity = "I" | "W" | "E" | "V";

let verbose = 0;
let logFile: string | null = null;

export function configureLogging(options: { verbose?: number; file?: string | null }): void {
  verbose = options.verbose ?? 0;
  logFile = options.file ?? null;
}

function stamp(): string {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getMonth() + 1)}${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}000`;
}

export function log(severity: Severity, source: string, message: string): void {
  if (severity === "V" && verbose === 0) return;
  const text = message.replace(/\n+$/, "").split("\n").map((l) => `${severity}${stamp()} ${process.pid} ${source}] ${l}`).join("\n") + "\n";
  if (logFile) appendFileSync(logFile, text);
  else if (severity === "E" || severity === "W") process.stderr.write(text);
  else process.stdout.write(text);
}

export const logInfo = (source: string, message: string) => log("I", source, message);
export const logWarn = (source: string, message: string) => log("W", source, message);
export const logError = (source: string, message: string) => log("E", source, message);
export const logVerbose = (source: string, message: string) => log("V", source, message);
