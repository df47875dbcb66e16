import type { Connection } from "../core/connection.ts";
import type { StatusResponse } from "../protocol/messages.ts";
import type { AppContext } from "./context.ts";

/**
 * What `get_status` answers on a socket: its own user (online, as the socket is open), this
 * socket's id and groups, and, when asked, other users' statuses in the order asked (each id
 * once; a user the gateway never saw is offline).
 */
export async function socketStatus(
  app: AppContext,
  socket: { connection: Connection; connectionCount: number },
  userIds: readonly string[] = [],
): Promise<StatusResponse> {
  const { connection } = socket;
  const response: StatusResponse = {
    user_id: connection.userId,
    is_online: true,
    connection_count: socket.connectionCount,
    connection_id: connection.connectionId,
    groups: [...connection.groups],
  };
  if (userIds.length > 0) {
    response.users = await Promise.all(
      [...new Set(userIds)].map(async (userId) => {
        const status = await app.actors.user(userId).status();
        return { user_id: userId, is_online: status.is_online, last_seen: status.last_seen };
      }),
    );
  }
  return response;
}
