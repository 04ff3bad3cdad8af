/**
 * The server log: lines in Triton's shapes (--log-format default: "I1123 11:19:03.123456 1234
 * source] message"; ISO8601: "2024-05-20T20:03:26Z I 1234 source] message"), or JSON lines
 * (--log-format json) for cluster log collectors. Each entry is written whole, so lines from many
 * stubs never interleave mid-line.
 *
 * The settings are Triton's (--log-info, --log-warning, --log-error, --log-verbose, --log-format,
 * --log-file) and can change while the server runs (the logging extension, /v2/logging): whoever
 * must follow them (the stubs, which filter their handlers' Logger lines at the source) subscribes
 * with onLogSettings().
 */
import { appendFileSync } from "node:fs";

export type Severity = "I" | "W" | "E" | "V";

/** Triton's two formats, and JSON lines. */
export const LOG_FORMATS = ["default", "ISO8601", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LogSettings {
  /** --log-file; null: the console. Fixed at start (the network may not change it). */
  readonly file: string | null;
  readonly info: boolean;
  readonly warning: boolean;
  readonly error: boolean;
  /** 0: no verbose lines; n: verbose lines of level <= n. */
  readonly verbose: number;
  readonly format: LogFormat;
}

export type LogSettingsChange = Partial<Omit<LogSettings, "file">>;

const DEFAULTS: LogSettings = { file: null, info: true, warning: true, error: true, verbose: 0, format: "default" };

let settings: LogSettings = DEFAULTS;
const listeners = new Set<(s: LogSettings) => void>();

export function configureLogging(options: LogSettingsChange & { file?: string | null }): void {
  settings = { ...DEFAULTS, ...withoutUndefined(options), file: options.file ?? null };
}

export function logSettings(): LogSettings {
  return settings;
}

/** Changes the levels or the format now, and tells every subscriber. */
export function updateLogSettings(change: LogSettingsChange): LogSettings {
  settings = { ...settings, ...withoutUndefined(change) };
  for (const l of listeners) l(settings);
  return settings;
}

/** Called with the settings after every change; returns the unsubscribe. */
export function onLogSettings(listener: (s: LogSettings) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Whether a line of this severity (and verbose level) is written now. */
export function logEnabled(severity: Severity, verboseLevel = 1): boolean {
  switch (severity) {
    case "I": return settings.info;
    case "W": return settings.warning;
    case "E": return settings.error;
    case "V": return settings.verbose >= verboseLevel && verboseLevel > 0;
  }
}

const p = (n: number, w = 2) => String(n).padStart(w, "0");

function defaultStamp(d: Date): string {
  return `${p(d.getMonth() + 1)}${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}000`;
}

const LEVEL_NAME: Record<Severity, string> = { I: "INFO", W: "WARNING", E: "ERROR", V: "VERBOSE" };

/** One entry as written, trailing newline included. Exported for the tests. */
export function formatEntry(format: LogFormat, severity: Severity, source: string, message: string, pid: number, at: Date): string {
  const text = message.replace(/\n+$/, "");
  if (format === "json") {
    // One line per entry, whatever the message holds: JSON escapes its newlines.
    return `${JSON.stringify({ timestamp: at.toISOString(), level: LEVEL_NAME[severity], pid, source, message: text })}\n`;
  }
  const head = format === "ISO8601"
    ? `${at.toISOString().slice(0, 19)}Z ${severity} ${pid} ${source}]`
    : `${severity}${defaultStamp(at)} ${pid} ${source}]`;
  return `${text.split("\n").map((l) => `${head} ${l}`).join("\n")}\n`;
}

export function log(severity: Severity, source: string, message: string, verboseLevel = 1): void {
  if (!logEnabled(severity, verboseLevel)) return;
  const text = formatEntry(settings.format, severity, source, message, process.pid, new Date());
  if (settings.file) appendFileSync(settings.file, text);
  else if (severity === "E" || severity === "W") process.stderr.write(text);
  else process.stdout.write(text);
}

export const logInfo = (source: string, message: string) => log("I", source, message);
export const logWarn = (source: string, message: string) => log("W", source, message);
export const logError = (source: string, message: string) => log("E", source, message);
export const logVerbose = (source: string, message: string, level = 1) => log("V", source, message, level);
