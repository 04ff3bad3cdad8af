/**
 * The trace decoders (trace extension updates in both wire forms, --trace-config values, the
 * traceparent check): any input gives a value or a client error, never a crash; valid input
 * decodes to what it says.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeTraceUpdate } from "../../../src/trace/setting-request.js";
import { parseTraceFlags, splitTraceConfig } from "../../../src/trace/trace-config.js";
import { validTraceparent } from "../../../src/trace/stage.js";
import { TRACE_TIMESTAMPS } from "../../../src/trace/settings.js";
import { runs, valueOrClientError } from "../fuzz.js";

const NAMES = ["trace_level", "trace_rate", "trace_count", "log_frequency", "trace_file", "other"];
const jsonValue = fc.oneof(fc.constant(null), fc.string(), fc.integer(), fc.array(fc.oneof(fc.string(), fc.constantFrom("OFF", "TIMESTAMPS", "TENSORS"), fc.integer())), fc.boolean());

describe("decodeTraceUpdate", () => {
  it("decodes any HTTP body to a setting or a client error", () => {
    fc.assert(fc.property(fc.dictionary(fc.constantFrom(...NAMES), jsonValue), (body) => {
      valueOrClientError(() => decodeTraceUpdate({ protocol: "http", body }));
    }), runs(500));
  });

  it("decodes any gRPC map to a setting or a client error", () => {
    fc.assert(fc.property(fc.dictionary(fc.constantFrom(...NAMES), fc.array(fc.string(), { maxLength: 3 })), (settings) => {
      valueOrClientError(() => decodeTraceUpdate({ protocol: "grpc", settings }));
    }), runs(500));
  });

  it("reads integers in range as given, in both forms", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: -1, max: 2 ** 31 - 1 }), (rate, count) => {
      const http = decodeTraceUpdate({ protocol: "http", body: { trace_rate: String(rate), trace_count: ` ${count}` } });
      const grpc = decodeTraceUpdate({ protocol: "grpc", settings: { trace_rate: [String(rate)], trace_count: [String(count)] } });
      expect(http).toEqual({ rate, count });
      expect(grpc).toEqual({ rate, count });
    }), runs(300));
  });

  it("clears with null (HTTP) and an empty list (gRPC)", () => {
    expect(decodeTraceUpdate({ protocol: "http", body: { trace_level: null, log_frequency: null } })).toEqual({ level: null, logFrequency: null });
    expect(decodeTraceUpdate({ protocol: "grpc", settings: { trace_count: [] } })).toEqual({ count: null });
    expect(decodeTraceUpdate({ protocol: "grpc", settings: { trace_level: ["TIMESTAMPS"] } })).toEqual({ level: TRACE_TIMESTAMPS });
  });

  it("uses Triton's texts for out-of-range values", () => {
    expect(() => decodeTraceUpdate({ protocol: "http", body: { trace_rate: "99999999999" } }))
      .toThrow("Unable to parse 'trace_rate', value is out of range [ 0, 4294967295 ], got: 99999999999");
    expect(() => decodeTraceUpdate({ protocol: "grpc", settings: { trace_count: ["-3"] } }))
      .toThrow("Unable to parse 'trace_count'. Expecting value >= -1, got: -3");
  });
});

describe("--trace-config", () => {
  it("parses any value to settings or a client error", () => {
    const arg = fc.oneof(fc.string(), fc.tuple(
      fc.constantFrom("", "triton,", "opentelemetry,", "bogus,", ","),
      fc.constantFrom("rate", "level", "count", "mode", "file", "log-frequency", "url", "resource", "bsp_max_queue_size", "x"),
      fc.constantFrom("=", ""), fc.oneof(fc.string(), fc.integer().map(String), fc.constantFrom("TIMESTAMPS", "opentelemetry", "k=v")),
    ).map((p) => p.join("")));
    fc.assert(fc.property(fc.array(arg, { maxLength: 5 }), (traceConfig) => {
      valueOrClientError(() => parseTraceFlags({ traceConfig }, {}));
    }), runs(500));
  });

  it("reads Triton's forms", () => {
    expect(splitTraceConfig("opentelemetry,resource=service.name=x")).toEqual(["opentelemetry", "resource", "service.name=x"]);
    const c = parseTraceFlags({
      traceConfig: ["mode=opentelemetry", "opentelemetry,url=http://h:1/v1/traces", "rate=5", "level=TIMESTAMPS", "count=3", "opentelemetry,bsp_max_queue_size=10"],
    }, {});
    expect(c.mode).toBe("opentelemetry");
    expect(c.values).toMatchObject({ rate: 5, count: 3, level: TRACE_TIMESTAMPS });
    expect(c.otel).toMatchObject({ url: "http://h:1/v1/traces", maxQueueSize: 10, scheduleDelayMs: 5000, maxExportBatchSize: 512 });
    expect(parseTraceFlags({ traceConfig: ["level=TIMESTAMPS", "level=OFF"] }, {}).values.level).toBe(0);
    expect(() => splitTraceConfig(",rate=1")).toThrow(/^No trace mode specified/);
    expect(() => parseTraceFlags({ traceConfig: ["rate=x"] }, {})).toThrow('Bad option: "--trace-config rate".\nInvalid option value. Got x');
  });
});

describe("validTraceparent", () => {
  it("accepts W3C version-00 headers with non-zero ids and refuses anything else", () => {
    const hex = (n: number) => fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: n, maxLength: n });
    fc.assert(fc.property(hex(32), hex(16), hex(2), (t, s, f) => {
      const ok = !/^0+$/.test(t) && !/^0+$/.test(s);
      expect(validTraceparent(`00-${t}-${s}-${f}`)).toBe(ok);
    }), runs(300));
    fc.assert(fc.property(fc.string(), (v) => {
      expect(typeof validTraceparent(v)).toBe("boolean");
    }), runs(300));
    expect(validTraceparent("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")).toBe(false);
  });
});
