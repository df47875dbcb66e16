import { describe, expect, it } from "vitest";
import {
  Disconnects,
  ERROR_CODES,
  type ErrorCode,
  forRpc,
  GatewayError,
  httpStatusOf,
  readRpcMessage,
  reconnectsAfter,
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

describe("the disconnect table", () => {
  it("uses the protocol's close code numbers", () => {
    const codes = Object.fromEntries(
      Object.entries(Disconnects).map(([name, { code }]) => [name, code]),
    );
    expect(codes).toEqual({
      normal: 1000,
      goingAway: 1001,
      abuse: 1008,
      tooLarge: 1009,
      socketError: 1011,
      sessionLost: 1011,
      tokenExpired: 4001,
      consultationForbidden: 4003,
      terminated: 4003,
      tooManyConnections: 4009,
    });
  });

  it("gives rows that share a code the same reconnect answer, since clients see only the code", () => {
    const byCode = new Map<number, Set<string>>();
    for (const { code, reconnect } of Object.values(Disconnects)) {
      byCode.set(code, (byCode.get(code) ?? new Set()).add(reconnect));
    }
    for (const [code, answers] of byCode) expect(answers.size, String(code)).toBe(1);
  });

  it("keeps every reason within the 123 bytes a close frame allows (RFC 6455 5.5)", () => {
    for (const { reason } of Object.values(Disconnects)) {
      expect(new TextEncoder().encode(reason).byteLength).toBeLessThanOrEqual(123);
    }
  });

  it.each([4003, 4009, 1008])("tells a client not to reconnect after %i", (code) => {
    expect(reconnectsAfter(code, true)).toBe(false);
    expect(reconnectsAfter(code, false)).toBe(false);
  });

  it.each([1000, 1001, 1006, 1009, 1011, 4999])("tells a client to reconnect after %i", (code) => {
    expect(reconnectsAfter(code, false)).toBe(true);
  });

  it("reconnects after 4001 only with a new token", () => {
    expect(reconnectsAfter(4001, true)).toBe(true);
    expect(reconnectsAfter(4001, false)).toBe(false);
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

  it("reads back the code, delay and message, and nothing from an error in another format", () => {
    const sent = forRpc(new GatewayError("rate_limited", "[slow] down", { retryAfterMs: 250 }));
    expect(readRpcMessage(new Error((sent as Error).message))).toEqual({
      code: "rate_limited",
      retryAfterMs: 250,
      message: "[slow] down",
    });
    expect(readRpcMessage(new Error("[404 user_not_found] no such user"))).toBeNull();
    expect(readRpcMessage("[gateway:internal] not an Error")).toBeNull();
  });
});
