import { isPrivileged } from "../../core/auth.ts";
import { GatewayError } from "../../protocol/errors.ts";
import { broadcast as broadcastToAll } from "../broadcast.ts";
import { type Handler, operationContext } from "./types.ts";

/** A system broadcast from a staff socket to every online user. */
export const broadcast: Handler<"broadcast"> = async (ctx, command) => {
  if (!isPrivileged(ctx.connection)) {
    throw new GatewayError("forbidden", "only staff may broadcast");
  }
  const sent = await broadcastToAll(operationContext(ctx), ctx.config.presenceShards, {
    fromUserId: ctx.connection.userId,
    message: command.data.message,
    messageType: command.data.message_type,
  });
  ctx.budget.chargeReached(sent.recipients);
  ctx.reply("message_sent", {
    message_id: sent.messageId,
    recipients: sent.recipients,
    delivered: sent.recipients > 0,
    sent_at: sent.sentAt,
  });
};
