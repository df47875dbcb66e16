import { describe, expect, it } from "vitest";
import { CONSULTATION_HANDLERS } from "../../../../src/app/socket/consultation.ts";
import { dispatch } from "../../../../src/app/socket/index.ts";
import { GatewayError } from "../../../../src/protocol/errors.ts";
import { command, commandContext, connectionOf, NOW } from "../../helpers/holding-actor.ts";

const participant = () =>
  connectionOf("42", { username: "ann", grants: ["consultation_*"], groups: ["consultation_7"] });

describe("consultation sockets", () => {
  it("post consultation_message to their room and answer message_sent with the users reached", async () => {
    const ctx = commandContext(participant());
    ctx.holder.publishReach = 2;
    await dispatch(
      CONSULTATION_HANDLERS,
      ctx,
      command({ type: "consultation_message", data: { message: "good morning" } }),
    );
    expect(ctx.holder.published).toEqual([
      {
        groupName: "consultation_7",
        message: expect.objectContaining({
          type: "consultation_message",
          fromUserId: "42",
          fromUsername: "ann",
          message: "good morning",
        }),
      },
    ]);
    expect(ctx.replies).toEqual([
      {
        type: "message_sent",
        data: {
          message_id: expect.any(String),
          group_name: "consultation_7",
          recipients: 2,
          delivered: true,
          sent_at: NOW.toISOString(),
        },
      },
    ]);
  });

  it("refuse the commands of user sockets with forbidden", async () => {
    for (const frame of [
      { type: "send_message", data: { target_user_id: 1, message: "x" } },
      { type: "broadcast", data: { message: "x" } },
      { type: "join_group", data: { group_name: "group_a" } },
    ]) {
      const ctx = commandContext(participant());
      const refused = await Promise.resolve()
        .then(() => dispatch(CONSULTATION_HANDLERS, ctx, command(frame)))
        .catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(GatewayError);
      expect(refused).toMatchObject({ code: "forbidden" });
      expect(ctx.holder.published).toEqual([]);
    }
  });

  it("refuse consultation_message on the socket of a room that is no consultation", async () => {
    const ctx = commandContext(connectionOf("42", { groups: ["group_a"] }));
    const refused = await Promise.resolve()
      .then(() =>
        dispatch(
          CONSULTATION_HANDLERS,
          ctx,
          command({ type: "consultation_message", data: { message: "x" } }),
        ),
      )
      .catch((err: unknown) => err);
    expect(refused).toMatchObject({ code: "forbidden" });
    expect(ctx.holder.published).toEqual([]);
  });
});
