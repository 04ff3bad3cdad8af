/**
 * A trace extension update, from either wire form, as a NewTraceSetting: the HTTP JSON object
 * (`null` clears a setting) or the gRPC settings map (an empty list clears one). Checks and texts
 * are those of Triton's HandleTrace (http_server.cc) and TraceSetting (grpc_server.cc).
 */
import {
  traceFileNotUpdatable, traceLevelNotArray, traceLevelOffAlone, traceSettingNotString, traceSettingOneValue,
  traceSettingOutOfRange, traceSettingUnparsable, traceCountBelowMin,
} from "../errors/index.js";
import type { TraceUpdateWire } from "../core/server-api.js";
import { MIN_TRACE_COUNT, TRACE_TENSORS, TRACE_TIMESTAMPS, type NewTraceSetting } from "./settings.js";

export type { TraceUpdateWire } from "../core/server-api.js";

const UINT32_MAX = 4294967295;
const INT32_MAX = 2147483647;

/** The values of one setting as the wire gave them; null: cleared; undefined: not given. */
type Given = readonly string[] | null | undefined;

export function decodeTraceUpdate(update: TraceUpdateWire): NewTraceSetting {
  const get = update.protocol === "http" ? httpGetter(update.body) : grpcGetter(update.settings);
  if (get("trace_file", true) !== undefined) throw traceFileNotUpdatable();
  const out: NewTraceSetting = {};
  const level = get("trace_level", true);
  if (level !== undefined) out.level = level === null ? null : parseLevel(level);
  const rate = get("trace_rate", false);
  if (rate !== undefined) out.rate = rate === null ? null : parseInt32("trace_rate", rate[0]!, 0, UINT32_MAX, update.protocol);
  const count = get("trace_count", false);
  if (count !== undefined) out.count = count === null ? null : parseInt32("trace_count", count[0]!, MIN_TRACE_COUNT, INT32_MAX, update.protocol);
  const freq = get("log_frequency", false);
  if (freq !== undefined) out.logFrequency = freq === null ? null : parseInt32("log_frequency", freq[0]!, 0, UINT32_MAX, update.protocol);
  return out;
}

function httpGetter(body: Record<string, unknown>) {
  return (name: string, list: boolean): Given => {
    if (!Object.hasOwn(body, name)) return undefined;
    const v = body[name];
    if (v === null) return null;
    if (name === "trace_file") return [];
    if (list) {
      if (!Array.isArray(v)) throw traceLevelNotArray();
      return v.map((s) => {
        if (typeof s !== "string") throw traceSettingNotString();
        return s;
      });
    }
    if (typeof v !== "string") throw traceSettingNotString();
    return [v];
  };
}

function grpcGetter(settings: Record<string, readonly string[]>) {
  return (name: string, list: boolean): Given => {
    if (!Object.hasOwn(settings, name)) return undefined;
    const v = settings[name]!;
    if (v.length === 0) return null;
    if (!list && v.length > 1) throw traceSettingOneValue(name);
    return v;
  };
}

/** Levels OR together; OFF only alone; other names are ignored, as Triton ignores them. */
function parseLevel(names: readonly string[]): number | undefined {
  let level: number | undefined;
  for (const name of names) {
    if (name === "OFF") {
      if (names.length !== 1) throw traceLevelOffAlone();
      level = 0;
    } else if (name === "TIMESTAMPS") level = (level ?? 0) | TRACE_TIMESTAMPS;
    else if (name === "TENSORS") level = (level ?? 0) | TRACE_TENSORS;
  }
  return level;
}

/**
 * std::stoi: leading white space, an optional sign, then digits; what follows is ignored. Out of
 * int32 (or, for the unsigned settings, below 0) is out of range.
 */
export function parseInt32(name: string, text: string, min: number, max: number, protocol: "http" | "grpc"): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(text);
  if (!m) throw traceSettingUnparsable(name, text);
  const n = Number(m[1]);
  if (n > INT32_MAX || n < -2147483648 || (min >= 0 && n < min) || n > max) throw traceSettingOutOfRange(name, min, max, text);
  if (n < min) throw traceCountBelowMin(name, min, text, protocol);
  return n;
}
