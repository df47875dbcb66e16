/**
 * A user's mailbox: every message stored for them gets the next `seq`, so a client that lost
 * its socket can `resume` from the last seq it saw. Pruned by count and by age; the highest
 * pruned seq is remembered so a resume can say it is incomplete.
 *
 * Notifications have their own quota (`notificationsMax`), apart from every other message
 * (`max`): a flood of direct messages prunes the oldest direct messages, never a stored
 * notification, and a flood of notifications never prunes direct messages.
 */
import { encodeRawFrame } from "../protocol/codec.ts";
import type { MailboxType, Resumed } from "../protocol/messages.ts";
import { LazyTable, type Sql } from "./sql.ts";

export interface StoredMessage {
  seq: number;
  type: MailboxType;
  /** The message's data as JSON text. */
  json: string;
  /** ms since epoch */
  createdAt: number;
}

export interface MailboxLimits {
  /** Most messages kept that are not notifications. Default 1,000 (MAILBOX_MAX). */
  max: number;
  /** Most notifications kept. Default 1,000 (MAILBOX_NOTIFICATIONS_MAX). */
  notificationsMax?: number;
  /** Oldest message kept, in seconds. Default 7 days. */
  ttlSeconds: number;
}

export const DEFAULT_NOTIFICATIONS_MAX = 1_000;

export interface ReplayResult {
  messages: StoredMessage[];
  fromSeq: number;
  toSeq: number;
  /** false when messages after `fromSeq` were already pruned. */
  complete: boolean;
}

/** How many messages a single resume replays at most; the client resumes again from to_seq. */
export const MAX_REPLAY = 1_000;

/**
 * Finds the oldest notifications (their quota's pruning) without scanning the other messages.
 * Partial, so a direct message or a broadcast writes two rows (itself and its message_id), not
 * three; the other quota's oldest is found in seq order, passing at most the notifications.
 */
const NOTIFICATIONS_INDEX =
  "CREATE INDEX IF NOT EXISTS mailbox_notifications ON mailbox (seq) WHERE type = 'notification'";

/** The two quotas messages are counted against. */
type Quota = "notifications" | "others";

const quotaOf = (type: string): Quota => (type === "notification" ? "notifications" : "others");

/** The rows of one quota, as a WHERE condition (constant text, no user input). */
const IN_QUOTA: Record<Quota, string> = {
  notifications: "type = 'notification'",
  others: "type <> 'notification'",
};

interface MailboxState {
  lastSeq: number;
  /** Every seq at or below it that is not stored was pruned; above it, nothing was. */
  prunedThrough: number;
  /** Stored messages per quota. */
  counts: Record<Quota, number>;
  /** The oldest stored message (any quota), or null when none is stored. */
  oldestSeq: number | null;
  oldestAt: number | null;
}

/**
 * Seqs are handed out one by one and never reused, so every seq up to lastSeq is either stored
 * or was pruned. Per quota, pruning by count removes that quota's oldest message, so the
 * stored range can have holes; what a resume needs is only the highest pruned seq
 * (prunedThrough), kept in memory and recomputed from the holes after an eviction. The
 * per-message cost stays at one INSERT, plus one DELETE (and one SELECT when it removed the
 * oldest message) once a quota is full: every write goes through this object (one per actor,
 * single-threaded).
 */
export class Mailbox {
  private readonly sql: Sql;
  private readonly limits: Required<MailboxLimits>;
  private state: MailboxState | null = null;
  /** Created with the first message, so users who never receive one cost nothing. */
  private readonly table: LazyTable;

