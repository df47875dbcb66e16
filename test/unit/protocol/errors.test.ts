import { describe, expect, it } from "vitest";
import {
  CloseCode,
  ERROR_CODES,
  type ErrorCode,
  forRpc,
  GatewayError,
  httpStatusOf,
  toGatewayError,
} from "../../../src/protocol/errors.ts";

describe("GatewayError: HTTP status", () => {
  it.each<[ErrorCode, number]>([
    ["invalid_json", 400],
    ["invalid_message", 400],
    ["unknown_type", 400],
    ["validation_failed", 400],
    ["invalid_group", 400],
    ["unauthorized", 401],
    ["token_expired", 401],
    ["forbidden", 403],
    ["not_in_group", 403],
    ["user_not_found", 404],
    ["not_found", 404],
    ["message_too_large", 413],
    ["upgrade_required", 426],
    ["rate_limited", 429],
    ["too_many_connections", 429],
    ["internal", 500],
    ["unavailable", 503],
  ])("maps %s to %i", (code, status) => {
    expect(new GatewayError(code, "x").httpStatus).toBe(status);
    expect(httpStatusOf(code)).toBe(status);
  });

  it("gives every code a status from the protocol's list", () => {
    const allowed = new Set([400, 401, 403, 404, 413, 426, 429, 500, 503]);
    for (const code of ERROR_CODES) expect(allowed.has(httpStatusOf(code)), code).toBe(true);
  });
});

describe("GatewayError: close codes", () => {
  it("uses the protocol's close code numbers", () => {
    expect(CloseCode).toEqual({
      normal: 1000,
      goingAway: 1001,
      policyViolation: 1008,
      tooLarge: 1009,
      internalError: 1011,
      tokenInvalid: 4001,
      forbidden: 4003,
      tooManyConnections: 4009,
    });
  });

  it.each<[ErrorCode, number]>([
    ["token_expired", 4001],
    ["unauthorized", 4001],
    ["too_many_connections", 4009],
    ["internal", 1011],
  ])("closes the socket on %s with %i", (code, close) => {
    expect(new GatewayError(code, "x").closeCode).toBe(close);
  });

  it("keeps the socket open on a bad frame or a refused command", () => {
    const staysOpen: ErrorCode[] = [
      "invalid_json",
      "invalid_message",
      "unknown_type",
      "validation_failed",
      "message_too_large",
      "forbidden",
      "user_not_found",
      "invalid_group",
      "not_in_group",
      "rate_limited",
      "unavailable",
    ];
    for (const code of staysOpen)
      expect(new GatewayError(code, "x").closeCode, code).toBeUndefined();
  });
});

describe("GatewayError: temporary", () => {
  it("is temporary only for rate_limited and unavailable", () => {
    const temporary = ERROR_CODES.filter((code) => new GatewayError(code, "x").temporary);
    expect(temporary.sort()).toEqual(["rate_limited", "unavailable"]);
  });
});

describe("GatewayError: toBody", () => {
  it("carries code and message only when nothing else was given", () => {
    expect(new GatewayError("forbidden", "staff only").toBody()).toEqual({
      code: "forbidden",
      message: "staff only",
    });
  });

  it("adds details and retry_after_ms when given", () => {
    const error = new GatewayError("rate_limited", "slow down", {
      details: { limit: 20 },
      retryAfterMs: 250,
    });
    expect(error.toBody()).toEqual({
      code: "rate_limited",
      message: "slow down",
      details: { limit: 20 },
      retry_after_ms: 250,
    });
  });

  it("keeps retry_after_ms of zero", () => {
    expect(new GatewayError("rate_limited", "x", { retryAfterMs: 0 }).toBody()).toHaveProperty(
      "retry_after_ms",
      0,
    );
  });

  it("never puts the cause in the body", () => {
    const body = new GatewayError("unavailable", "redis down", {
      cause: new Error("ECONNREFUSED 10.0.0.7"),
    });
    expect(JSON.stringify(body.toBody())).not.toContain("ECONNREFUSED");
  });
});

describe("toGatewayError", () => {
  it("returns a GatewayError unchanged", () => {
    const error = new GatewayError("forbidden", "no");
    expect(toGatewayError(error)).toBe(error);
  });

  it("turns an unknown error into internal without its text, keeping it as the cause", () => {
    const secret = new Error("password authentication failed for user admin");
    const error = toGatewayError(secret);
    expect(error.code).toBe("internal");
    expect(error.message).toBe("internal error");
    expect(JSON.stringify(error.toBody())).not.toContain("password");
    expect(error.cause).toBe(secret);
  });

  it.each([
    ["a string", "boom"],
    ["undefined", undefined],
    ["an object", { code: "forbidden" }],
  ])("turns %s that was thrown into internal", (_label, thrown) => {
    expect(toGatewayError(thrown).toBody()).toEqual({
      code: "internal",
      message: "internal error",
    });
  });

  it("is an Error named GatewayError, so logs show what it is", () => {
    const error = toGatewayError(new TypeError("x"));
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("GatewayError");
  });
});

describe("errors across Workers RPC", () => {
  it("keeps the code of a GatewayError that crossed RPC as a plain Error with only its message", () => {
    const sent = forRpc(new GatewayError("unavailable", "user table down"));
    expect(sent).not.toBeInstanceOf(GatewayError);
    // What the caller receives: a new Error carrying only the message.
    const received = new Error((sent as Error).message);
    const error = toGatewayError(received);
    expect(error.code).toBe("unavailable");
    expect(error.message).toBe("user table down");
    expect(error.httpStatus).toBe(503);
  });

  it("keeps retry_after_ms of an unavailable that crossed RPC", () => {
    const sent = forRpc(new GatewayError("unavailable", "overloaded", { retryAfterMs: 1_000 }));
    const error = toGatewayError(new Error((sent as Error).message));
    expect(error).toMatchObject({ code: "unavailable", retryAfterMs: 1_000, temporary: true });
    expect(error.toBody()).toEqual({
      code: "unavailable",
      message: "overloaded",
      retry_after_ms: 1_000,
    });
  });

  it("leaves other errors alone and never trusts an unknown code in the prefix", () => {
    const other = new TypeError("boom");
    expect(forRpc(other)).toBe(other);
    expect(toGatewayError(new Error("[gateway:root_access] x")).code).toBe("internal");
  });
});
