/**
 * The UserHub's side of terminating its user's connections (src/core/termination.ts): its own
 * sockets are closed by its SocketHost, the leased ones by the RoomHubs that hold them.
 */
import type { TerminationPorts } from "../core/termination.ts";
import type { SocketHost } from "./socket-host.ts";
import type { UserConnections } from "./user-connections.ts";

export function userTerminationPorts(
  env: Env,
  host: SocketHost,
  connections: UserConnections,
): TerminationPorts {
  return {
    store: connections.store,
    closeOwn: (frame) => host.terminate(frame),
    leases: () => connections.leases.all(),
    closeLeased: (room, connectionIds, frame) =>
      env.ROOM_HUB.getByName(`room:${room}`).terminate(room, connectionIds, frame),
    endLease: (connectionId) => connections.endLease(connectionId),
  };
}
