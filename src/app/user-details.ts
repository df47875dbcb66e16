import type { AppContext, UserDetails } from "./context.ts";
import { userNotFound } from "./user-not-found.ts";

/** One user's sockets, groups, presence and mailbox size; `user_not_found` as for the status. */
export async function userDetails(app: AppContext, userId: string): Promise<UserDetails> {
  const hub = app.actors.user(userId);
  const [exists, details] = await Promise.all([hub.exists(), hub.details()]);
  if (!exists) throw userNotFound(userId);
  // The hub answers "" for a user it has no profile of (known only from the user table).
  return { ...details, user_id: userId };
}
