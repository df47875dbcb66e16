import { roomOf } from "./join-room.ts";
import type { AppContext } from "./ports.ts";

/** A user's socket leaves a group's room. Resolves with the room's member count. */
export async function leaveRoom(
  app: AppContext,
  groupName: string,
  userId: string,
  connectionId: string,
): Promise<number> {
  return roomOf(app, groupName).leave(userId, connectionId);
}
