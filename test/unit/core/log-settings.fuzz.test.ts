/**
 * The logging extension's two parsers (HTTP JSON, gRPC SettingValues), seeded and bounded: any
 * input either applies and answers the six settings with their types, or is refused with a
 * ServerError of Triton's codes; log_file never changes; and what a valid request names is what
 * the settings then hold. Also the three log formats' shapes.
 */
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { applyGrpcLogSettings, applyHttpLogSettings, logSettingsJson, type GrpcSettings } from "../../../src/core/log-settings.js";
import { ServerError } from "../../../src/errors/index.js";
import { configureLogging, formatEntry, logEnabled } from "../../../src/logging.js";
import { runs } from "../fuzz.js";

afterEach(() => configureLogging({}));

const KEYS = ["log_file", "log_info", "log_warning", "log_error", "log_verbose_level", "log_format", "other"];
const anyValue = fc.oneof(fc.boolean(), fc.integer({ min: -5, max: 2 ** 40 }), fc.double(), fc.string(),
  fc.constantFrom("default", "ISO8601", "json"), fc.constant(null), fc.array(fc.integer()), fc.object());

function expectSettingsShape(s: unknown): void {
  expect(s).toEqual({
    log_file: expect.any(String), log_info: expect.any(Boolean), log_warning: expect.any(Boolean),
    log_error: expect.any(Boolean), log_verbose_level: expect.any(Number), log_format: expect.stringMatching(/^(default|ISO8601|json)$/),
  });
}

describe("HTTP log settings", () => {
  it("apply or refuse with Triton's codes, never anything else", () => {
    fc.assert(fc.property(fc.dictionary(fc.constantFrom(...KEYS), anyValue), (body) => {
      configureLogging({ file: null });
      try {
        const out = applyHttpLogSettings(body);
        expectSettingsShape(out);
        expect(out.log_file).toBe("");
        for (const k of ["log_info", "log_warning", "log_error", "log_verbose_level", "log_format"] as const) {
          if (body[k] !== undefined && body[k] !== null) expect(out[k]).toBe(body[k]);
        }
      } catch (err) {
        expect(err).toBeInstanceOf(ServerError);
        expect(["UNSUPPORTED", "UNAVAILABLE", "INTERNAL"]).toContain((err as ServerError).code);
        expectSettingsShape(logSettingsJson());
      }
    }), runs(400));
  });

  it("stop at the first bad setting in Triton's order, keeping those before it", () => {
    configureLogging({});
    expect(() => applyHttpLogSettings({ log_info: false, log_verbose_level: "x", log_format: "json" })).toThrow(/non-unsigned-integer/);
    expect(logSettingsJson()).toMatchObject({ log_info: false, log_verbose_level: 0, log_format: "default" });
    expect(() => applyHttpLogSettings({ log_file: "/x", log_info: true })).toThrow(/log file location/);
    expect(logSettingsJson().log_info).toBe(false);
  });
});

describe("gRPC log settings", () => {
  const choice = fc.oneof(
    fc.record({ bool_param: fc.boolean() }), fc.record({ uint32_param: fc.nat() }), fc.record({ string_param: fc.string() }),
    fc.record({ string_param: fc.constantFrom("default", "ISO8601", "json") }), fc.constant({}),
  );
  it("apply or refuse with Triton's codes", () => {
    fc.assert(fc.property(fc.dictionary(fc.constantFrom(...KEYS), choice), (settings) => {
      configureLogging({});
      try {
        const out = applyGrpcLogSettings(settings as GrpcSettings);
        expect(Object.keys(out).sort()).toEqual(["log_error", "log_file", "log_format", "log_info", "log_verbose_level", "log_warning"]);
        expect(out.log_file).toEqual({ string_param: "" });
        if (settings.log_info && "bool_param" in settings.log_info) expect(out.log_info!.bool_param).toBe(settings.log_info.bool_param);
      } catch (err) {
        expect(err).toBeInstanceOf(ServerError);
        expect(["UNSUPPORTED", "INVALID_ARG"]).toContain((err as ServerError).code);
      }
    }), runs(400));
  });
});

describe("log formats", () => {
  const at = new Date(Date.UTC(2024, 4, 20, 20, 3, 26, 829));
  it("default and ISO8601 have Triton's heads, one per line of a multi-line message", () => {
    expect(formatEntry("ISO8601", "I", "server", "a\nb\n", 7, at)).toBe("2024-05-20T20:03:26Z I 7 server] a\n2024-05-20T20:03:26Z I 7 server] b\n");
    expect(formatEntry("default", "W", "m:1:i", "x", 7, at)).toMatch(/^W\d{4} \d{2}:\d{2}:\d{2}\.\d{6} 7 m:1:i\] x\n$/);
  });

  it("json is one parseable line per entry, whatever the message holds", () => {
    fc.assert(fc.property(fc.string(), fc.constantFrom("I", "W", "E", "V" as const), (message, severity) => {
      const line = formatEntry("json", severity, "src", message, 1, at);
      expect(line.endsWith("\n")).toBe(true);
      expect(line.slice(0, -1)).not.toContain("\n");
      const entry = JSON.parse(line);
      expect(entry.message).toBe(message.replace(/\n+$/, ""));
      expect(entry.timestamp).toBe("2024-05-20T20:03:26.829Z");
    }), runs(200));
  });

  it("levels gate severities; verbose lines need a level at least theirs", () => {
    configureLogging({ info: false, verbose: 2 });
    expect(logEnabled("I")).toBe(false);
    expect(logEnabled("E")).toBe(true);
    expect(logEnabled("V", 2)).toBe(true);
    expect(logEnabled("V", 3)).toBe(false);
  });
});
