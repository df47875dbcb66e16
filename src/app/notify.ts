import type { AppContext } from "./context.ts";
import { userNotFound } from "./user-not-found.ts";

export interface Notification {
  title: string;
  message: string;
  data?: unknown;
}

export interface NotificationSent {
  notificationId: string;
  /** Whether a socket of the user received it now (else it waits in their mailbox). */
  delivered: boolean;
  connectionCount: number;
}

/** A notification to one user; throws `user_not_found` for a user the gateway does not know. */
export async function notify(
  app: AppContext,
  userId: string,
  input: Notification,
): Promise<NotificationSent> {
  const notificationId = app.ids.newId();
  const result = await app.actors.user(userId).notify({
    notification_id: notificationId,
    title: input.title,
    message: input.message,
    data: input.data ?? {},
    created_at: new Date(app.clock.now()).toISOString(),
  });
  if (result.status === "not_found") throw userNotFound(userId);
  return {
    notificationId,
    delivered: result.sockets > 0,
    connectionCount: result.connectionCount,
  };
}
