/**
 * What a UserHub's sockets hear of their rooms' presence (docs/protocol.md, "Who receives
 * status_changed"): a room's window of co-members' flips, each told once per socket however
 * many rooms bring it, and a large room's online count.
 */
import { StatusMemory } from "../core/announce.ts";
import type { Connection } from "../core/connection.ts";
import type { RoomPresenceUpdate } from "../core/room-presence.ts";
import { encodeFrame } from "../protocol/codec.ts";
import type { StatusChanged } from "../protocol/messages.ts";
import { SocketSet } from "./socket-set.ts";

export class CoMemberPresence {
  /** Co-members' flips each socket was told (a flip may come from several shared rooms). */
  private readonly told = new StatusMemory();
  private readonly sockets: () => readonly { ws: WebSocket; connection: Connection }[];

  constructor(sockets: () => readonly { ws: WebSocket; connection: Connection }[]) {
    this.sockets = sockets;
  }

  /** To this user's sockets in the room: the window's flips, or the room's online count. */
  tell(groupName: string, update: RoomPresenceUpdate): void {
    if ("statuses" in update) this.statuses(groupName, update.statuses);
    else this.count(groupName, update.onlineCount);
  }

  /** One room's window of flips: `status_changed` to this user's sockets in that room. */
  private statuses(groupName: string, statuses: readonly StatusChanged[]): void {
    for (const { ws, connection } of this.inRoom(groupName)) {
      for (const status of statuses) {
        if (this.told.firstTime(status, connection.connectionId))
          SocketSet.send(ws, encodeFrame("status_changed", status));
      }
    }
  }

  /** A large room's online count: `room_presence` to this user's sockets in that room. */
  private count(groupName: string, onlineCount: number): void {
    const frame = encodeFrame("room_presence", {
      group_name: groupName,
      online_count: onlineCount,
    });
    for (const { ws } of this.inRoom(groupName)) SocketSet.send(ws, frame);
  }

  private inRoom(groupName: string) {
    return this.sockets().filter((entry) => entry.connection.groups.includes(groupName));
  }
}
