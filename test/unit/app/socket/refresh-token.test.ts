import { describe, expect, it } from "vitest";
import { CONSULTATION_HANDLERS } from "../../../../src/app/socket/consultation.ts";
import { dispatch } from "../../../../src/app/socket/index.ts";
import { mintSubscriptionToken, mintToken } from "../../../helpers/tokens.ts";
import {
  command,
  commandContext,
  connectionOf,
  refusal,
  run,
  type TestContext,
} from "../../helpers/holding-actor.ts";
import { configWith, nowSeconds } from "../../helpers/jwt.ts";

describe("refresh_token", () => {
  const expiringSoon = () =>
    connectionOf("42", { expiresAt: nowSeconds() + 60, grants: ["group_old"] });

  it("moves the expiry forward, takes the new grants, saves and reschedules", async () => {
    const ctx = commandContext(expiringSoon());
    const token = await mintToken("42", { expiresIn: 3600, groups: ["group_new"] });
    await run(ctx, { type: "refresh_token", data: { token } });
    const expiresAt = nowSeconds() + 3600;
    expect(ctx.replies).toEqual([
      { type: "token_refreshed", data: { expires_at: new Date(expiresAt * 1000).toISOString() } },
    ]);
    expect(ctx.connection.expiresAt).toBe(expiresAt);
    expect(ctx.connection.grants).toEqual(["group_new"]);
    expect(ctx.holder.saved).toEqual([ctx.connection]);
    expect(ctx.holder.reschedules).toBe(1);
  });

  // A user demoted since connecting must not keep staff rights (broadcast, any group) by refreshing.
  it("takes staff and superuser rights from the new token, as it does the grants", async () => {
    const ctx = commandContext(
      connectionOf("42", { expiresAt: nowSeconds() + 60, isStaff: true, isSuperuser: true }),
    );
    await run(ctx, {
      type: "refresh_token",
      data: { token: await mintToken("42", { expiresIn: 3600 }) },
    });
    expect(ctx.replies[0]?.type).toBe("token_refreshed");
    expect([ctx.connection.isStaff, ctx.connection.isSuperuser]).toEqual([false, false]);
  });

  it("accepts the user id as a number in the new token", async () => {
    const ctx = commandContext(expiringSoon());
    await run(ctx, { type: "refresh_token", data: { token: await mintToken(42) } });
    expect(ctx.replies[0]?.type).toBe("token_refreshed");
  });

  it("refuses a token for another user and keeps the old expiry", async () => {
    const ctx = commandContext(expiringSoon());
    const before = structuredClone(ctx.connection);
    const error = await refusal(ctx, {
      type: "refresh_token",
      data: { token: await mintToken("43") },
    });
    expect(error.code).toBe("unauthorized");
    expect(error.message).toBe("token is for another user");
    expect(ctx.connection).toEqual(before);
    expect(ctx.holder.saved).toEqual([]);
    expect(ctx.holder.reschedules).toBe(0);
    expect(ctx.replies).toEqual([]);
  });

  it("refuses a token that expires at the same time as the current one", async () => {
    const ctx = commandContext(expiringSoon());
    const error = await refusal(ctx, {
      type: "refresh_token",
      data: { token: await mintToken("42", { expiresIn: 60 }) },
    });
    expect(error.code).toBe("unauthorized");
    expect(error.message).toBe("token does not extend the current expiry");
    expect(ctx.connection.grants).toEqual(["group_old"]);
    expect(ctx.holder.saved).toEqual([]);
  });

  it("refuses a token that expires earlier than the current one", async () => {
    const ctx = commandContext(connectionOf("42", { expiresAt: nowSeconds() + 3600 }));
    const error = await refusal(ctx, {
      type: "refresh_token",
      data: { token: await mintToken("42", { expiresIn: 600 }) },
    });
    expect(error.code).toBe("unauthorized");
    expect(ctx.connection.expiresAt).toBe(nowSeconds() + 3600);
  });

  it("refuses an invalid or refresh token without touching the connection", async () => {
    for (const token of ["garbage", await mintToken("42", { claims: { token_type: "refresh" } })]) {
      const ctx = commandContext(expiringSoon());
      const error = await refusal(ctx, { type: "refresh_token", data: { token } });
      expect(error.code).toBe("unauthorized");
      expect(ctx.holder.saved).toEqual([]);
      expect(ctx.connection.expiresAt).toBe(nowSeconds() + 60);
    }
  });
});

