/**
 * What an operator sees of one user (`GET /api/v1/users/{id}`, the admin console): every
 * socket with its groups, the presence record and the mailbox's size. Read from the hub's own
 * parts, so it costs one RPC and no storage write.
 */
import type { UserDetails, UserSocketDetails } from "../app/context.ts";
import type { Mailbox } from "../core/mailbox.ts";
import type { SocketSet } from "./socket-set.ts";
import type { UserConnections } from "./user-connections.ts";

export async function userDetails(
  sockets: SocketSet,
  connections: UserConnections,
  mailbox: Mailbox,
): Promise<UserDetails> {
  const snapshot = await connections.presence.snapshot();
  const local: UserSocketDetails[] = sockets.entries().map(({ connection }) => ({
    connection_id: connection.connectionId,
    kind: "user",
    connected_at: new Date(connection.connectedAt).toISOString(),
    groups: [...connection.groups],
  }));
  const leased: UserSocketDetails[] = connections.leases.all().map((lease) => ({
    connection_id: lease.connectionId,
    kind: "room",
    connected_at: null,
    groups: [lease.room],
  }));
  const size = mailbox.size();
  return {
    user_id: snapshot.userId,
    username: snapshot.username ?? null,
    is_online: snapshot.isOnline,
    connection_count: snapshot.connectionCount,
    last_seen: snapshot.lastSeen,
    sockets: [...local, ...leased],
    groups: connections.groups().sort(),
    mailbox: {
      messages: size.notifications + size.others,
      notifications: size.notifications,
      last_seq: size.lastSeq,
    },
  };
}
