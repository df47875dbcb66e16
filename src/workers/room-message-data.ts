/**
 * What a room's sockets receive for a `RoomPublish`, before the room places it in its history
 * (`group_seq`, `epoch`): a group message, or a participant's consultation post.
 */
import type { RoomPublish } from "../app/context.ts";
import { consultationIdOf } from "../core/groups.ts";
import type { UnplacedRoomData } from "../core/room-history.ts";
import type { RoomMessageType } from "../protocol/messages.ts";

type Published<K extends RoomMessageType> = Extract<RoomPublish, { type: K }>;

/** What the room's sockets receive for a group message, before the room places it. */
export function groupData(
  groupName: string,
  publish: Published<"group_message">,
): UnplacedRoomData<"group_message"> {
  return {
    message_id: publish.messageId,
    group_name: groupName,
    from_user_id: publish.fromUserId ?? "system",
    message_type: publish.messageType,
    ...(publish.message === undefined ? {} : { message: publish.message }),
    ...(publish.data === undefined ? {} : { data: publish.data }),
    sent_at: publish.sentAt,
  };
}

/** What the room's sockets receive for a consultation post, before the room places it. */
export function consultationData(
  groupName: string,
  publish: Published<"consultation_message">,
): UnplacedRoomData<"consultation_message"> {
  return {
    message_id: publish.messageId,
    consultation_id: consultationIdOf(groupName) ?? groupName,
    from_user_id: publish.fromUserId,
    from_username: publish.fromUsername,
    message: publish.message,
    sent_at: publish.sentAt,
  };
}