describe("refresh_token re-checks the groups already joined", () => {
  const connected = (fields: Parameters<typeof connectionOf>[1]) =>
    connectionOf("42", { expiresAt: nowSeconds() + 60, ...fields });
  const groupLefts = (ctx: TestContext) =>
    ctx.sent.map((frame) => JSON.parse(frame)).filter((f) => f.type === "group_left");

  it("leaves the groups the new grants no longer cover, each with group_left reason forbidden", async () => {
    const ctx = commandContext(
      connected({ grants: ["group_a", "group_b*"], groups: ["group_a", "group_b1"] }),
    );
    ctx.holder.rooms.set("group_b1", new Set(["conn-42", "other"]));
    await run(ctx, {
      type: "refresh_token",
      data: { token: await mintToken("42", { groups: ["group_a"] }) },
    });
    expect(groupLefts(ctx)).toEqual([
      expect.objectContaining({
        data: { group_name: "group_b1", member_count: 1, reason: "forbidden" },
      }),
    ]);
    expect(groupLefts(ctx)[0]).not.toHaveProperty("id");
    expect(ctx.connection.groups).toEqual(["group_a"]);
    expect(ctx.holder.rooms.get("group_b1")).toEqual(new Set(["other"]));
    expect(ctx.holder.saved.at(-1)?.groups).toEqual(["group_a"]);
    expect(ctx.replies.map((r) => r.type)).toEqual(["token_refreshed"]);
  });

  it("takes away the groups a demoted staff user joined on staff rights", async () => {
    const ctx = commandContext(connected({ isStaff: true, groups: ["group_secret"] }));
    await run(ctx, { type: "refresh_token", data: { token: await mintToken("42") } });
    expect(groupLefts(ctx).map((f) => f.data.group_name)).toEqual(["group_secret"]);
    expect(ctx.connection.groups).toEqual([]);
  });

  it("keeps public groups and groups joined with a subscription token", async () => {
    const ctx = commandContext(
      connected({ groups: ["team_lobby", "group_sub"], subscribed: ["group_sub"] }),
      { config: configWith({ PUBLIC_GROUP_PREFIXES: "team_" }) },
    );
    await run(ctx, { type: "refresh_token", data: { token: await mintToken("42") } });
    expect(groupLefts(ctx)).toEqual([]);
    expect(ctx.connection.groups).toEqual(["team_lobby", "group_sub"]);
  });

  it("remembers a group joined by subscription, and forgets it on leave_group", async () => {
    const ctx = commandContext(connectionOf("42", { grants: ["group_a"] }));
    const token = await mintSubscriptionToken("42", "group_b");
    await run(ctx, { type: "join_group", data: { group_name: "group_b", token } });
    await run(ctx, { type: "join_group", data: { group_name: "group_a", token } });
    expect(ctx.connection.subscribed).toEqual(["group_b"]);
    await run(ctx, { type: "leave_group", data: { group_name: "group_b" } });
    expect(ctx.connection.subscribed).toEqual([]);
  });

  it("closes a consultation socket with 4003 when the new token no longer allows its room", async () => {
    const ctx = commandContext(
      connected({ grants: ["consultation_*"], groups: ["consultation_42"] }),
    );
    await dispatch(
      CONSULTATION_HANDLERS,
      ctx,
      command({ type: "refresh_token", data: { token: await mintToken("42", { groups: [] }) } }),
    );
    expect(ctx.replies).toEqual([
      {
        type: "error",
        data: { code: "forbidden", message: "the new token does not allow this consultation" },
      },
    ]);
    expect(ctx.closed).toEqual([{ code: 4003, reason: "consultation not allowed" }]);
  });

  it("keeps a consultation socket open when the new token still allows its room", async () => {
    const ctx = commandContext(
      connected({ grants: ["consultation_*"], groups: ["consultation_42"] }),
    );
    const token = await mintToken("42", { groups: ["consultation_42"] });
    await dispatch(CONSULTATION_HANDLERS, ctx, command({ type: "refresh_token", data: { token } }));
    expect(ctx.replies.map((r) => r.type)).toEqual(["token_refreshed"]);
    expect(ctx.closed).toEqual([]);
  });

  it("refuses a token with more than 8 * in a grant: unauthorized, nothing changed", async () => {
    const ctx = commandContext(connected({ grants: ["group_a"], groups: ["group_a"] }));
    const token = await mintToken("42", { expiresIn: 7200, groups: ["group_*a*b*c*d*e*f*g*h*"] });
    const error = await refusal(ctx, { type: "refresh_token", data: { token } });
    expect(error.code).toBe("unauthorized");
    expect(ctx.connection.grants).toEqual(["group_a"]);
  });

  it("refuses a subscription token as a refresh: unauthorized, nothing changed", async () => {
    const ctx = commandContext(connected({ grants: ["group_a"], groups: ["group_a"] }));
    const token = await mintSubscriptionToken("42", "group_a");
    const error = await refusal(ctx, { type: "refresh_token", data: { token } });
    expect(error.code).toBe("unauthorized");
    expect(ctx.connection.groups).toEqual(["group_a"]);
    expect(ctx.sent).toEqual([]);
  });
});
