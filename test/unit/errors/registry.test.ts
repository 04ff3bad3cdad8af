import { describe, expect, it } from "vitest";
import {
  ERROR_CODES, GRPC_STATUS, HTTP_STATUS, SEGMENT_PLACEHOLDER, ServerError, VersionLoadError, redactSegmentNames, toServerError,
} from "../../../src/errors/index.js";
import { segmentName } from "../../../src/ipc/segments.js";

describe("error registry", () => {
  it("maps every code to an HTTP and a gRPC status", () => {
    for (const code of ERROR_CODES) {
      expect(HTTP_STATUS[code], code).toBeGreaterThanOrEqual(400);
      expect(GRPC_STATUS[code], code).toBeGreaterThan(0);
    }
    expect(Object.keys(HTTP_STATUS).sort()).toEqual([...ERROR_CODES].sort());
    expect(Object.keys(GRPC_STATUS).sort()).toEqual([...ERROR_CODES].sort());
  });

  it("uses Triton's HTTP mapping", () => {
    expect(HTTP_STATUS).toMatchObject({ NOT_FOUND: 404, UNAVAILABLE: 503, UNSUPPORTED: 501, INTERNAL: 500, INVALID_ARG: 400 });
  });

  it("crosses processes as {code, message} and keeps unknown failures' messages", () => {
    const e = ServerError.from(new ServerError("NOT_FOUND", "gone").toJSON());
    expect(e).toMatchObject({ code: "NOT_FOUND", message: "gone" });
    expect(ServerError.from({ code: "BOGUS" as never, message: "x" }).code).toBe("INTERNAL");
    expect(toServerError(new Error("boom"))).toMatchObject({ code: "INTERNAL", message: "boom" });
    expect(toServerError("text")).toMatchObject({ code: "INTERNAL", message: "text" });
  });

  it("never carries a shared-memory segment name, however the text was made", () => {
    const name = segmentName(4242); // "/tessera-4242-<hex>", as the server names them
    const leak = /tessera-\d+-/;
    expect(name).toMatch(leak);
    const texts = [
      new ServerError("INTERNAL", `shm_open ${name}: No such file or directory`).message,
      toServerError(new Error(`mmap ${name} failed`)).message,
      ServerError.from({ code: "INTERNAL", message: `mapped /dev/shm${name} (deleted)` }).message,
      new VersionLoadError("m", 1, new ServerError("INTERNAL", `stub died: ${name.slice(1)}`)).forRepositoryApi().message,
    ];
    for (const t of texts) {
      expect(t).not.toMatch(leak);
      expect(t).toContain(SEGMENT_PLACEHOLDER);
    }
    expect(redactSegmentNames(`a ${name} b ${name}`)).toBe(`a ${SEGMENT_PLACEHOLDER} b ${SEGMENT_PLACEHOLDER}`);
  });

  it("leaves texts alone that only look like a segment name (a model named 'tessera-1-ab', a cache folder)", () => {
    for (const t of ["model 'tessera-1-ab' is not found", "/tmp/tessera-123/m-1-0123456789abcdef.mjs"]) {
      expect(new ServerError("NOT_FOUND", t).message).toBe(t);
    }
  });
});
