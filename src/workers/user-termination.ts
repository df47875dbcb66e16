/**
 * The UserHub's side of terminating its user's connections (src/core/termination.ts): its own
 * sockets are closed here, the leased ones by the RoomHubs that hold them.
 */
import type { TerminationPorts } from "../core/termination.ts";
import { Disconnects } from "../protocol/errors.ts";
import { SocketSet } from "./socket-set.ts";
import type { UserConnections } from "./user-connections.ts";

export function userTerminationPorts(parts: {
  env: Env;
  sockets: SocketSet;
  connections: UserConnections;
  /** The hub's handling of a socket's end (leave its groups, count it out). */
  socketGone: (ws: WebSocket) => Promise<void>;
}): TerminationPorts {
  const { env, sockets, connections } = parts;
  return {
    store: connections.store,
    closeOwn: async (frame) => {
      const open = sockets.open();
      for (const ws of open) {
        SocketSet.send(ws, frame);
        SocketSet.close(ws, Disconnects.terminated);
        await parts.socketGone(ws);
      }
      return open.length;
    },
    leases: () => connections.leases.all(),
    closeLeased: (room, connectionIds, frame) =>
      env.ROOM_HUB.getByName(`room:${room}`).terminate(room, connectionIds, frame),
    endLease: (connectionId) => connections.endLease(connectionId),
  };
}
