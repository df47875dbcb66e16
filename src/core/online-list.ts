/**
 * The online users of one PresenceShard: who is online (stored at once) and with how many
 * connections (stored a moment later).
 *
 * Every socket opened or closed by an online user changes only its connection count. Storing
 * each of those at once costs the shard one storage commit per socket (on local workerd an
 * fsync on the thread that runs every actor), for a number only `/users/online` shows. So the
 * list lives in memory; a flip (online or offline) is written to SQLite in the call that makes
 * it, and count changes are written together by `saveCounts`, which the shard runs shortly
 * after (`COUNT_SAVE_DELAY_MS`). If the shard is lost in between, its users are still listed
 * (the flips were stored) with the counts of up to that delay before; each user's next change
 * corrects theirs.
 */
import type { Sql } from "./sql.ts";

/** How long count changes wait in memory before they are stored together: 1 s. */
export const COUNT_SAVE_DELAY_MS = 1_000;

export interface OnlineUser {
  user_id: string;
  connection_count: number;
}

interface Listed {
  count: number;
  version: number;
}

export class OnlineList {
  private readonly sql: Sql;
  /** Every listed user, loaded once per instance; by user id. */
  private readonly listed = new Map<string, Listed>();
  /** Users whose count changed in memory and is not stored yet. */
  private readonly unsaved = new Set<string>();

  constructor(sql: Sql) {
    this.sql = sql;
    sql.exec(
      `CREATE TABLE IF NOT EXISTS online (
         user_id TEXT PRIMARY KEY, connection_count INTEGER NOT NULL, version INTEGER NOT NULL)`,
    );
    const rows = sql
      .exec<{ user_id: string; connection_count: number; version: number }>(
        "SELECT user_id, connection_count, version FROM online",
      )
      .toArray();
    for (const row of rows) {
      this.listed.set(row.user_id, { count: row.connection_count, version: row.version });
    }
  }

  /**
   * A user's latest presence; one not newer than what the list holds is ignored. Returns
   * whether a count change waits to be stored (the caller then schedules `saveCounts`).
   */
  update(userId: string, isOnline: boolean, connectionCount: number, version: number): boolean {
    const known = this.listed.get(userId);
    if (known !== undefined && version <= known.version) return false;
    if (!isOnline) {
      if (known !== undefined) {
        this.sql.exec("DELETE FROM online WHERE user_id = ?", userId);
        this.listed.delete(userId);
        this.unsaved.delete(userId);
      }
      return false;
    }
    if (known !== undefined) {
      known.count = connectionCount;
      known.version = version;
      this.unsaved.add(userId);
      return true;
    }
    this.sql.exec(
      `INSERT INTO online (user_id, connection_count, version) VALUES (?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET connection_count = excluded.connection_count,
         version = excluded.version`,
      userId,
      connectionCount,
      version,
    );
    this.listed.set(userId, { count: connectionCount, version });
    return false;
  }

  /** Stores the count changes held in memory, all in one go. */
  saveCounts(): void {
    for (const userId of this.unsaved) {
      const listed = this.listed.get(userId);
      if (listed === undefined) continue;
      this.sql.exec(
        "UPDATE online SET connection_count = ?, version = ? WHERE user_id = ?",
        listed.count,
        listed.version,
        userId,
      );
    }
    this.unsaved.clear();
  }

  /** Count changes not stored yet. */
  get pending(): number {
    return this.unsaved.size;
  }

  /** The online users, by user id. */
  users(): OnlineUser[] {
    return [...this.listed.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([user_id, { count }]) => ({ user_id, connection_count: count }));
  }
}
