import { describe, expect, it } from "vitest";
import type { Principal } from "../../../src/core/auth.ts";
import { decodeIdentity, encodeIdentity } from "../../../src/core/identity.ts";

const principal: Principal = {
  userId: "42",
  username: "alice",
  isStaff: true,
  isSuperuser: false,
  groups: ["consultation_*"],
  expiresAt: 1_800_000_000,
};

describe("identity header", () => {
  it("round-trips a principal and its token source", () => {
    expect(decodeIdentity(encodeIdentity(principal, "subprotocol"))).toEqual({
      principal,
      source: "subprotocol",
    });
  });

  it.each([
    ["no header", null],
    ["garbage", "not json"],
    ["an empty object", "{}"],
    ["an unknown source", JSON.stringify({ principal, source: "cookie" })],
    [
      "a bad user id",
      JSON.stringify({ principal: { ...principal, userId: "a b" }, source: "query" }),
    ],
    [
      "a string flag",
      JSON.stringify({ principal: { ...principal, isStaff: "true" }, source: "query" }),
    ],
  ])("reads %s as no identity", (_label, header) => {
    expect(decodeIdentity(header)).toBeNull();
  });
});
