/**
 * Room presence in batches (PROTOCOL.md, "Who receives status_changed"). A member's online or
 * offline flip reaches the room in one call from that member's actor; the room keeps the flips
 * of a window (the latest per user), and at the window's end makes one call per member carrying
 * every flip of the window. Above `maxMembers` members it sends counts only:
 * `room_presence { group_name, online_count }`, at most once per window.
 *
 * So a storm of M flips in a room of M members costs M calls in plus one call per member per
 * window, instead of one call per co-member per flip (M²/2). Windows are paced: after a flush
 * that made N calls the next one waits at least N / CALLS_PER_SECOND seconds, so a room spends
 * at most CALLS_PER_SECOND member calls per second on presence however long the storm.
 *
 * Pending flips are stored (SQL), so a flush survives eviction: the actor's alarm runs it.
 * Runtime-agnostic: storage, the member list and the calls are injected.
 */
import type { StatusChanged } from "../protocol/messages.ts";
import { mapBounded } from "./bounded.ts";
import type { SqlPort } from "./sql.ts";

/** How long a first flip waits for others before the room tells its members: 250 ms. */
export const PRESENCE_WINDOW_MS = 250;
/** Most member calls per second one room spends on presence: 1,000. */
export const CALLS_PER_SECOND = 1_000;
/** Member calls of one flush in flight at once. */
const CONCURRENCY = 64;

export interface RoomPresencePorts {
  sql: SqlPort;
  /** User ids of the members reached through their user actors. */
  members(): string[];
  /** Users online in the room: members, and users of sockets the room holds itself. */
  onlineCount(): number;
  /** One call to a member: every flip of the window but their own. */
  pushStatuses(userId: string, statuses: StatusChanged[]): Promise<void>;
  /** One call to a member of a large room: the count. */
  pushCount(userId: string, onlineCount: number): Promise<void>;
  /** The room's own sockets (told in place, no call): flips, or the count for a large room. */
  local(update: { statuses: StatusChanged[] } | { onlineCount: number }): void;
  log?: (message: string) => void;
  /** The clock, ms since epoch. Default Date.now. */
  now?: () => number;
}

export interface FlushReport {
  /** Announcements received (one per flip per room) since the previous flush. */
  received: number;
  /** Distinct users whose flips went out. */
  users: number;
  /** Calls made to members. */
  calls: number;
  /** Counts only (above maxMembers), or per-user frames. */
  countsOnly: boolean;
}

interface PendingRow extends Record<string, string | number> {
  seq: number;
  status: string;
}

export class RoomPresence {
  private readonly ports: RoomPresencePorts;
  private readonly maxMembers: number;
  private tableReady = false;
  private flushing: Promise<FlushReport | null> | null = null;
  private readonly clock: () => number;

  constructor(ports: RoomPresencePorts, maxMembers: number) {
    this.ports = ports;
    this.maxMembers = maxMembers;
    this.clock = ports.now ?? Date.now;
  }

  /** A member flipped: keep the latest flip per user until the window closes. */
  receive(status: StatusChanged, now: number): void {
    this.ensureTable();
    // seq orders the flips; a later flip of the same user replaces the earlier one.
    const seq = this.state("seq") + 1;
    this.setState("seq", seq);
    this.ports.sql.exec(
      `INSERT INTO presence_pending (seq, user_id, status) VALUES (?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET seq = excluded.seq, status = excluded.status`,
      seq,
      status.user_id,
      JSON.stringify(status),
    );
    this.setState("received", this.state("received") + 1);
    if (this.state("flush_at") === 0) {
      this.setState("flush_at", Math.max(now + PRESENCE_WINDOW_MS, this.state("paced_until")));
    }
  }

  /** When the pending window must be flushed, or null when nothing is pending. */
  nextWakeAt(): number | null {
    if (!this.tableExists()) return null;
    const at = this.state("flush_at");
    return at === 0 ? null : at;
  }

  /** Tell the members if the window is over; one flush at a time. */
  flush(now: number): Promise<FlushReport | null> {
    this.flushing ??= this.send(now).finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async send(now: number): Promise<FlushReport | null> {
    const due = this.nextWakeAt();
    if (due === null || due > now) return null;
    const sql = this.ports.sql;
    const rows = sql
      .exec<PendingRow>("SELECT seq, status FROM presence_pending ORDER BY seq")
      .toArray();
    const received = this.state("received");
    // Flips arriving while the members are called wait for the next window.
    const last = rows.at(-1)?.seq ?? 0;
    sql.exec("DELETE FROM presence_pending WHERE seq <= ?", last);
    this.setState("received", 0);
    this.setState("flush_at", 0);
    const statuses = rows.map((row) => JSON.parse(row.status) as StatusChanged);
    const members = this.ports.members();
    const onlineCount = this.ports.onlineCount();
    const countsOnly = onlineCount > this.maxMembers || members.length > this.maxMembers;
    let calls = 0;
    if (countsOnly) {
      this.ports.local({ onlineCount });
      await mapBounded(members, CONCURRENCY, async (userId) => {
        calls++;
        await this.ports.pushCount(userId, onlineCount).catch((err) => this.failed(userId, err));
      });
    } else if (statuses.length > 0) {
      this.ports.local({ statuses });
      await mapBounded(members, CONCURRENCY, async (userId) => {
        const others = statuses.filter((status) => status.user_id !== userId);
        if (others.length === 0) return;
        calls++;
        await this.ports.pushStatuses(userId, others).catch((err) => this.failed(userId, err));
      });
    }
    const pacedUntil = this.clock() + Math.ceil((calls * 1000) / CALLS_PER_SECOND);
    this.setState("paced_until", pacedUntil);
    const pending = sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM presence_pending").toArray();
    if ((pending[0]?.n ?? 0) > 0 && this.state("flush_at") === 0) {
      this.setState("flush_at", Math.max(this.clock() + PRESENCE_WINDOW_MS, pacedUntil));
    }
    const report = { received, users: statuses.length, calls, countsOnly };
    this.ports.log?.(
      `presence window: ${received} announcement(s) of ${statuses.length} user(s), ${calls} member call(s)${countsOnly ? " (counts only)" : ""}`,
    );
    return report;
  }

  private failed(userId: string, err: unknown): void {
    // Presence to one member is best effort: their client asks get_status on reconnect.
    this.ports.log?.(`presence to ${userId} failed: ${String(err)}`);
  }

  private tableExists(): boolean {
    if (this.tableReady) return true;
    const rows = this.ports.sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'presence_state'",
      )
      .toArray();
    this.tableReady = rows.length > 0;
    return this.tableReady;
  }

  /** Created on the first flip: rooms that never hear one pay nothing. */
  private ensureTable(): void {
    if (this.tableExists()) return;
    const sql = this.ports.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS presence_pending (
      seq INTEGER NOT NULL, user_id TEXT PRIMARY KEY, status TEXT NOT NULL)`);
    sql.exec(
      "CREATE TABLE IF NOT EXISTS presence_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    );
    this.tableReady = true;
  }

  private state(key: string): number {
    if (!this.tableExists()) return 0;
    const [row] = this.ports.sql
      .exec<{ value: number }>("SELECT value FROM presence_state WHERE key = ?", key)
      .toArray();
    return row?.value ?? 0;
  }

  private setState(key: string, value: number): void {
    this.ports.sql.exec(
      "INSERT INTO presence_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      value,
    );
  }
}
