/**
 * Notifications waiting to be recorded in Postgres (the application's durable inbox). They
 * are written in the actor's SQLite in the same step that stores them in the mailbox, then
 * flushed in batches by the alarm, retried with backoff until Postgres has them.
 */
import { backoffMs } from "./outbox.ts";
import { LazyTable, type SqlPort } from "./sql.ts";

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

export type NotificationWriter = (records: NotificationRecord[]) => Promise<void>;

/** Rows written per flush; the next alarm takes the rest. */
const BATCH = 100;

export class NotificationOutbox {
  private readonly sql: SqlPort;
  /** Both tables are created with the first notification (see LazyTable). */
  private readonly table: LazyTable;

  constructor(sql: SqlPort) {
    this.sql = sql;
    this.table = new LazyTable(sql, "pending_notifications", [
      `CREATE TABLE IF NOT EXISTS pending_notifications (
        id TEXT PRIMARY KEY, record TEXT NOT NULL, created_at INTEGER NOT NULL)`,
      `CREATE TABLE IF NOT EXISTS pending_notifications_state (
        id INTEGER PRIMARY KEY CHECK (id = 1), attempts INTEGER NOT NULL, next_at INTEGER NOT NULL)`,
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
    try {
      await write(records);
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
    for (const record of records)
      this.sql.exec("DELETE FROM pending_notifications WHERE id = ?", record.id);
    this.sql.exec("DELETE FROM pending_notifications_state WHERE id = 1");
    return null;
  }
}
