import { newDelivery } from "../core/delivery.ts";
import type { AppContext } from "./context.ts";
import { userNotFound } from "./user-not-found.ts";

export interface DirectMessage {
  from: { userId: string; username: string };
  message: string;
  messageType: string;
}

export interface DirectMessageSent {
  messageId: string;
  /** Sockets of the target the message reached now; 0 when it waits in their mailbox. */
  recipients: number;
  sentAt: string;
}

/**
 * A direct message: one call to the target's UserHub, which stores it in the mailbox and pushes
 * it to the target's sockets. Throws `user_not_found` for a target the gateway does not know.
 */
export async function sendDirectMessage(
  app: AppContext,
  targetId: string,
  input: DirectMessage,
): Promise<DirectMessageSent> {
  const messageId = app.ids.newId();
  const sentAt = new Date(app.clock.now()).toISOString();
  const delivery = newDelivery(
    "user_message",
    {
      message_id: messageId,
      from_user_id: input.from.userId,
      from_username: input.from.username,
      message: input.message,
      message_type: input.messageType,
      sent_at: sentAt,
    },
    messageId,
  );
  const result = await app.actors.user(targetId).deliver(delivery);
  if (result.status === "not_found") throw userNotFound(targetId);
  return { messageId, recipients: result.sockets, sentAt };
}
