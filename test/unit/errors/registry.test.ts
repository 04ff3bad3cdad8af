import { describe, expect, it } from "vitest";
import { ERROR_CODES, GRPC_STATUS, HTTP_STATUS, ServerError, toServerError } from "../../../src/errors/index.js";

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
});
