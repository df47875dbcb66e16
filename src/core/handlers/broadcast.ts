import { GatewayError } from "../../protocol/errors.ts";
import { isPrivileged } from "../auth.ts";
import { newDelivery } from "../delivery.ts";
import type { Handler } from "./types.ts";

/** A system broadcast from a staff socket to every online user. */
export const broadcast: Handler<"broadcast"> = async (ctx, command) => {
  if (!isPrivileged(ctx.connection)) {
    throw new GatewayError("forbidden", "only staff may broadcast");
  }
  const messageId = crypto.randomUUID();
  const sentAt = new Date(ctx.now()).toISOString();
  const delivery = newDelivery(
    "system_broadcast",
    {
      message_id: messageId,
      message: command.data.message,
      message_type: command.data.message_type,
      from_user_id: ctx.connection.userId,
      sent_at: sentAt,
    },
    messageId,
  );
  const recipients = await ctx.hub.broadcast(delivery);
  ctx.budget.chargeReached(recipients);
  ctx.reply("message_sent", {
    message_id: messageId,
    recipients,
    delivered: recipients > 0,
    sent_at: sentAt,
  });
};
