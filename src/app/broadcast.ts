import { broadcastToShards } from "../core/broadcast.ts";
import { newDelivery } from "../core/delivery.ts";
import type { AppContext } from "./context.ts";

/** `from_user_id` of a broadcast that server code (the API key, a service binding) sends. */
export const SYSTEM_SENDER = "system";

export interface Broadcast {
  /** The staff user who sends it, or null for server code (sent as `"system"`). */
  fromUserId: string | null;
  message: string;
  messageType: string;
}

/** A system broadcast to every online user, through every presence shard. */
export async function broadcast(
  app: AppContext,
  presenceShards: number,
  input: Broadcast,
): Promise<{ messageId: string; recipients: number; sentAt: string }> {
  const messageId = app.ids.newId();
  const sentAt = new Date(app.clock.now()).toISOString();
  const delivery = newDelivery(
    "system_broadcast",
    {
      message_id: messageId,
      message: input.message,
      message_type: input.messageType,
      from_user_id: input.fromUserId ?? SYSTEM_SENDER,
      sent_at: sentAt,
    },
    messageId,
  );
  const recipients = await broadcastToShards(
    presenceShards,
    (index) => app.actors.shard(index).broadcast(delivery),
    { log: (message) => console.warn(`broadcast:${message}`) },
  );
  return { messageId, recipients, sentAt };
}
