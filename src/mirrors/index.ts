/**
 * The presence mirrors configured for this deployment. A mirror whose settings are absent is
 * off (and said so once at start by the Worker).
 */
import type { Config } from "../core/config.ts";
import type { NotificationWriter } from "../core/notification-outbox.ts";
import type { PresenceSnapshot } from "../core/presence.ts";
import type { MirrorTarget } from "../core/presence-keeper.ts";

export type MirrorWriters = Partial<
  Record<MirrorTarget, (snapshot: PresenceSnapshot) => Promise<void>>
>;

export function createMirrors(_config: Config): MirrorWriters {
  // TEMPORARY until src/mirrors/{redis,postgres}.ts land (issue 3).
  return {};
}

/** Whether a user exists in the application's user table; null when Postgres is off. */
export function createUserDirectory(
  _config: Config,
): ((userId: string) => Promise<boolean>) | null {
  // TEMPORARY until src/mirrors/postgres.ts lands (issue 3).
  return null;
}

/** Records notifications in Postgres; null when Postgres is off. */
export function createNotificationWriter(_config: Config): NotificationWriter | null {
  // TEMPORARY until src/mirrors/postgres.ts lands (issue 3).
  return null;
}
