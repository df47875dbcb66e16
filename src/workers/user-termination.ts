/**
 * The UserHub's side of terminating its user's connections (src/core/termination.ts): its own
 * sockets are closed by its SocketHost, the leased ones by the RoomHubs that hold them; the
 * block is kept in the hub's storage and read at every upgrade.
 */

import type { Deadlines } from "../core/deadlines.ts";
import {
  blockedError,
  blockedUntil,
  type Termination,
  terminateConnections,
} from "../core/termination.ts";
import { forRpc, type GatewayError } from "../protocol/errors.ts";
import type { SocketHost } from "./socket-host.ts";
import type { UserConnections } from "./user-connections.ts";

export class UserTermination {
  private readonly env: Env;
  private readonly host: SocketHost;
  private readonly connections: UserConnections;
  private readonly deadlines: Deadlines;

  constructor(env: Env, host: SocketHost, connections: UserConnections, deadlines: Deadlines) {
    this.env = env;
    this.host = host;
    this.connections = connections;
    this.deadlines = deadlines;
  }

  /** The UserHub's `terminate` RPC: failures cross the RPC boundary with their code. */
  async terminate(termination: Termination): Promise<{ closed: number }> {
    try {
      return await this.close(termination);
    } catch (err) {
      throw forRpc(err);
    } finally {
      await this.deadlines.reschedule();
    }
  }

  private close(termination: Termination): Promise<{ closed: number }> {
    const { env, host, connections } = this;
    return terminateConnections(
      {
        store: connections.store,
        closeOwn: (frame) => host.terminate(frame),
        leases: () => connections.leases.all(),
        closeLeased: (room, connectionIds, frame) =>
          env.ROOM_HUB.getByName(`room:${room}`).terminate(room, connectionIds, frame),
        endLease: (connectionId) => connections.endLease(connectionId),
      },
      termination,
    );
  }

  /** Until when the user's upgrades are refused (ms since epoch), or null. */
  blockedUntil(): Promise<number | null> {
    return blockedUntil(this.connections.store, Date.now());
  }

  /** The refusal of an upgrade while blocked (403), or null. */
  async refusal(): Promise<GatewayError | null> {
    const until = await this.blockedUntil();
    return until === null ? null : blockedError(until);
  }
}
