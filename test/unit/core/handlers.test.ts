import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CONSULTATION_HANDLERS } from "../../../src/core/handlers/consultation.ts";
import { DEFAULT_HANDLERS, dispatch } from "../../../src/core/handlers/index.ts";
import { GatewayError } from "../../../src/protocol/errors.ts";
import { COMMAND_TYPES } from "../../../src/protocol/messages.ts";
import { mintSubscriptionToken, mintToken } from "../../helpers/tokens.ts";
import { command, commandContext, connectionOf, type TestContext } from "../helpers/hub.ts";
import { configWith, nowSeconds } from "../helpers/jwt.ts";

const NOW = new Date("2026-11-25T10:00:00.000Z");
const config = configWith();

/** Runs one command through the default table and returns the context to inspect. */
async function run(ctx: TestContext, frame: Record<string, unknown>): Promise<TestContext> {
  await dispatch(DEFAULT_HANDLERS, ctx, command(frame));
  return ctx;
}

/** The GatewayError a command was refused with, whether the handler threw or rejected. */
async function refusal(ctx: TestContext, frame: Record<string, unknown>): Promise<GatewayError> {
  try {
    await dispatch(DEFAULT_HANDLERS, ctx, command(frame));
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error(
    `expected ${String(frame.type)} to be refused; replies: ${JSON.stringify(ctx.replies)}`,
  );
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

describe("dispatch", () => {
  it("has a handler for every command type", () => {
    for (const type of COMMAND_TYPES) expect(typeof DEFAULT_HANDLERS[type], type).toBe("function");
  });
});

describe("ping", () => {
  it("answers pong with the server time from the context's clock", async () => {
    const ctx = commandContext(config, connectionOf("42"), {
      now: () => Date.parse("2030-01-02T03:04:05.678Z"),
    });
    await run(ctx, { type: "ping", data: {} });
    expect(ctx.replies).toEqual([
      { type: "pong", data: { server_time: "2030-01-02T03:04:05.678Z" } },
    ]);
  });
});

describe("get_status", () => {
  it("describes this connection without users when none were asked for", async () => {
    const ctx = commandContext(
      config,
      connectionOf("42", { connectionId: "c-9", groups: ["group_a"] }),
    );
    ctx.hub.count = 3;
    await run(ctx, { type: "get_status" });
    expect(ctx.replies).toEqual([
      {
        type: "status_response",
        data: {
          user_id: "42",
          is_online: true,
          connection_count: 3,
          connection_id: "c-9",
          groups: ["group_a"],
        },
      },
    ]);
    expect(ctx.hub.statusQueries).toEqual([]);
  });

  it("does not ask the hub for an empty list of users", async () => {
    const ctx = await run(commandContext(config, connectionOf("42")), {
      type: "get_status",
      data: { user_ids: [] },
    });
    expect(ctx.replies[0]?.data).not.toHaveProperty("users");
    expect(ctx.hub.statusQueries).toEqual([]);
  });

  it("adds the status of the users asked for, once each, in the order asked", async () => {
    const ctx = commandContext(config, connectionOf("42"));
    ctx.hub.statuses.set("7", { user_id: "7", is_online: true, last_seen: null });
    ctx.hub.statuses.set("b", {
      user_id: "b",
      is_online: false,
      last_seen: "2026-11-24T09:00:00.000Z",
    });
    await run(ctx, { type: "get_status", data: { user_ids: ["b", 7, "b", "nobody"] } });
    expect(ctx.hub.statusQueries).toEqual([["b", "7", "nobody"]]);
    expect(ctx.replies[0]).toMatchObject({
      type: "status_response",
      data: {
        user_id: "42",
        users: [
          { user_id: "b", is_online: false, last_seen: "2026-11-24T09:00:00.000Z" },
          { user_id: "7", is_online: true, last_seen: null },
          { user_id: "nobody", is_online: false, last_seen: null },
        ],
      },
    });
  });

  it("sends a copy of the connection's groups, not the live list", async () => {
    const connection = connectionOf("42", { groups: ["group_a"] });
    const ctx = await run(commandContext(config, connection), { type: "get_status" });
    connection.groups.push("group_b");
    expect(ctx.replies[0]?.data).toMatchObject({ groups: ["group_a"] });
  });
});

describe("refresh_token", () => {
  const expiringSoon = () =>
    connectionOf("42", { expiresAt: nowSeconds() + 60, grants: ["group_old"] });

  it("moves the expiry forward, takes the new grants, saves and reschedules", async () => {
    const ctx = commandContext(config, expiringSoon());
    const token = await mintToken("42", { expiresIn: 3600, groups: ["group_new"] });
    await run(ctx, { type: "refresh_token", data: { token } });
    const expiresAt = nowSeconds() + 3600;
    expect(ctx.replies).toEqual([
      { type: "token_refreshed", data: { expires_at: new Date(expiresAt * 1000).toISOString() } },
    ]);
    expect(ctx.connection.expiresAt).toBe(expiresAt);
    expect(ctx.connection.grants).toEqual(["group_new"]);
    expect(ctx.hub.saved).toEqual([ctx.connection]);
    expect(ctx.hub.reschedules).toBe(1);
  });

  // Bug: the handler takes the new token's groups but keeps isStaff/isSuperuser from the old one,
  // so a user demoted since connecting keeps staff rights (broadcast, any group) by refreshing.
  it("takes staff and superuser rights from the new token, as it does the grants", async () => {
    const ctx = commandContext(
      config,
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
    const ctx = commandContext(config, expiringSoon());
    await run(ctx, { type: "refresh_token", data: { token: await mintToken(42) } });
    expect(ctx.replies[0]?.type).toBe("token_refreshed");
  });

  it("refuses a token for another user and keeps the old expiry", async () => {
    const ctx = commandContext(config, expiringSoon());
    const before = structuredClone(ctx.connection);
    const error = await refusal(ctx, {
      type: "refresh_token",
      data: { token: await mintToken("43") },
    });
    expect(error.code).toBe("unauthorized");
    expect(error.message).toBe("token is for another user");
    expect(ctx.connection).toEqual(before);
    expect(ctx.hub.saved).toEqual([]);
    expect(ctx.hub.reschedules).toBe(0);
    expect(ctx.replies).toEqual([]);
  });

  it("refuses a token that expires at the same time as the current one", async () => {
    const ctx = commandContext(config, expiringSoon());
    const error = await refusal(ctx, {
      type: "refresh_token",
      data: { token: await mintToken("42", { expiresIn: 60 }) },
    });
    expect(error.code).toBe("unauthorized");
    expect(error.message).toBe("token does not extend the current expiry");
    expect(ctx.connection.grants).toEqual(["group_old"]);
    expect(ctx.hub.saved).toEqual([]);
  });

  it("refuses a token that expires earlier than the current one", async () => {
    const ctx = commandContext(config, connectionOf("42", { expiresAt: nowSeconds() + 3600 }));
    const error = await refusal(ctx, {
      type: "refresh_token",
      data: { token: await mintToken("42", { expiresIn: 600 }) },
    });
    expect(error.code).toBe("unauthorized");
    expect(ctx.connection.expiresAt).toBe(nowSeconds() + 3600);
  });

  it("refuses an invalid or refresh token without touching the connection", async () => {
    for (const token of ["garbage", await mintToken("42", { claims: { token_type: "refresh" } })]) {
      const ctx = commandContext(config, expiringSoon());
      const error = await refusal(ctx, { type: "refresh_token", data: { token } });
      expect(error.code).toBe("unauthorized");
      expect(ctx.hub.saved).toEqual([]);
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
      config,
      connected({ grants: ["group_a", "group_b*"], groups: ["group_a", "group_b1"] }),
    );
    ctx.hub.rooms.set("group_b1", new Set(["conn-42", "other"]));
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
    expect(ctx.hub.rooms.get("group_b1")).toEqual(new Set(["other"]));
    expect(ctx.hub.saved.at(-1)?.groups).toEqual(["group_a"]);
    expect(ctx.replies.map((r) => r.type)).toEqual(["token_refreshed"]);
  });

  it("takes away the groups a demoted staff user joined on staff rights", async () => {
    const ctx = commandContext(config, connected({ isStaff: true, groups: ["group_secret"] }));
    await run(ctx, { type: "refresh_token", data: { token: await mintToken("42") } });
    expect(groupLefts(ctx).map((f) => f.data.group_name)).toEqual(["group_secret"]);
    expect(ctx.connection.groups).toEqual([]);
  });

  it("keeps public groups and groups joined with a subscription token", async () => {
    const ctx = commandContext(
      configWith({ PUBLIC_GROUP_PREFIXES: "team_" }),
      connected({ groups: ["team_lobby", "group_sub"], subscribed: ["group_sub"] }),
    );
    await run(ctx, { type: "refresh_token", data: { token: await mintToken("42") } });
    expect(groupLefts(ctx)).toEqual([]);
    expect(ctx.connection.groups).toEqual(["team_lobby", "group_sub"]);
  });

  it("remembers a group joined by subscription, and forgets it on leave_group", async () => {
    const ctx = commandContext(config, connectionOf("42", { grants: ["group_a"] }));
    ctx.hub.subscriptionValid = true;
    await run(ctx, { type: "join_group", data: { group_name: "group_b", token: "sub" } });
    await run(ctx, { type: "join_group", data: { group_name: "group_a", token: "sub" } });
    expect(ctx.connection.subscribed).toEqual(["group_b"]);
    await run(ctx, { type: "leave_group", data: { group_name: "group_b" } });
    expect(ctx.connection.subscribed).toEqual([]);
  });

  it("closes a consultation socket with 4003 when the new token no longer allows its room", async () => {
    const ctx = commandContext(
      config,
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
      config,
      connected({ grants: ["consultation_*"], groups: ["consultation_42"] }),
    );
    const token = await mintToken("42", { groups: ["consultation_42"] });
    await dispatch(CONSULTATION_HANDLERS, ctx, command({ type: "refresh_token", data: { token } }));
    expect(ctx.replies.map((r) => r.type)).toEqual(["token_refreshed"]);
    expect(ctx.closed).toEqual([]);
  });

  it("refuses a token with more than 8 * in a grant: unauthorized, nothing changed", async () => {
    const ctx = commandContext(config, connected({ grants: ["group_a"], groups: ["group_a"] }));
    const token = await mintToken("42", { expiresIn: 7200, groups: ["group_*a*b*c*d*e*f*g*h*"] });
    const error = await refusal(ctx, { type: "refresh_token", data: { token } });
    expect(error.code).toBe("unauthorized");
    expect(ctx.connection.grants).toEqual(["group_a"]);
  });

  it("refuses a subscription token as a refresh: unauthorized, nothing changed", async () => {
    const ctx = commandContext(config, connected({ grants: ["group_a"], groups: ["group_a"] }));
    const token = await mintSubscriptionToken("42", "group_a");
    const error = await refusal(ctx, { type: "refresh_token", data: { token } });
    expect(error.code).toBe("unauthorized");
    expect(ctx.connection.groups).toEqual(["group_a"]);
    expect(ctx.sent).toEqual([]);
  });
});

describe("join_group", () => {
  it("joins a group the token's claim allows (glob) and reports the member count", async () => {
    const ctx = commandContext(config, connectionOf("42", { grants: ["group_*"] }));
    await run(ctx, { type: "join_group", data: { group_name: "group_a" } });
    expect(ctx.replies).toEqual([
      {
        type: "group_joined",
        data: { group_name: "group_a", member_count: 1, group_seq: 0, epoch: "e1", complete: true },
      },
    ]);
    expect(ctx.connection.groups).toEqual(["group_a"]);
    expect(ctx.hub.saved.at(-1)?.groups).toEqual(["group_a"]);
  });

  it("with since_group_seq, sends the room's later messages in order, then group_joined", async () => {
    const ctx = commandContext(config, connectionOf("42", { grants: ["group_*"] }));
    await run(ctx, { type: "join_group", data: { group_name: "group_a" } });
    for (const text of ["one", "two", "three"]) {
      await run(ctx, { type: "group_message", data: { group_name: "group_a", message: text } });
    }
    ctx.sent.length = 0;
    ctx.replies.length = 0;
    await run(ctx, { type: "join_group", data: { group_name: "group_a", since_group_seq: 1 } });
    const replayed = ctx.sent.map((f) => JSON.parse(f));
    expect(replayed.map((f) => [f.type, f.data.message, f.data.group_seq, f.seq])).toEqual([
      ["group_message", "two", 2, undefined],
      ["group_message", "three", 3, undefined],
    ]);
    expect(ctx.replies).toEqual([
      {
        type: "group_joined",
        data: { group_name: "group_a", member_count: 1, group_seq: 3, epoch: "e1", complete: true },
      },
    ]);
  });

  it("answers complete: false when since_group_seq was counted in another epoch", async () => {
    const ctx = commandContext(config, connectionOf("42", { grants: ["group_*"] }));
    const data = { group_name: "group_a", since_group_seq: 0, epoch: "lost" };
    await run(ctx, { type: "join_group", data });
    expect(ctx.replies[0]?.data).toMatchObject({ epoch: "e1", complete: false });
  });

  it("keeps the connection out of the group when the room cannot be joined", async () => {
    const ctx = commandContext(config, connectionOf("42", { grants: ["group_*"] }));
    ctx.hub.actors.room = () => ({
      publish: () => Promise.reject(new Error("unused")),
      leave: () => Promise.reject(new Error("unused")),
      join: () => Promise.reject(new GatewayError("unavailable", "room overloaded")),
    });
    const error = await refusal(ctx, { type: "join_group", data: { group_name: "group_a" } });
    expect(error.code).toBe("unavailable");
    expect(ctx.connection.groups).toEqual([]);
  });

  it("refuses a group outside the claim with forbidden, and a bad name with invalid_group", async () => {
    const ctx = commandContext(config, connectionOf("42", { grants: ["group_a"] }));
    expect((await refusal(ctx, { type: "join_group", data: { group_name: "group_b" } })).code).toBe(
      "forbidden",
    );
    expect(
      (await refusal(ctx, { type: "join_group", data: { group_name: "nogroup_b" } })).code,
    ).toBe("invalid_group");
    expect(ctx.connection.groups).toEqual([]);
  });

  it("accepts a valid subscription token", async () => {
    const ctx = commandContext(config, connectionOf("42"));
    ctx.hub.subscriptionValid = true;
    await run(ctx, { type: "join_group", data: { group_name: "group_b", token: "sub" } });
    expect(ctx.replies[0]?.type).toBe("group_joined");
  });
});

describe("leave_group and group_message", () => {
  it("leaving a group not joined is not_in_group; leaving a joined one says the new count", async () => {
    const ctx = commandContext(config, connectionOf("42", { groups: ["group_a"] }));
    ctx.hub.rooms.set("group_a", new Set(["conn-42", "other"]));
    expect(
      (await refusal(ctx, { type: "leave_group", data: { group_name: "group_b" } })).code,
    ).toBe("not_in_group");
    await run(ctx, { type: "leave_group", data: { group_name: "group_a" } });
    expect(ctx.replies).toEqual([
      { type: "group_left", data: { group_name: "group_a", member_count: 1 } },
    ]);
    expect(ctx.connection.groups).toEqual([]);
  });

  it("only members send to a group; the sender learns how many users it reached", async () => {
    const outsider = commandContext(config, connectionOf("7"));
    const error = await refusal(outsider, {
      type: "group_message",
      data: { group_name: "group_a", message: "x" },
    });
    expect(error.code).toBe("not_in_group");
    const member = commandContext(config, connectionOf("42", { groups: ["group_a"] }));
    member.hub.publishReach = 3;
    await run(member, {
      type: "group_message",
      data: { group_name: "group_a", message: "hi all" },
    });
    expect(member.hub.published[0]).toMatchObject({
      groupName: "group_a",
      message: { fromUserId: "42", message: "hi all", messageType: "group_message" },
    });
    expect(member.replies[0]).toMatchObject({
      type: "message_sent",
      data: { group_name: "group_a", recipients: 3, delivered: true },
    });
  });

  it("consultation_message on a user socket is forbidden", async () => {
    const ctx = commandContext(config, connectionOf("42"));
    expect(
      (await refusal(ctx, { type: "consultation_message", data: { message: "x" } })).code,
    ).toBe("forbidden");
  });
});

describe("send_message", () => {
  it("delivers one user_message to the target and reports the sockets reached", async () => {
    const ctx = commandContext(config, connectionOf("42", { username: "ann" }));
    ctx.hub.deliveryResult = { status: "delivered", seq: 7, sockets: 3, connectionCount: 3 };
    await run(ctx, { type: "send_message", data: { target_user_id: 43, message: "hello" } });
    expect(ctx.hub.deliveries).toHaveLength(1);
    const [{ userId, delivery }] = ctx.hub.deliveries as [{ userId: string; delivery: any }];
    expect(userId).toBe("43");
    expect(delivery.type).toBe("user_message");
    const data = JSON.parse(delivery.json);
    expect(data).toMatchObject({
      from_user_id: "42",
      from_username: "ann",
      message: "hello",
      message_type: "chat_message",
    });
    expect(ctx.replies).toEqual([
      {
        type: "message_sent",
        data: {
          message_id: delivery.messageId,
          target_user_id: "43",
          recipients: 3,
          delivered: true,
          sent_at: data.sent_at,
        },
      },
    ]);
  });

  it("says delivered false when the target is offline but known", async () => {
    const ctx = commandContext(config, connectionOf("42"));
    ctx.hub.deliveryResult = { status: "stored", seq: 1, sockets: 0, connectionCount: 0 };
    await run(ctx, { type: "send_message", data: { target_user_id: "43", message: "later" } });
    expect(ctx.replies[0]?.data).toMatchObject({ recipients: 0, delivered: false });
  });

  it("answers user_not_found for an unknown target", async () => {
    const ctx = commandContext(config, connectionOf("42"));
    ctx.hub.deliveryResult = { status: "not_found", seq: null, sockets: 0, connectionCount: 0 };
    const error = await refusal(ctx, {
      type: "send_message",
      data: { target_user_id: "nobody", message: "x" },
    });
    expect(error.code).toBe("user_not_found");
    expect(ctx.replies).toEqual([]);
  });
});

describe("broadcast", () => {
  it("is forbidden to a user who is neither staff nor superuser", async () => {
    const ctx = commandContext(config, connectionOf("42"));
    expect((await refusal(ctx, { type: "broadcast", data: { message: "hi" } })).code).toBe(
      "forbidden",
    );
    expect(ctx.hub.broadcasts).toEqual([]);
  });

  it.each([
    ["staff", { isStaff: true }],
    ["superuser", { isSuperuser: true }],
  ] as const)("reaches the online users for %s and reports how many", async (_label, rights) => {
    const ctx = commandContext(config, connectionOf("admin", rights));
    ctx.hub.broadcastReach = 250;
    await run(ctx, { type: "broadcast", data: { message: "maintenance at 10" } });
    expect(JSON.parse(ctx.hub.broadcasts[0]?.json ?? "null")).toMatchObject({
      message: "maintenance at 10",
      message_type: "system_broadcast",
      from_user_id: "admin",
    });
    expect(ctx.replies[0]).toMatchObject({
      type: "message_sent",
      data: { recipients: 250, delivered: true },
    });
  });
});

describe("resume", () => {
  it("replays the stored messages in order with their seq, then says which range it covered", async () => {
    const ctx = commandContext(config, connectionOf("42"));
    ctx.hub.replayResult = {
      messages: [
        { seq: 5, type: "user_message", json: '{"message":"a"}', createdAt: NOW.getTime() },
        { seq: 6, type: "notification", json: '{"title":"b"}', createdAt: NOW.getTime() + 1 },
      ],
      fromSeq: 4,
      toSeq: 6,
      complete: false,
    };
    await run(ctx, { type: "resume", data: { since_seq: 4 } });
    const frames = ctx.sent.map((f) => JSON.parse(f));
    expect(frames.map((f) => [f.type, f.seq])).toEqual([
      ["user_message", 5],
      ["notification", 6],
    ]);
    expect(frames[0].ts).toBe(NOW.toISOString());
    expect(ctx.replies).toEqual([
      { type: "resumed", data: { from_seq: 4, to_seq: 6, complete: false } },
    ]);
  });
});

describe("the sender's budget", () => {
  /** A budget that records what handlers charge and refuses targets listed in `refuse`. */
  function recordingBudget(refuse: string[] = []) {
    const charged: number[] = [];
    const targets: string[] = [];
    return {
      charged,
      targets,
      chargeReached: (users: number) => charged.push(users),
      admitTarget: (userId: string) => {
        targets.push(userId);
        if (refuse.includes(userId)) {
          throw new GatewayError("rate_limited", "too many new targets", { retryAfterMs: 5_000 });
        }
      },
    };
  }

  it("is charged the users a group message reached", async () => {
    const budget = recordingBudget();
    const ctx = commandContext(config, connectionOf("42", { groups: ["group_a"] }), { budget });
    ctx.hub.publishReach = 37;
    await run(ctx, { type: "group_message", data: { group_name: "group_a", message: "hi" } });
    expect(budget.charged).toEqual([37]);
  });

  it("is charged the users a broadcast reached", async () => {
    const budget = recordingBudget();
    const ctx = commandContext(config, connectionOf("admin", { isStaff: true }), { budget });
    ctx.hub.broadcastReach = 250;
    await run(ctx, { type: "broadcast", data: { message: "maintenance" } });
    expect(budget.charged).toEqual([250]);
  });

  it("refuses a direct message past the new-target cap before anything is delivered", async () => {
    const budget = recordingBudget(["stranger"]);
    const ctx = commandContext(config, connectionOf("42"), { budget });
    const error = await refusal(ctx, {
      type: "send_message",
      data: { target_user_id: "stranger", message: "x" },
    });
    expect(error).toMatchObject({ code: "rate_limited", retryAfterMs: 5_000 });
    expect(ctx.hub.deliveries).toEqual([]);
    await run(ctx, { type: "send_message", data: { target_user_id: 43, message: "hi" } });
    expect(budget.targets).toEqual(["stranger", "43"]);
    expect(ctx.hub.deliveries).toHaveLength(1);
  });
});
