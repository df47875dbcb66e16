/**
 * A user's mailbox: every message stored for them gets the next `seq`, so a client that lost
 * its socket can `resume` from the last seq it saw. Pruned by count and by age; the highest
 * pruned seq is remembered so a resume can say it is incomplete.
 */
import type { MailboxType } from "../protocol/messages.ts";
import type { SqlPort } from "./sql.ts";

export interface StoredMessage {
  seq: number;
  type: MailboxType;
  data: unknown;
  /** ms since epoch */
  createdAt: number;
}

export interface MailboxLimits {
  /** Most messages kept. Default 1,000. */
  max: number;
  /** Oldest message kept, in seconds. Default 7 days. */
  ttlSeconds: number;
}

export interface ReplayResult {
  messages: StoredMessage[];
  fromSeq: number;
  toSeq: number;
  /** false when messages after `fromSeq` were already pruned. */
  complete: boolean;
}

/** How many messages a single resume replays at most; the client resumes again from to_seq. */
export const MAX_REPLAY = 1_000;

export class Mailbox {
  private readonly sql: SqlPort;
  private readonly limits: MailboxLimits;

  constructor(sql: SqlPort, limits: MailboxLimits) {
    this.sql = sql;
    this.limits = limits;
    // message_id makes delivery idempotent: a fan-out retried after a failure stores nothing twice.
    sql.exec(`CREATE TABLE IF NOT EXISTS mailbox (
      seq INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
      data TEXT NOT NULL, created_at INTEGER NOT NULL)`);
    sql.exec(
      `CREATE TABLE IF NOT EXISTS mailbox_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)`,
    );
  }

  /**
   * last_seq and pruned_through, read once per actor instance: every write goes through this
   * object (one per actor, single-threaded), so the cached values stay exact until eviction,
   * after which the constructor reads them again.
   */
  private cached: { last_seq: number; pruned_through: number } | null = null;

  private meta(key: "last_seq" | "pruned_through"): number {
    if (this.cached === null) {
      const rows = this.sql
        .exec<{ key: string; value: number }>("SELECT key, value FROM mailbox_meta")
        .toArray();
      const read = (name: string) => rows.find((row) => row.key === name)?.value ?? 0;
      this.cached = { last_seq: read("last_seq"), pruned_through: read("pruned_through") };
    }
    return this.cached[key];
  }

  private setMeta(key: "last_seq" | "pruned_through", value: number): void {
    this.sql.exec(
      "INSERT INTO mailbox_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      value,
    );
    if (this.cached !== null) this.cached[key] = value;
  }

  lastSeq(): number {
    return this.meta("last_seq");
  }

  /** The seq of a message already stored, or null. */
  seqOf(messageId: string): number | null {
    const [row] = this.sql
      .exec<{ seq: number }>("SELECT seq FROM mailbox WHERE message_id = ?", messageId)
      .toArray();
    return row?.seq ?? null;
  }

  /**
   * Store a message and return its seq. The caller checks `seqOf` first when a delivery may be
   * retried; a repeated id fails on the unique index rather than being stored twice.
   * Writes without an await in between commit together (PLATFORM-NOTES).
   */
  append(messageId: string, type: MailboxType, data: unknown, now: number): number {
    const seq = this.lastSeq() + 1;
    this.sql.exec(
      "INSERT INTO mailbox (seq, message_id, type, data, created_at) VALUES (?, ?, ?, ?, ?)",
      seq,
      messageId,
      type,
      JSON.stringify(data),
      now,
    );
    this.setMeta("last_seq", seq);
    this.prune(seq, now);
    return seq;
  }

  private prune(lastSeq: number, now: number): void {
    const byCount = lastSeq - this.limits.max;
    const cutoff = now - this.limits.ttlSeconds * 1000;
    // Seqs are handed out in time order, so the oldest row tells whether any row expired,
    // with a primary-key lookup instead of a scan.
    const [oldest] = this.sql
      .exec<{ created_at: number }>("SELECT created_at FROM mailbox ORDER BY seq LIMIT 1")
      .toArray();
    let byAge = 0;
    if (oldest && oldest.created_at < cutoff) {
      const [row] = this.sql
        .exec<{ seq: number | null }>(
          "SELECT max(seq) AS seq FROM mailbox WHERE created_at < ?",
          cutoff,
        )
        .toArray();
      byAge = row?.seq ?? 0;
    }
    const through = Math.max(byCount, byAge);
    if (through > this.meta("pruned_through")) {
      this.sql.exec("DELETE FROM mailbox WHERE seq <= ?", through);
      this.setMeta("pruned_through", through);
    }
  }

  /** Messages after `sinceSeq`, oldest first, at most MAX_REPLAY of them. */
  replay(sinceSeq: number, now: number): ReplayResult {
    this.prune(this.lastSeq(), now);
    const rows = this.sql
      .exec<{ seq: number; type: string; data: string; created_at: number }>(
        "SELECT seq, type, data, created_at FROM mailbox WHERE seq > ? ORDER BY seq LIMIT ?",
        sinceSeq,
        MAX_REPLAY,
      )
      .toArray();
    const messages = rows.map((row) => ({
      seq: row.seq,
      type: row.type as MailboxType, // written only by append(), from the MailboxType union
      data: JSON.parse(row.data) as unknown,
      createdAt: row.created_at,
    }));
    const last = messages.at(-1)?.seq;
    return {
      messages,
      fromSeq: sinceSeq,
      toSeq: last ?? Math.max(sinceSeq, this.lastSeq()),
      complete: sinceSeq >= this.meta("pruned_through"),
    };
  }
}
