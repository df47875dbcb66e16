import type { Config } from "../core/config.ts";
import { validateGroupName } from "../core/groups.ts";
import type { AppContext } from "./context.ts";
import { roomOf } from "./join-room.ts";

export interface RoomMessage {
  /** The sending user, or null for server code. */
  fromUserId: string | null;
  messageType: string;
  /** A socket sends text (`message`); server code sends any JSON (`data`). */
  message?: string;
  data?: unknown;
}

/**
 * A message to a group: its RoomHub stores it once and fans it out to the members' sockets.
 * Throws `invalid_group` for a name outside GROUP_PREFIXES.
 */
export async function sendToRoom(
  app: AppContext,
  config: Config,
  groupName: string,
  input: RoomMessage,
): Promise<{ messageId: string; recipients: number; sentAt: string }> {
  validateGroupName(groupName, config);
  const room = roomOf(app, groupName);
  const messageId = app.ids.newId();
  const sentAt = new Date(app.clock.now()).toISOString();
  const { recipients } = await room.publish({
    type: "group_message",
    messageId,
    fromUserId: input.fromUserId,
    messageType: input.messageType,
    ...(input.message === undefined ? {} : { message: input.message }),
    ...(input.data === undefined ? {} : { data: input.data }),
    sentAt,
  });
  return { messageId, recipients, sentAt };
}
