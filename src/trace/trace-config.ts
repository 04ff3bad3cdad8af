/**
 * tritonserver's trace flags as start-up settings (command_line_parser.cc): `--trace-config
 * <setting>=<value>` for the global settings (rate, level, count, mode), `--trace-config
 * <mode>,<setting>=<value>` for a mode's own (triton: file, log-frequency; opentelemetry: url,
 * resource, bsp_*), and the deprecated --trace-file, --trace-level, --trace-rate, --trace-count,
 * --trace-log-frequency, which --trace-config overrides.
 */
import { traceConfigInvalid } from "../errors/index.js";
import { TRACE_TENSORS, TRACE_TIMESTAMPS, type TraceMode, type TraceStart } from "./settings.js";

export interface TraceFlags {
  traceConfig: readonly string[];
  traceFile?: string;
  traceLevel?: readonly string[];
  traceRate?: string;
  traceCount?: string;
  traceLogFrequency?: string;
}

/** What the OpenTelemetry exporter is built from (trace/otel.ts). */
export interface OtelConfig {
  url: string;
  resource: Record<string, string>;
  maxQueueSize: number;
  scheduleDelayMs: number;
  maxExportBatchSize: number;
}

export interface TraceConfig extends TraceStart {
  otel: OtelConfig;
  /** Deprecation and override warnings, as Triton prints them. */
  warnings: string[];
}

export const DEFAULT_OTEL_URL = "http://localhost:4318/v1/traces";

/** One --trace-config value: mode ("" for global), setting, value (ParseTraceConfigOption). */
export function splitTraceConfig(arg: string): [mode: "" | TraceMode, setting: string, value: string] {
  const comma = arg.indexOf(",");
  let mode: "" | TraceMode = "";
  if (comma === 0) {
    throw traceConfigInvalid(`No trace mode specified. --trace-config option format is <trace mode>,<setting>=<value> or <setting>=<value>. Got ${arg}`);
  }
  if (comma > 0) mode = parseMode(arg.slice(0, comma));
  const eq = arg.indexOf("=", comma + 1);
  const setting = eq < 0 ? "" : arg.slice(comma + 1, eq);
  const value = eq < 0 ? "" : arg.slice(eq + 1);
  if (eq < 0 || setting === "" || value === "") {
    throw traceConfigInvalid(`--trace-config option format is '<trace mode>,<setting>=<value>'. Got ${arg}`);
  }
  return [mode, setting, value];
}

export function parseMode(text: string): TraceMode {
  const v = text.toLowerCase();
  if (v === "triton" || v === "opentelemetry") return v;
  throw traceConfigInvalid(`invalid value for trace mode option: ${v}. Available options are "triton" and "opentelemetry"`);
}

/** A level name as tritonserver reads it; 0 is OFF. */
export function parseLevel(text: string): number {
  const v = text.toLowerCase();
  if (v === "false" || v === "off") return 0;
  if (["true", "on", "min", "max", "timestamps"].includes(v)) return TRACE_TIMESTAMPS;
  if (v === "tensors") return TRACE_TENSORS;
  throw traceConfigInvalid(`invalid value for trace level option: ${v}`);
}

/** StringTo<int>: std::stoi, whole-number prefix; `unsigned` refuses negatives. */
function parseIntOption(text: string, unsigned = false): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(text);
  if (!m) throw traceConfigInvalid(`Invalid option value. Got ${text}`);
  const n = Number(m[1]);
  if (n > 2147483647 || n < -2147483648 || (unsigned && n < 0)) throw traceConfigInvalid(`Provided option value is out of bound. Got ${text}`);
  return n;
}

function bad(flag: string, err: unknown): never {
  throw traceConfigInvalid(`Bad option: "--trace-config ${flag}".\n${(err as Error).message}`);
}

