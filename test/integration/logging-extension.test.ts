/**
 * The logging extension against the real server: GET/POST /v2/logging and gRPC LogSettings with
 * Triton's fields, types and texts, log_file refused over the network (CVE-2024-0087's fix), the
 * --log-* flags, the formats (default, ISO8601, JSON lines), and handlers' Logger lines following
 * levels changed while the stubs run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpcClientOf, postJson, startServer, type RunningServer } from "./harness.js";
import { OBS_REPO, inferN, unary } from "./observability-helpers.js";
import { waitUntil } from "./stub-helpers.js";

let server: RunningServer;
let client: any;
beforeAll(async () => {
  server = await startServer(OBS_REPO, { args: ["--allow-grpc", "true", "--grpc-port", "0", "--grpc-address", "127.0.0.1"] });
  client = await grpcClientOf(server);
});
afterAll(async () => {
  client?.close();
  // Not stopCleanly: its check of every line's shape knows Triton's default format only.
  expect(await server?.stop()).toBe(0);
});

const logging = () => fetch(`${server.url}/v2/logging`).then(async (r) => ({ status: r.status, body: await r.json() }));
const post = (body: unknown) => postJson(`${server.url}/v2/logging`, body);

describe("HTTP /v2/logging", () => {
  it("GET answers every setting with Triton's names and types, and metadata lists the extension", async () => {
    const r = await logging();
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ log_file: "", log_info: true, log_warning: true, log_error: true, log_verbose_level: 0, log_format: "default" });
    const meta = await fetch(`${server.url}/v2`).then((x) => x.json());
    expect(meta.extensions).toContain("logging");
  });

  it("POST changes only the settings it names and answers all of them", async () => {
    const r = await post({ log_verbose_level: 2 });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ log_file: "", log_info: true, log_warning: true, log_error: true, log_verbose_level: 2, log_format: "default" });
    const back = await post({ log_verbose_level: 0, log_info: null });
    expect(back.body.log_verbose_level).toBe(0);
    expect(back.body.log_info).toBe(true);
    // An empty body is allowed: nothing changes.
    const empty = await fetch(`${server.url}/v2/logging`, { method: "POST" });
    expect(empty.status).toBe(200);
  });

  it("refuses log_file over the network, and wrong types and formats with Triton's texts", async () => {
    const file = await post({ log_file: "/tmp/elsewhere.log" });
    expect(file.status).toBe(501);
    expect(file.body).toEqual({ error: "log file location can not be updated through network protocol" });
    const format = await post({ log_format: "XML" });
    expect(format.status).toBe(503);
    expect(format.body.error).toBe("invalid argument for --log_format, got: XML");
    expect((await post({ log_info: "yes" })).body.error).toBe("attempt to access JSON non-boolean as boolean");
    expect((await post({ log_verbose_level: -1 })).body.error).toBe("attempt to access JSON non-unsigned-integer as unsigned-integer");
    expect((await post({ log_format: 1 })).body.error).toBe("attempt to access JSON non-string as string");
    const notJson = await fetch(`${server.url}/v2/logging`, { method: "POST", body: "{" });
    expect(notJson.status).toBe(400);
    expect((await logging()).body.log_format).toBe("default");
  });

  it("answers 405 to other methods", async () => {
    const r = await fetch(`${server.url}/v2/logging`, { method: "PUT" });
    expect(r.status).toBe(405);
  });
});

describe("gRPC LogSettings", () => {
  it("answers the settings as SettingValues and applies typed changes", async () => {
    const got = await unary(client, "LogSettings", {});
    expect(got.error).toBeUndefined();
    const s = got.response.settings;
    expect(s.log_file.string_param).toBe("");
    expect(s.log_info.bool_param).toBe(true);
    expect(s.log_verbose_level.uint32_param).toBe(0);
    expect(s.log_format.string_param).toBe("default");
    const set = await unary(client, "LogSettings", { settings: { log_warning: { bool_param: false }, log_format: { string_param: "ISO8601" } } });
    expect(set.response.settings.log_warning.bool_param).toBe(false);
    expect(set.response.settings.log_format.string_param).toBe("ISO8601");
    expect((await logging()).body).toMatchObject({ log_warning: false, log_format: "ISO8601" });
    await unary(client, "LogSettings", { settings: { log_warning: { bool_param: true }, log_format: { string_param: "default" } } });
  });

  it("refuses log_file, wrong choices and unknown formats with Triton's texts and codes", async () => {
    const file = await unary(client, "LogSettings", { settings: { log_file: { string_param: "/tmp/x" } } });
    expect(file.error?.code).toBe(12); // UNIMPLEMENTED: Triton's UNSUPPORTED
    expect(file.error?.details).toBe("log file location can not be updated through network protocol");
    const type = await unary(client, "LogSettings", { settings: { log_info: { uint32_param: 1 } } });
    expect(type.error?.code).toBe(3);
    expect(type.error?.details).toBe("expect boolean for 'log_info'");
    const level = await unary(client, "LogSettings", { settings: { log_verbose_level: { bool_param: true } } });
    expect(level.error?.details).toBe("expect int32 for 'log_verbose_level'");
    const format = await unary(client, "LogSettings", { settings: { log_format: { string_param: "bad" } } });
    expect(format.error?.details).toBe("invalid argument for log_format, got: bad");
  });
});

describe("levels reach running handlers", () => {
  it("a handler's Logger lines follow the levels set while its stub runs", async () => {
    expect((await inferN(server, "talker", 1, {}, "first")).status).toBe(200);
    await server.waitForLog(/talker error line for 'first'/);
    expect(server.log()).toContain("talker info line for 'first'");
    expect(server.log()).not.toContain("talker verbose line for 'first'");

    await post({ log_verbose_level: 1, log_info: false });
    expect((await inferN(server, "talker", 1, {}, "second")).status).toBe(200);
    await server.waitForLog(/talker verbose line for 'second'/);
    await server.waitForLog(/talker error line for 'second'/);
    expect(server.log()).not.toContain("talker info line for 'second'");

    await post({ log_verbose_level: 0, log_info: true, log_error: false, log_format: "json" });
    expect((await inferN(server, "talker", 1, {}, "third")).status).toBe(200);
    const line = await server.waitForLog(/\{[^\n]*talker info line for 'third'[^\n]*\}/);
    const entry = JSON.parse(line);
    expect(entry).toMatchObject({ level: "INFO", source: "talker:1:talker_0_0", message: "talker info line for 'third'", pid: server.pid });
    expect(Number.isNaN(Date.parse(entry.timestamp))).toBe(false);
    await waitUntil(() => server.log().includes("talker warning line for 'third'"), 5000, "the warning line");
    expect(server.log()).not.toContain("talker error line for 'third'");
    await post({ log_error: true, log_format: "default" });
  });
});

describe("--log-* flags", () => {
  it("start with the levels and format given; ISO8601 lines have Triton's shape", async () => {
    // (--log-info stays on: the harness finds the port in an INFO line.)
    const s = await startServer(OBS_REPO, { args: ["--log-format", "ISO8601", "--log-error", "false", "--log-verbose", "1", "--log-warning", "false"] });
    try {
      const r = await fetch(`${s.url}/v2/logging`).then((x) => x.json());
      expect(r).toEqual({ log_file: "", log_info: true, log_warning: false, log_error: false, log_verbose_level: 1, log_format: "ISO8601" });
      expect((await inferN(s, "talker", 1, {}, "flags")).status).toBe(200);
      const line = await s.waitForLog(/^.*talker verbose line for 'flags'.*$/m);
      expect(line).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z V \d+ talker:1:talker_0_0\] talker verbose line for 'flags'$/);
      await s.waitForLog(/talker info line for 'flags'/);
      expect(s.log()).not.toContain("talker error line for 'flags'");
      expect(s.log()).not.toContain("talker warning line for 'flags'");
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it("is the 'logging' category of --http-restricted-api", async () => {
    const s = await startServer(OBS_REPO, { args: ["--http-restricted-api", "logging:admin=yes"] });
    try {
      const refused = await fetch(`${s.url}/v2/logging`);
      expect(refused.status).toBe(403);
      expect((await refused.json()).error).toBe("This API is restricted, expecting header 'admin'");
      const allowed = await fetch(`${s.url}/v2/logging`, { headers: { admin: "yes" } });
      expect(allowed.status).toBe(200);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it("refuses an unknown --log-format", async () => {
    const s = await startServer(OBS_REPO, { args: ["--log-format", "xml"], expectExit: true });
    expect(s.proc.exitCode ?? (await s.stop())).not.toBe(0);
    expect(s.log()).toMatch(/--log-format/);
  });
});
