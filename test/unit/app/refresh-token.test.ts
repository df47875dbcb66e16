import { describe, expect, it } from "vitest";
import { refreshToken } from "../../../src/app/refresh-token.ts";
import { mintSubscriptionToken, mintToken } from "../../helpers/tokens.ts";
import { connectionOf } from "../helpers/holding-actor.ts";
import { configWith, nowSeconds } from "../helpers/jwt.ts";

const config = configWith({ PUBLIC_GROUP_PREFIXES: "team_" });

describe("refreshing a socket's token", () => {
  it("takes the new token's expiry and rights, and names the joined groups it no longer allows", async () => {
    const connection = connectionOf("42", {
      expiresAt: nowSeconds() + 60,
      isStaff: true,
      grants: ["group_old"],
      groups: ["group_old", "group_sub", "team_lobby"],
      subscribed: ["group_sub"],
    });
    const token = await mintToken("42", { username: "ann", groups: ["group_new"] });
    const revoked = await refreshToken(config, connection, token);
    expect(revoked).toEqual(["group_old"]);
    expect(connection).toMatchObject({
      expiresAt: nowSeconds() + 3600,
      grants: ["group_new"],
      isStaff: false,
      username: "ann",
      groups: ["group_sub", "team_lobby"],
    });
  });

  it("refuses a token of another user, or one that does not extend the expiry, changing nothing", async () => {
    const connection = connectionOf("42", { expiresAt: nowSeconds() + 600, grants: ["group_a"] });
    const before = structuredClone(connection);
    for (const token of [
      await mintToken("43", { expiresIn: 3600 }),
      await mintToken("42", { expiresIn: 300 }),
      await mintSubscriptionToken("42", "group_a"),
    ]) {
      await expect(refreshToken(config, connection, token)).rejects.toMatchObject({
        code: "unauthorized",
      });
    }
    expect(connection).toEqual(before);
  });
});
