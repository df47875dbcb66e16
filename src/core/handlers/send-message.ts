import { GatewayError } from "../../protocol/errors.ts";
import { newDelivery } from "../delivery.ts";
import type { Handler } from "./types.ts";

/** A direct message: one RPC to the target's UserHub, which stores and pushes it. */
export const sendMessage: Handler<"send_message"> = async (ctx, command) => {
  const { target_user_id: target, message, message_type } = command.data;
  ctx.budget.admitTarget(target);
  const messageId = crypto.randomUUID();
  const sentAt = new Date(ctx.now()).toISOString();
  const delivery = newDelivery(
    "user_message",
    {
      message_id: messageId,
      from_user_id: ctx.connection.userId,
      from_username: ctx.connection.username,
      message,
      message_type,
      sent_at: sentAt,
    },
    messageId,
  );
  const result = await ctx.hub.deliverTo(target, delivery);
  if (result.status === "not_found") {
    throw new GatewayError("user_not_found", "no such user", {
      details: { target_user_id: target },
    });
  }
  ctx.reply("message_sent", {
    message_id: messageId,
    target_user_id: target,
    recipients: result.sockets,
    delivered: result.sockets > 0,
    sent_at: sentAt,
  });
};
