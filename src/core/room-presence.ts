/**
 * Room presence in batches (docs/protocol.md, "Who receives status_changed"). A member's online or
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
 * Pending flips are kept in memory, not in storage: an announcement then costs the room no
 * storage commit (on local workerd a commit blocks every actor; on Cloudflare it is billed).
 * A room evicted inside a window loses that window's frames; the flips themselves are in each
 * user's presence, which `get_status` and every later flip tell.
 * Runtime-agnostic: the member list, the calls and the timer are injected.
 */
import type { StatusChanged } from "../protocol/messages.ts";
import { mapBounded } from "./bounded.ts";

/** How long a first flip waits for others before the room tells its members: 250 ms. */
export const PRESENCE_WINDOW_MS = 250;
/** Most member calls per second one room spends on presence: 1,000. */
export const CALLS_PER_SECOND = 1_000;
/** Member calls of one flush in flight at once. */
const CONCURRENCY = 64;

/** What one member's sockets in a room are told: the window's flips, or a large room's count. */
export type RoomPresenceUpdate = { statuses: StatusChanged[] } | { onlineCount: number };

export interface RoomPresencePorts {
  /** User ids of the members reached through their user actors. */
  members(): string[];
  /** Users online in the room: members, and users of sockets the room holds itself. */
  onlineCount(): number;
  /** One call to a member: every flip of the window but their own. */
  pushStatuses(userId: string, statuses: StatusChanged[]): Promise<void>;
  /** One call to a member of a large room: the count. */
  pushCount(userId: string, onlineCount: number): Promise<void>;
  /** The room's own sockets (told in place, no call): flips, or the count for a large room. */
  local(update: RoomPresenceUpdate): void;
  log?: (message: string) => void;
  /** Run `flush` at `at` (ms since epoch); the host's timer. */
  wakeAt(at: number): void;
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

export class RoomPresence {
  private readonly ports: RoomPresencePorts;
  private readonly maxMembers: number;
  private readonly clock: () => number;
  /** The latest flip per user in the open window (a Map keeps first-arrival order). */
  private pending = new Map<string, StatusChanged>();
  /** Announcements received in the open window. */
  private received = 0;
  /** When the open window closes; null when nothing is pending. */
  private flushAt: number | null = null;
  /** No flush before this: the pacing after the previous one. */
  private pacedUntil = 0;
  private flushing: Promise<FlushReport | null> | null = null;

  constructor(ports: RoomPresencePorts, maxMembers: number) {
    this.ports = ports;
    this.maxMembers = maxMembers;
    this.clock = ports.now ?? Date.now;
  }

  /** A member flipped: keep the latest flip per user until the window closes. */
  receive(status: StatusChanged, now: number): void {
    this.pending.delete(status.user_id);
    this.pending.set(status.user_id, status);
    this.received++;
    this.schedule(now);
  }

  /** When the open window must be flushed, or null when nothing is pending. */
  nextWakeAt(): number | null {
    return this.flushAt;
  }

  /** Tell the members if the window is over; one flush at a time. */
  flush(now: number): Promise<FlushReport | null> {
    this.flushing ??= this.send(now).finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private schedule(now: number): void {
    if (this.flushAt !== null) return;
    this.flushAt = Math.max(now + PRESENCE_WINDOW_MS, this.pacedUntil);
    this.ports.wakeAt(this.flushAt);
  }

  private async send(now: number): Promise<FlushReport | null> {
    if (this.flushAt === null || this.flushAt > now) return null;
    // Flips arriving while the members are called open the next window.
    const statuses = [...this.pending.values()];
    const received = this.received;
    this.pending = new Map();
    this.received = 0;
    this.flushAt = null;
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
    } else {
      this.ports.local({ statuses });
      await mapBounded(members, CONCURRENCY, async (userId) => {
        const others = statuses.filter((status) => status.user_id !== userId);
        if (others.length === 0) return;
        calls++;
        await this.ports.pushStatuses(userId, others).catch((err) => this.failed(userId, err));
      });
    }
    const done = this.clock();
    this.pacedUntil = done + Math.ceil((calls * 1000) / CALLS_PER_SECOND);
    if (this.pending.size > 0) this.schedule(done);
    this.ports.log?.(
      `presence window: ${received} announcement(s) of ${statuses.length} user(s), ${calls} member call(s)${countsOnly ? " (counts only)" : ""}`,
    );
    return { received, users: statuses.length, calls, countsOnly };
  }

  private failed(userId: string, err: unknown): void {
    // Presence to one member is best effort: their client asks get_status on reconnect.
    this.ports.log?.(`presence to ${userId} failed: ${String(err)}`);
  }
}
