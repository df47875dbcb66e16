import type { AppContext } from "./context.ts";
import { roomOf } from "./join-room.ts";

export interface ConsultationPost {
  /** The consultation's room, `consultation_{id}`. */
  room: string;
  from: { userId: string; username: string };
  message: string;
}

/**
 * A participant's message on a consultation socket: the consultation's RoomHub stores it in the
 * room's history and sends it to every participant socket and every member socket.
 */
export async function postInConsultation(
  app: AppContext,
  post: ConsultationPost,
): Promise<{ messageId: string; recipients: number; sentAt: string }> {
  const messageId = app.ids.newId();
  const sentAt = new Date(app.clock.now()).toISOString();
  const { recipients } = await roomOf(app, post.room).publish({
    type: "consultation_message",
    messageId,
    fromUserId: post.from.userId,
    fromUsername: post.from.username,
    message: post.message,
    sentAt,
  });
  return { messageId, recipients, sentAt };
}
