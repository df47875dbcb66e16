/**
 * Token kinds against the running gateway (wrangler dev, real `ws` clients): a subscription
 * token is a one-group grant and never opens a socket; a refresh token never does either.
 */
import { describe, expect, it } from "vitest";
import { mintSubscriptionToken, mintToken } from "../helpers/tokens.ts";
import { signClaims } from "../unit/helpers/jwt.ts";
import { connectAs, openSocket, UpgradeRefused, uniqueUser } from "./helpers.ts";

async function refusal(promise: Promise<unknown>): Promise<UpgradeRefused> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof UpgradeRefused) return err;
    throw err;
  }
  throw new Error("the upgrade was accepted");
}

describe("a subscription token on an upgrade", () => {
  for (const via of ["query", "subprotocol", "header"] as const) {
    it(`is refused on /ws/user/ with 401 before the upgrade (token from the ${via})`, async () => {
      const token = await mintSubscriptionToken(uniqueUser(), "group_a");
      const refused = await refusal(openSocket(token, { via }));
      expect(refused.status).toBe(401);
      expect(JSON.parse(refused.body)).toEqual({
        error: { code: "unauthorized", message: "subscription tokens cannot open connections" },
      });
    });
  }

  it("is refused in its old form too (sub + group, no token_type)", async () => {
    const exp = Math.floor(Date.now() / 1000) + 300;
    const token = await signClaims({ sub: uniqueUser(), group: "group_a", exp });
    expect((await refusal(openSocket(token))).status).toBe(401);
  });

  it("is refused on a consultation socket with 401", async () => {
    const token = await mintSubscriptionToken(uniqueUser(), "consultation_7", {
      claims: { groups: ["consultation_*"] },
    });
    const refused = await refusal(openSocket(token, { path: "/ws/consultation/7/" }));
    expect(refused.status).toBe(401);
  });

  it("still lets its user join that group from a socket opened with an access token", async () => {
    const user = uniqueUser();
    const group = `group_${uniqueUser("g")}`;
    const client = await connectAs(user);
    const grant = await mintSubscriptionToken(user, group);
    const joined = await client.request("join_group", { group_name: group, token: grant });
    expect(joined.data).toMatchObject({ group_name: group, member_count: 1 });
    await client.close();
  });
});

describe("a refresh token", () => {
  it("is refused on /ws/user/ with 401, and as a refresh_token", async () => {
    const user = uniqueUser();
    const refreshToken = await mintToken(user, { claims: { token_type: "refresh" } });
    for (const via of ["query", "subprotocol"] as const) {
      expect((await refusal(openSocket(refreshToken, { via }))).status).toBe(401);
    }
    const client = await connectAs(user);
    const answer = await client.request("refresh_token", { token: refreshToken });
    expect(answer.data.code).toBe("unauthorized");
    await client.close();
  });
});

describe("refresh_token and groups already joined", () => {
  it("leaves a group the new token no longer grants, with group_left reason forbidden", async () => {
    const user = uniqueUser();
    const group = `group_${uniqueUser("g")}`;
    const client = await connectAs(user, { groups: [group] });
    await client.request("join_group", { group_name: group });
    const token = await mintToken(user, { expiresIn: 7200, groups: [] });
    expect((await client.request("refresh_token", { token })).type).toBe("token_refreshed");
    const left = client.frames.received.find((f) => f.type === "group_left");
    expect(left?.data).toEqual({ group_name: group, member_count: 0, reason: "forbidden" });
    expect((await client.request("get_status")).data.groups).toEqual([]);
    await client.close();
  });
});