  constructor(sql: Sql, limits: MailboxLimits) {
    this.sql = sql;
    this.limits = { notificationsMax: DEFAULT_NOTIFICATIONS_MAX, ...limits };
    this.table = new LazyTable(sql, "mailbox", [
      // message_id makes delivery idempotent: a fan-out retried after a failure stores nothing twice.
      `CREATE TABLE IF NOT EXISTS mailbox (
        seq INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
        data TEXT NOT NULL, created_at INTEGER NOT NULL)`,
      NOTIFICATIONS_INDEX,
      // last_seq survives a mailbox pruned empty.
      "CREATE TABLE IF NOT EXISTS mailbox_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    ]);
  }

  private load(): MailboxState {
    if (this.state !== null) return this.state;
    if (!this.table.exists()) {
      this.state = {
        lastSeq: 0,
        prunedThrough: 0,
        counts: { notifications: 0, others: 0 },
        oldestSeq: null,
        oldestAt: null,
      };
      return this.state;
    }
    this.upgradeIndexes();
    const [range] = this.sql
      .exec<{ lo: number | null; hi: number | null; notifications: number; total: number }>(
        `SELECT min(seq) AS lo, max(seq) AS hi, count(*) AS total,
           coalesce(sum(type = 'notification'), 0) AS notifications FROM mailbox`,
      )
      .toArray();
    const [meta] = this.sql
      .exec<{ value: number }>("SELECT value FROM mailbox_meta WHERE key = 'last_seq'")
      .toArray();
    const oldestSeq = range?.lo ?? null;
    const hi = range?.hi ?? 0;
    const lastSeq = Math.max(hi, meta?.value ?? 0);
    // The highest hole below the newest stored message: a missing seq s followed by a stored s + 1.
    const [hole] = this.sql
      .exec<{ gap: number | null }>(
        `SELECT max(seq) - 1 AS gap FROM mailbox AS m
           WHERE seq > 1 AND NOT EXISTS (SELECT 1 FROM mailbox WHERE seq = m.seq - 1)`,
      )
      .toArray();
    const [oldest] =
      oldestSeq === null
        ? []
        : this.sql
            .exec<{ created_at: number }>("SELECT created_at FROM mailbox WHERE seq = ?", oldestSeq)
            .toArray();
    const notifications = range?.notifications ?? 0;
    this.state = {
      lastSeq,
      // Seqs above the newest stored one were pruned too (the mailbox was pruned empty).
      prunedThrough: lastSeq > hi ? lastSeq : (hole?.gap ?? 0),
      counts: { notifications, others: (range?.total ?? 0) - notifications },
      oldestSeq,
      oldestAt: oldest?.created_at ?? null,
    };
    return this.state;
  }

  /**
   * Mailboxes created before the notifications index was partial have an index on (type, seq)
   * that every stored message writes to: replaced once, on the first load after the upgrade.
   */
  private upgradeIndexes(): void {
    const [old] = this.sql
      .exec<{ n: number }>(
        "SELECT count(*) AS n FROM sqlite_master WHERE type = 'index' AND name = 'mailbox_type_seq'",
      )
      .toArray();
    if ((old?.n ?? 0) === 0) return;
    this.sql.exec("DROP INDEX mailbox_type_seq");
    this.sql.exec(NOTIFICATIONS_INDEX);
  }

  lastSeq(): number {
    return this.load().lastSeq;
  }

  /** What is stored now: messages per quota and the last seq handed out. */
  size(): { notifications: number; others: number; lastSeq: number } {
    const state = this.load();
    return { ...state.counts, lastSeq: state.lastSeq };
  }

  /** Everything after this seq that was ever stored is still stored (see MailboxState). */
  private prunedThrough(): number {
    return this.load().prunedThrough;
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
   * (Durable Object storage coalesces them into one implicit transaction).
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
    state.counts[quotaOf(type)] += 1;
    if (state.oldestSeq === null) {
      state.oldestSeq = seq;
      state.oldestAt = now;
    }
    this.prune(now, quotaOf(type));
    return { seq, duplicate: false };
  }

  private limitOf(quota: Quota): number {
    return quota === "notifications" ? this.limits.notificationsMax : this.limits.max;
  }

  /** Drops what is past its quota (`grown`: the quota a message was just added to) or its age. */
  private prune(now: number, grown?: Quota): void {
    const state = this.load();
    if (state.oldestSeq === null || state.oldestAt === null) return;
    const cutoff = now - this.limits.ttlSeconds * 1000;
    const overQuota = grown !== undefined && state.counts[grown] > this.limitOf(grown);
    if (!overQuota && state.oldestAt >= cutoff) return;
    const removed: { seq: number; type: string }[] = [];
    if (grown !== undefined && overQuota) {
      // The quota's oldest: one message in, one out (more only after its limit was lowered).
      removed.push(
        ...this.sql
          .exec<{ seq: number; type: string }>(
            `DELETE FROM mailbox WHERE seq IN (SELECT seq FROM mailbox WHERE ${IN_QUOTA[grown]}
               ORDER BY seq LIMIT ?) RETURNING seq, type`,
            state.counts[grown] - this.limitOf(grown),
          )
          .toArray(),
      );
    }
    if (state.oldestAt < cutoff) {
      removed.push(
        ...this.sql
          .exec<{ seq: number; type: string }>(
            "DELETE FROM mailbox WHERE created_at < ? RETURNING seq, type",
            cutoff,
          )
          .toArray(),
      );
    }
    for (const row of removed) {
      state.counts[quotaOf(row.type)] -= 1;
      state.prunedThrough = Math.max(state.prunedThrough, row.seq);
    }
    // Finding the oldest again is only needed when it was among the removed.
    if (!removed.some((row) => row.seq === state.oldestSeq)) return;
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

/** A mailbox replay as `resume` sends it: each message with its `seq`, then `resumed`. */
export function mailboxResumption(result: ReplayResult): { frames: string[]; resumed: Resumed } {
  return {
    frames: result.messages.map((message) =>
      encodeRawFrame(message.type, message.json, {
        seq: message.seq,
        ts: new Date(message.createdAt).toISOString(),
      }),
    ),
    resumed: { from_seq: result.fromSeq, to_seq: result.toSeq, complete: result.complete },
  };
}
