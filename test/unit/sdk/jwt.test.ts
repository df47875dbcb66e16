import { describe, expect, it } from "vitest";
import { jwtExpiry } from "../../../src/sdk/jwt.ts";
import { mintToken } from "../../helpers/tokens.ts";

describe("jwtExpiry", () => {
  it("reads exp from a signed token without verifying it", async () => {
    const token = await mintToken("u1", { expiresIn: 120, username: "zoë" });
    const now = Math.floor(Date.now() / 1000);
    expect(jwtExpiry(token)).toBeGreaterThanOrEqual(now + 119);
    expect(jwtExpiry(token)).toBeLessThanOrEqual(now + 121);
  });

  it("gives undefined for tokens it cannot time", () => {
    const unsigned = (claims: object) =>
      `e30.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;
    expect(jwtExpiry("opaque-token")).toBeUndefined();
    expect(jwtExpiry("a.%%%.c")).toBeUndefined();
    expect(jwtExpiry(unsigned({ sub: "u1" }))).toBeUndefined();
    expect(jwtExpiry(unsigned({ exp: "soon" }))).toBeUndefined();
    expect(jwtExpiry(unsigned({ exp: 1_900_000_000 }))).toBe(1_900_000_000);
  });
});
