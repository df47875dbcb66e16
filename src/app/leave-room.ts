import type { AppContext } from "./context.ts";
import { roomOf } from "./join-room.ts";

/** A user's socket leaves a group's room. Resolves with the room's member count. */
export async function leaveRoom(
  app: AppContext,
  groupName: string,
  userId: string,
  connectionId: string,
): Promise<number> {
  return roomOf(app, groupName).leave(userId, connectionId);
}