export function parseTraceFlags(flags: TraceFlags, env: NodeJS.ProcessEnv = process.env): TraceConfig {
  const warnings: string[] = [];
  const global: [string, string][] = [];
  const triton: [string, string][] = [];
  const otel: [string, string][] = [];
  for (const arg of flags.traceConfig) {
    const [mode, setting, value] = splitTraceConfig(arg);
    (mode === "" ? global : mode === "triton" ? triton : otel).push([setting, value]);
  }
  let level = 0;
  let explicitOff = false;
  let rate = 1000;
  let count = -1;
  let logFrequency = 0;
  let file = "";
  let mode: TraceMode = "triton";
  for (const l of flags.traceLevel ?? []) {
    const v = parseLevel(l);
    explicitOff ||= v === 0;
    level |= v;
  }
  if (flags.traceRate !== undefined) rate = parseIntOption(flags.traceRate);
  if (flags.traceCount !== undefined) count = parseIntOption(flags.traceCount);
  for (const [setting, value] of global) {
    try {
      if (setting === "rate") rate = parseIntOption(value);
      else if (setting === "level") {
        const v = parseLevel(value);
        explicitOff ||= v === 0;
        level |= v;
      } else if (setting === "mode") mode = parseMode(value);
      else if (setting === "count") count = parseIntOption(value);
    } catch (err) {
      bad(setting, err);
    }
  }
  const modeSettings: [string, string][] = [];
  const o: OtelConfig = {
    url: DEFAULT_OTEL_URL, resource: { "service.name": "triton-inference-server" },
    maxQueueSize: 2048, scheduleDelayMs: 5000, maxExportBatchSize: 512,
  };
  if (mode === "triton") {
    if (flags.traceFile !== undefined) file = flags.traceFile;
    if (flags.traceLogFrequency !== undefined) logFrequency = parseIntOption(flags.traceLogFrequency, true);
    for (const [setting, value] of triton) {
      try {
        if (setting === "file") file = value;
        else if (setting === "log-frequency") logFrequency = parseIntOption(value, true);
      } catch (err) {
        bad(`triton,${setting}`, err);
      }
    }
  } else {
    if (flags.traceFile !== undefined) warnings.push("Warning: '--trace-file' is deprecated and will be ignored with opentelemetry tracing mode. ");
    if (flags.traceLogFrequency !== undefined) warnings.push("Warning: '--trace-log-frequency' is deprecated and will be ignored with opentelemetry tracing mode.");
    const bsp: Record<string, string | undefined> = {
      bsp_max_queue_size: env.OTEL_BSP_MAX_QUEUE_SIZE ?? "2048",
      bsp_schedule_delay: env.OTEL_BSP_SCHEDULE_DELAY ?? "5000",
      bsp_max_export_batch_size: env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE ?? "512",
    };
    for (const [setting, value] of otel) {
      try {
        if (setting in bsp) {
          modeSettings.push([setting, String(parseIntOption(value, true))]);
          bsp[setting] = undefined;
        } else {
          modeSettings.push([setting, value]);
          if (setting === "url") o.url = value;
          else if (setting === "resource") {
            const eq = value.indexOf("=");
            if (eq <= 0) throw traceConfigInvalid(`resource expects <key>=<value>. Got ${value}`);
            o.resource[value.slice(0, eq)] = value.slice(eq + 1);
          }
        }
      } catch (err) {
        bad(`opentelemetry,${setting}`, err);
      }
    }
    for (const [setting, value] of Object.entries(bsp)) {
      if (value === undefined) continue;
      try {
        modeSettings.push([setting, String(parseIntOption(value, true))]);
      } catch (err) {
        throw traceConfigInvalid(`Bad option: "OTEL_${setting.toUpperCase()}".\n${(err as Error).message}`);
      }
    }
    const num = (key: string) => Number(modeSettings.find(([k]) => k === key)![1]);
    o.maxQueueSize = num("bsp_max_queue_size");
    o.scheduleDelayMs = num("bsp_schedule_delay");
    o.maxExportBatchSize = num("bsp_max_export_batch_size");
    if (env.OTEL_RESOURCE_ATTRIBUTES) {
      for (const pair of env.OTEL_RESOURCE_ATTRIBUTES.split(",")) {
        const eq = pair.indexOf("=");
        if (eq > 0 && !otel.some(([k, v]) => k === "resource" && v.startsWith(`${pair.slice(0, eq)}=`))) {
          o.resource[pair.slice(0, eq).trim()] = decodeURIComponent(pair.slice(eq + 1).trim());
        }
      }
    }
  }
  if (explicitOff) level = 0;
  return { values: { level, rate, count, logFrequency, file }, mode, modeSettings, otel: o, warnings };
}
