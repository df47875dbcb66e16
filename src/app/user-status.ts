import type { AppContext } from "./context.ts";
import { userNotFound } from "./user-not-found.ts";

export interface UserStatus {
  userId: string;
  isOnline: boolean;
  connectionCount: number;
  lastSeen: string | null;
}

/** A user's status; `user_not_found` for a user who never connected and is not in the user table. */
export async function userStatus(app: AppContext, userId: string): Promise<UserStatus> {
  const hub = app.actors.user(userId);
  const [exists, status] = await Promise.all([hub.exists(), hub.status()]);
  if (!exists) throw userNotFound(userId);
  return {
    // The hub answers "" for a user it has no profile of (known only from the user table).
    userId,
    isOnline: status.is_online,
    connectionCount: status.connection_count,
    lastSeen: status.last_seen,
  };
}
