import { describe, expect, it } from "vitest";
import { commandContext, connectionOf, refusal, run } from "../../helpers/holding-actor.ts";

describe("send_message", () => {
  it("delivers one user_message to the target and reports the sockets reached", async () => {
    const ctx = commandContext(connectionOf("42", { username: "ann" }));
    ctx.holder.deliveryResult = { status: "delivered", seq: 7, sockets: 3, connectionCount: 3 };
    await run(ctx, { type: "send_message", data: { target_user_id: 43, message: "hello" } });
    expect(ctx.holder.deliveries).toHaveLength(1);
    const [{ userId, delivery }] = ctx.holder.deliveries as [{ userId: string; delivery: any }];
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
    const ctx = commandContext(connectionOf("42"));
    ctx.holder.deliveryResult = { status: "stored", seq: 1, sockets: 0, connectionCount: 0 };
    await run(ctx, { type: "send_message", data: { target_user_id: "43", message: "later" } });
    expect(ctx.replies[0]?.data).toMatchObject({ recipients: 0, delivered: false });
  });

  it("answers user_not_found for an unknown target", async () => {
    const ctx = commandContext(connectionOf("42"));
    ctx.holder.deliveryResult = { status: "not_found", seq: null, sockets: 0, connectionCount: 0 };
    const error = await refusal(ctx, {
      type: "send_message",
      data: { target_user_id: "nobody", message: "x" },
    });
    expect(error.code).toBe("user_not_found");
    expect(ctx.replies).toEqual([]);
  });
});
