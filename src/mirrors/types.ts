// What the presence mirrors promise. The actors are the truth; these stores converge to them.
// Implementations: redis.ts (Upstash REST), postgres.ts (Neon driver), memory.ts (unit tests).

import type { NotificationRecord, NotificationWriteResult } from "../core/notification-outbox.ts";
import type { PresenceSnapshot } from "../core/presence.ts";

export type { NotificationRecord, NotificationWriteResult, PresenceSnapshot };

/** `user_connections:{id}` (the live connection ids) and `online_users` in Redis. */
export interface RedisMirror {
  /**
   * Makes Redis match the snapshot in one MULTI: the user's set replaced whole (TTL 24 h) or
   * deleted when there are no connections, and the user added to or removed from the online set.
   */
  write(snapshot: PresenceSnapshot): Promise<void>;
  /**
   * The periodic refresh while online: renews the TTL and reconciles the set. Both come from
   * rewriting the set: an EXPIRE alone could not bring back a key that was evicted or deleted.
   */
  refresh(snapshot: PresenceSnapshot): Promise<void>;
}

export interface PostgresWriteResult {
  /** false when the stored presence row already had this version or a newer one. */
  applied: boolean;
  /** Rows of the application's user table written (0 when not applied or the user is unknown). */
  userRows: number;
}

/** `realtime_presence` plus the application's user flag, written together. */
export interface PostgresMirror {
  /**
   * In one statement (so one transaction): upserts the presence row only if `snapshot.version`
   * is newer than the stored one, and then (only then) the online flag in the application's
   * user table.
   */
  write(snapshot: PresenceSnapshot): Promise<PostgresWriteResult>;
  /**
   * Inserts notifications; ids already present are left alone, so retries are harmless. A row
   * Postgres refuses for its content (SQLSTATE class 22 data exception or 23 constraint) does
   * not fail the others: it is answered in `refused`. Throws (MirrorWriteError) when Postgres is
   * unreachable or the failure is not about single rows; then nothing may be parked.
   */
  recordNotifications(records: readonly NotificationRecord[]): Promise<NotificationWriteResult>;
  /** Whether the application's user table has this user. */
  userExists(userId: string): Promise<boolean>;
}

/** A mirror write failed; the outbox keeps the state and retries with backoff. */
export class MirrorWriteError extends Error {
  override readonly name = "MirrorWriteError";
  readonly mirror: "redis" | "postgres";
  /** Always true: the store may be back on the next attempt. */
  readonly temporary = true;
  constructor(mirror: "redis" | "postgres", cause: unknown) {
    super(`${mirror} mirror: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.mirror = mirror;
  }
}
