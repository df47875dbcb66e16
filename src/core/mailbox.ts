/**
 * A user's mailbox: every message stored for them gets the next `seq`, so a client that lost
 * its socket can `resume` from the last seq it saw. Pruned by count and by age; the highest
 * pruned seq is remembered so a resume can say it is incomplete.
 */
import type { MailboxType } from "../protocol/messages.ts";
import { LazyTable, type SqlPort } from "./sql.ts";

export interface StoredMessage {
  seq: number;
  type: MailboxType;
  /** The message's data as JSON text. */
  json: string;
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

interface MailboxState {
  lastSeq: number;
  /** The oldest stored message, or null when none is stored. */
  oldestSeq: number | null;
  oldestAt: number | null;
}

/**
 * Seqs are handed out one by one and pruning removes a prefix, so the stored messages are
 * always the contiguous range oldestSeq..lastSeq: everything below oldestSeq was pruned. That
 * keeps the per-message cost at one INSERT (plus one DELETE once the mailbox is full), with the
 * range held in memory: every write goes through this object (one per actor, single-threaded),
 * and after an eviction the next use reads it back with one query.
 */
export class Mailbox {
  private readonly sql: SqlPort;
  private readonly limits: MailboxLimits;
  private state: MailboxState | null = null;
  /** Created with the first message, so users who never receive one cost nothing. */
  private readonly table: LazyTable;

  constructor(sql: SqlPort, limits: MailboxLimits) {
    this.sql = sql;
    this.limits = limits;
    this.table = new LazyTable(sql, "mailbox", [
      // message_id makes delivery idempotent: a fan-out retried after a failure stores nothing twice.
      `CREATE TABLE IF NOT EXISTS mailbox (
        seq INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
        data TEXT NOT NULL, created_at INTEGER NOT NULL)`,
      // last_seq survives a mailbox pruned empty.
      "CREATE TABLE IF NOT EXISTS mailbox_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    ]);
  }

  private load(): MailboxState {
    if (this.state !== null) return this.state;
    if (!this.table.exists()) {
      this.state = { lastSeq: 0, oldestSeq: null, oldestAt: null };
      return this.state;
    }
    const [range] = this.sql
      .exec<{ lo: number | null; hi: number | null }>(
        "SELECT min(seq) AS lo, max(seq) AS hi FROM mailbox",
      )
      .toArray();
    const [meta] = this.sql
      .exec<{ value: number }>("SELECT value FROM mailbox_meta WHERE key = 'last_seq'")
      .toArray();
    const oldestSeq = range?.lo ?? null;
    const [oldest] =
      oldestSeq === null
        ? []
        : this.sql
            .exec<{ created_at: number }>("SELECT created_at FROM mailbox WHERE seq = ?", oldestSeq)
            .toArray();
    this.state = {
      lastSeq: Math.max(range?.hi ?? 0, meta?.value ?? 0),
      oldestSeq,
      oldestAt: oldest?.created_at ?? null,
    };
    return this.state;
  }

  lastSeq(): number {
    return this.load().lastSeq;
  }

  /** Everything at or below this seq is gone (pruned), so a resume from below it is incomplete. */
  private prunedThrough(): number {
    const state = this.load();
    return state.oldestSeq === null ? state.lastSeq : state.oldestSeq - 1;
  }

  /** The seq of a message already stored, or null. */
  seqOf(messageId: string): number | null {
    if (!this.table.exists()) return null;
    const [row] = this.sql
      .exec<{ seq: number }>("SELECT seq FROM mailbox WHERE message_id = ?", messageId)
      .toArray();
    return row?.seq ?? null;
  }

  /**
   * Store a message; returns its seq, and `duplicate` when that message id was stored before
   * (then nothing is stored again). Writes without an await in between commit together
   * (PLATFORM-NOTES).
   */
  append(
    messageId: string,
    type: MailboxType,
    json: string,
    now: number,
  ): { seq: number; duplicate: boolean } {
    const state = this.load();
    this.table.ensure();
    const seq = state.lastSeq + 1;
    try {
      this.sql.exec(
        "INSERT INTO mailbox (seq, message_id, type, data, created_at) VALUES (?, ?, ?, ?, ?)",
        seq,
        messageId,
        type,
        json,
        now,
      );
    } catch (err) {
      const existing = this.seqOf(messageId);
      if (existing === null) throw err;
      return { seq: existing, duplicate: true };
    }
    state.lastSeq = seq;
    if (state.oldestSeq === null) {
      state.oldestSeq = seq;
      state.oldestAt = now;
    }
    this.prune(now);
    return { seq, duplicate: false };
  }

  private prune(now: number): void {
    const state = this.load();
    if (state.oldestSeq === null || state.oldestAt === null) return;
    const byCount = state.lastSeq - this.limits.max;
    const cutoff = now - this.limits.ttlSeconds * 1000;
    if (byCount < state.oldestSeq && state.oldestAt >= cutoff) return;
    if (byCount >= state.oldestSeq) this.sql.exec("DELETE FROM mailbox WHERE seq <= ?", byCount);
    if (state.oldestAt < cutoff) this.sql.exec("DELETE FROM mailbox WHERE created_at < ?", cutoff);
    const [oldest] = this.sql
      .exec<{ seq: number; created_at: number }>(
        "SELECT seq, created_at FROM mailbox ORDER BY seq LIMIT 1",
      )
      .toArray();
    state.oldestSeq = oldest?.seq ?? null;
    state.oldestAt = oldest?.created_at ?? null;
    if (oldest === undefined) {
      this.sql.exec(
        "INSERT INTO mailbox_meta (key, value) VALUES ('last_seq', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        state.lastSeq,
      );
    }
  }

  /** Messages after `sinceSeq`, oldest first, at most MAX_REPLAY of them. */
  replay(sinceSeq: number, now: number): ReplayResult {
    this.prune(now);
    const rows = this.table.exists()
      ? this.sql
          .exec<{ seq: number; type: string; data: string; created_at: number }>(
            "SELECT seq, type, data, created_at FROM mailbox WHERE seq > ? ORDER BY seq LIMIT ?",
            sinceSeq,
            MAX_REPLAY,
          )
          .toArray()
      : [];
    const messages = rows.map((row) => ({
      seq: row.seq,
      type: row.type as MailboxType, // written only by append(), from the MailboxType union
      json: row.data,
      createdAt: row.created_at,
    }));
    const last = messages.at(-1)?.seq;
    return {
      messages,
      fromSeq: sinceSeq,
      toSeq: last ?? Math.max(sinceSeq, this.lastSeq()),
      complete: sinceSeq >= this.prunedThrough(),
    };
  }
}
