import { sendDirectMessage } from "../send-direct-message.ts";
import { type Handler, operationContext } from "./types.ts";

/** A direct message: the operation's one call to the target's UserHub, which stores and pushes it. */
export const sendMessage: Handler<"send_message"> = async (ctx, command) => {
  const { target_user_id: target, message, message_type } = command.data;
  ctx.budget.admitTarget(target);
  const sent = await sendDirectMessage(operationContext(ctx), target, {
    from: { userId: ctx.connection.userId, username: ctx.connection.username },
    message,
    messageType: message_type,
  });
  ctx.reply("message_sent", {
    message_id: sent.messageId,
    target_user_id: target,
    recipients: sent.recipients,
    delivered: sent.recipients > 0,
    sent_at: sent.sentAt,
  });
};
