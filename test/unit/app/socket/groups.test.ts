import { describe, expect, it } from "vitest";
import { GatewayError } from "../../../../src/protocol/errors.ts";
import { mintSubscriptionToken } from "../../../helpers/tokens.ts";
import { commandContext, connectionOf, refusal, run } from "../../helpers/holding-actor.ts";

describe("join_group", () => {
  it("joins a group the token's claim allows (glob) and reports the member count", async () => {
    const ctx = commandContext(connectionOf("42", { grants: ["group_*"] }));
    await run(ctx, { type: "join_group", data: { group_name: "group_a" } });
    expect(ctx.replies).toEqual([
      {
        type: "group_joined",
        data: { group_name: "group_a", member_count: 1, group_seq: 0, epoch: "e1", complete: true },
      },
    ]);
    expect(ctx.connection.groups).toEqual(["group_a"]);
    expect(ctx.holder.saved.at(-1)?.groups).toEqual(["group_a"]);
  });

  it("with since_group_seq, sends the room's later messages in order, then group_joined", async () => {
    const ctx = commandContext(connectionOf("42", { grants: ["group_*"] }));
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
    const ctx = commandContext(connectionOf("42", { grants: ["group_*"] }));
    const data = { group_name: "group_a", since_group_seq: 0, epoch: "lost" };
    await run(ctx, { type: "join_group", data });
    expect(ctx.replies[0]?.data).toMatchObject({ epoch: "e1", complete: false });
  });

  it("keeps the connection out of the group when the room cannot be joined", async () => {
    const ctx = commandContext(connectionOf("42", { grants: ["group_*"] }));
    ctx.holder.actors.room = () => ({
      publish: () => Promise.reject(new Error("unused")),
      leave: () => Promise.reject(new Error("unused")),
      join: () => Promise.reject(new GatewayError("unavailable", "room overloaded")),
    });
    const error = await refusal(ctx, { type: "join_group", data: { group_name: "group_a" } });
    expect(error.code).toBe("unavailable");
    expect(ctx.connection.groups).toEqual([]);
  });

  it("refuses a group outside the claim with forbidden, and a bad name with invalid_group", async () => {
    const ctx = commandContext(connectionOf("42", { grants: ["group_a"] }));
    expect((await refusal(ctx, { type: "join_group", data: { group_name: "group_b" } })).code).toBe(
      "forbidden",
    );
    expect(
      (await refusal(ctx, { type: "join_group", data: { group_name: "nogroup_b" } })).code,
    ).toBe("invalid_group");
    expect(ctx.connection.groups).toEqual([]);
  });

  it("accepts a valid subscription token", async () => {
    const ctx = commandContext(connectionOf("42"));
    const token = await mintSubscriptionToken("42", "group_b");
    await run(ctx, { type: "join_group", data: { group_name: "group_b", token } });
    expect(ctx.replies[0]?.type).toBe("group_joined");
  });
});

describe("leave_group and group_message", () => {
  it("leaving a group not joined is not_in_group; leaving a joined one says the new count", async () => {
    const ctx = commandContext(connectionOf("42", { groups: ["group_a"] }));
    ctx.holder.rooms.set("group_a", new Set(["conn-42", "other"]));
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
    const outsider = commandContext(connectionOf("7"));
    const error = await refusal(outsider, {
      type: "group_message",
      data: { group_name: "group_a", message: "x" },
    });
    expect(error.code).toBe("not_in_group");
    const member = commandContext(connectionOf("42", { groups: ["group_a"] }));
    member.holder.publishReach = 3;
    await run(member, {
      type: "group_message",
      data: { group_name: "group_a", message: "hi all" },
    });
    expect(member.holder.published[0]).toMatchObject({
      groupName: "group_a",
      message: { fromUserId: "42", message: "hi all", messageType: "group_message" },
    });
    expect(member.replies[0]).toMatchObject({
      type: "message_sent",
      data: { group_name: "group_a", recipients: 3, delivered: true },
    });
  });

  it("consultation_message on a user socket is forbidden", async () => {
    const ctx = commandContext(connectionOf("42"));
    expect(
      (await refusal(ctx, { type: "consultation_message", data: { message: "x" } })).code,
    ).toBe("forbidden");
  });
});
