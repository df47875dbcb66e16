/**
 * Notifications waiting to be recorded in Postgres (the application's durable inbox). They
 * are written in the actor's SQLite in the same step that stores them in the mailbox, then
 * flushed in batches by the alarm, retried with backoff until Postgres has them.
 *
 * A row Postgres refuses for what it holds (the writer says which: a data exception or a
 * constraint, which would fail again on every retry) is parked in the actor's own SQLite as a
 * dead letter, so it can never hold back the rows after it; it cannot go to a Postgres table,
 * since Postgres is what refused it. Any other failure (Postgres unreachable, a statement that
 * fails for every row alike) parks nothing: the batch is retried with backoff.
 */
import { backoffMs } from "./outbox.ts";
import { LazyTable, type Sql } from "./sql.ts";

export interface NotificationRecord {
  id: string;
  userId: string;
  title: string;
  message: string;
  data: unknown;
  /** ISO timestamps */
  createdAt: string;
  deliveredAt: string | null;
}

/** A row the writer could not store because of its content, and Postgres's reason. */
export interface RefusedNotification {
  id: string;
  /** `SQLSTATE: message`, e.g. `22021: invalid byte sequence for encoding "UTF8": 0x00`. */
  reason: string;
}

export interface NotificationWriteResult {
  /** Rows refused for their content; every other row of the batch was written. */
  refused: RefusedNotification[];
}

/** Writes a batch; throws when nothing can be said about single rows (e.g. Postgres is down). */
export type NotificationWriter = (
  records: NotificationRecord[],
) => Promise<NotificationWriteResult>;

export interface DeadLetter extends RefusedNotification {
  record: NotificationRecord;
  /** When it was parked, ms since epoch. */
  parkedAt: number;
}

/** Rows written per flush; the next alarm takes the rest. */
const BATCH = 100;
/** Dead letters kept per user; beyond it the oldest are dropped (each one was logged). */
export const DEAD_LETTERS_KEPT = 1_000;

export class NotificationOutbox {
  private readonly sql: Sql;
  /** Both tables are created with the first notification (see LazyTable). */
  private readonly table: LazyTable;
  private readonly dead: LazyTable;

  constructor(sql: Sql) {
    this.sql = sql;
    this.table = new LazyTable(sql, "pending_notifications", [
      `CREATE TABLE IF NOT EXISTS pending_notifications (
        id TEXT PRIMARY KEY, record TEXT NOT NULL, created_at INTEGER NOT NULL)`,
      `CREATE TABLE IF NOT EXISTS pending_notifications_state (
        id INTEGER PRIMARY KEY CHECK (id = 1), attempts INTEGER NOT NULL, next_at INTEGER NOT NULL)`,
    ]);
    this.dead = new LazyTable(sql, "dead_notifications", [
      `CREATE TABLE IF NOT EXISTS dead_notifications (
        id TEXT PRIMARY KEY, record TEXT NOT NULL, reason TEXT NOT NULL, parked_at INTEGER NOT NULL)`,
    ]);
  }

  add(record: NotificationRecord, now: number): void {
    this.table.ensure();
    this.sql.exec(
      "INSERT INTO pending_notifications (id, record, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
      record.id,
      JSON.stringify(record),
      now,
    );
  }

  size(): number {
    if (!this.table.exists()) return 0;
    const [row] = this.sql
      .exec<{ n: number }>("SELECT count(*) AS n FROM pending_notifications")
      .toArray();
    return row?.n ?? 0;
  }

  /** When the next flush is due (ms since epoch), or null when nothing waits. */
  nextFlushAt(): number | null {
    if (!this.table.exists()) return null;
    const [oldest] = this.sql
      .exec<{ created_at: number }>(
        "SELECT created_at FROM pending_notifications ORDER BY created_at LIMIT 1",
      )
      .toArray();
    if (!oldest) return null;
    const [state] = this.sql
      .exec<{ next_at: number }>("SELECT next_at FROM pending_notifications_state WHERE id = 1")
      .toArray();
    return state?.next_at ?? oldest.created_at;
  }

  /** Write one batch if due. Returns an error message on failure (and schedules a retry). */
  async flush(write: NotificationWriter, now: number): Promise<string | null> {
    const due = this.nextFlushAt();
    if (due === null || due > now) return null;
    const rows = this.sql
      .exec<{ record: string }>(
        "SELECT record FROM pending_notifications ORDER BY created_at LIMIT ?",
        BATCH,
      )
      .toArray();
    const records = rows.map((row) => JSON.parse(row.record) as NotificationRecord);
    let result: NotificationWriteResult;
    try {
      result = await write(records);
    } catch (err) {
      const [state] = this.sql
        .exec<{ attempts: number }>("SELECT attempts FROM pending_notifications_state WHERE id = 1")
        .toArray();
      const attempts = (state?.attempts ?? 0) + 1;
      this.sql.exec(
        `INSERT INTO pending_notifications_state (id, attempts, next_at) VALUES (1, ?, ?)
         ON CONFLICT (id) DO UPDATE SET attempts = excluded.attempts, next_at = excluded.next_at`,
        attempts,
        now + backoffMs(attempts),
      );
      return err instanceof Error ? err.message : String(err);
    }
    const refused = new Map(result.refused.map((row) => [row.id, row.reason]));
    for (const record of records) {
      const reason = refused.get(record.id);
      if (reason !== undefined) this.park(record, reason, now);
      this.sql.exec("DELETE FROM pending_notifications WHERE id = ?", record.id);
    }
    this.sql.exec("DELETE FROM pending_notifications_state WHERE id = 1");
    return null;
  }

  /** Rows Postgres refused, kept here (at most DEAD_LETTERS_KEPT). */
  deadLetterCount(): number {
    if (!this.dead.exists()) return 0;
    const [row] = this.sql
      .exec<{ n: number }>("SELECT count(*) AS n FROM dead_notifications")
      .toArray();
    return row?.n ?? 0;
  }

  /** The dead letters, oldest first. */
  deadLetters(): DeadLetter[] {
    if (!this.dead.exists()) return [];
    return this.sql
      .exec<{ id: string; record: string; reason: string; parked_at: number }>(
        "SELECT id, record, reason, parked_at FROM dead_notifications ORDER BY parked_at, rowid",
      )
      .toArray()
      .map((row) => ({
        id: row.id,
        reason: row.reason,
        parkedAt: row.parked_at,
        record: JSON.parse(row.record) as NotificationRecord,
      }));
  }

  private park(record: NotificationRecord, reason: string, now: number): void {
    this.dead.ensure();
    this.sql.exec(
      "INSERT INTO dead_notifications (id, record, reason, parked_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
      record.id,
      JSON.stringify(record),
      reason,
      now,
    );
    this.sql.exec(
      `DELETE FROM dead_notifications WHERE rowid NOT IN
         (SELECT rowid FROM dead_notifications ORDER BY parked_at DESC, rowid DESC LIMIT ?)`,
      DEAD_LETTERS_KEPT,
    );
  }
}
