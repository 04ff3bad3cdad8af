/**
 * The logging extension (Triton's /v2/logging and gRPC LogSettings): the settings as the two
 * protocols spell them, and the checks Triton makes before it applies a change, with its texts.
 * As in Triton, a request applies its settings one by one in a fixed order and stops at the first
 * bad one (those before it stay applied). log_file is never changed over the network
 * (CVE-2024-0087's fix); log_format also takes tessera's "json" beside Triton's two.
 */
import {
  jsonNotBoolean, jsonNotString, jsonNotUnsigned, logFileNotSettable, logFormatInvalidGrpc, logFormatInvalidHttp,
  logSettingWrongType,
} from "../errors/index.js";
import { LOG_FORMATS, logSettings, updateLogSettings, type LogFormat, type LogSettings } from "../logging.js";

/** The response's fields, in Triton's order. */
export interface LogSettingsJson {
  log_file: string;
  log_info: boolean;
  log_warning: boolean;
  log_error: boolean;
  log_verbose_level: number;
  log_format: string;
}

export function logSettingsJson(s: LogSettings = logSettings()): LogSettingsJson {
  return {
    log_file: s.file ?? "", log_info: s.info, log_warning: s.warning, log_error: s.error,
    log_verbose_level: s.verbose, log_format: s.format,
  };
}

const isFormat = (v: string): v is LogFormat => (LOG_FORMATS as readonly string[]).includes(v);

/** POST /v2/logging: a JSON object; a null value leaves its setting alone, as Triton's. */
export function applyHttpLogSettings(body: Record<string, unknown> | undefined): LogSettingsJson {
  const b = body ?? {};
  const given = (key: string) => b[key] !== undefined && b[key] !== null;
  if (given("log_file")) throw logFileNotSettable();
  for (const [key, field] of [["log_info", "info"], ["log_warning", "warning"], ["log_error", "error"]] as const) {
    if (!given(key)) continue;
    if (typeof b[key] !== "boolean") throw jsonNotBoolean();
    updateLogSettings({ [field]: b[key] });
  }
  if (given("log_verbose_level")) {
    const v = b.log_verbose_level;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw jsonNotUnsigned();
    updateLogSettings({ verbose: Math.min(v, 2 ** 31 - 1) });
  }
  if (given("log_format")) {
    const v = b.log_format;
    if (typeof v !== "string") throw jsonNotString();
    if (!isFormat(v)) throw logFormatInvalidHttp(v);
    updateLogSettings({ format: v });
  }
  return logSettingsJson();
}

/** gRPC's SettingValue as protobufjs decodes it (the oneof's case in `parameter_choice`). */
export interface GrpcSettingValue {
  parameter_choice?: "bool_param" | "uint32_param" | "string_param";
  bool_param?: boolean;
  uint32_param?: number;
  string_param?: string;
}

export type GrpcSettings = Record<string, GrpcSettingValue>;

/** Which SettingValue field is set (protobufjs's oneof getter, or the field decode set). */
function choice(v: GrpcSettingValue): GrpcSettingValue["parameter_choice"] {
  if (v.parameter_choice) return v.parameter_choice;
  for (const k of ["bool_param", "uint32_param", "string_param"] as const) if (Object.hasOwn(v, k)) return k;
  return undefined;
}

/** LogSettings: each setting must come with its SettingValue choice, as Triton checks. */
export function applyGrpcLogSettings(settings: GrpcSettings | undefined): GrpcSettings {
  const s = settings ?? {};
  const has = (key: string) => Object.hasOwn(s, key);
  if (has("log_file")) throw logFileNotSettable();
  for (const [key, field] of [["log_info", "info"], ["log_warning", "warning"], ["log_error", "error"]] as const) {
    if (!has(key)) continue;
    if (choice(s[key]!) !== "bool_param") throw logSettingWrongType("boolean", key);
    updateLogSettings({ [field]: Boolean(s[key]!.bool_param) });
  }
  if (has("log_verbose_level")) {
    const v = s.log_verbose_level!;
    if (choice(v) !== "uint32_param") throw logSettingWrongType("int32", "log_verbose_level");
    updateLogSettings({ verbose: Math.min(Number(v.uint32_param ?? 0), 2 ** 31 - 1) });
  }
  if (has("log_format")) {
    const v = s.log_format!;
    if (choice(v) !== "string_param") throw logSettingWrongType("string", "log_format");
    const format = v.string_param ?? "";
    if (!isFormat(format)) throw logFormatInvalidGrpc(format);
    updateLogSettings({ format });
  }
  return grpcLogSettings();
}

export function grpcLogSettings(): GrpcSettings {
  const j = logSettingsJson();
  return {
    log_file: { string_param: j.log_file },
    log_info: { bool_param: j.log_info },
    log_warning: { bool_param: j.log_warning },
    log_error: { bool_param: j.log_error },
    log_verbose_level: { uint32_param: j.log_verbose_level },
    log_format: { string_param: j.log_format },
  };
}
