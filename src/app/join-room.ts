import type { RoomSince } from "../core/room-history.ts";
import { GatewayError } from "../protocol/errors.ts";
import type { AppContext, RoomActor, RoomJoined } from "./context.ts";

/** The group's room, or `unavailable` while the deployment has none. */
export function roomOf(app: AppContext, groupName: string): RoomActor {
  const room = app.actors.room(groupName);
  if (room === null) {
    throw new GatewayError("unavailable", "group messaging is not enabled in this deployment");
  }
  return room;
}

/**
 * A user's socket joins a group's room (the caller has checked the right to). Resolves with the
 * room's member count and position, and with `since` the room's messages after it.
 */
export async function joinRoom(
  app: AppContext,
  groupName: string,
  userId: string,
  connectionId: string,
  since?: RoomSince,
): Promise<RoomJoined> {
  return roomOf(app, groupName).join(userId, connectionId, since);
}
