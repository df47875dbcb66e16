// In-memory twins of the mirrors for unit tests: the same rules as redis.ts and postgres.ts
// (whole-set replacement, version ordering, managed vs. existing user table), observable
// directly, and able to fail on demand to exercise the outbox's retries.

import type { RefusedNotification } from "../core/notification-outbox.ts";
import { findDataProblem, isStorableText } from "../protocol/json-data.ts";
import type {
  NotificationRecord,
  NotificationWriteResult,
  PostgresMirror,
  PostgresWriteResult,
  PresenceSnapshot,
  RedisMirror,
} from "./types.ts";
import { MirrorWriteError } from "./types.ts";

/** Set `failure` to make every call throw (as a MirrorWriteError) until it is cleared. */
interface Breakable {
  failure: Error | null;
}

export class MemoryRedisMirror implements RedisMirror, Breakable {
  failure: Error | null = null;
  readonly ttlSeconds: number;
  /** user id → connection ids (absent: no key). */
  readonly connections = new Map<string, Set<string>>();
  /** user id → when the key expires (ms since epoch). */
  readonly expiresAt = new Map<string, number>();
  readonly online = new Set<string>();
  readonly #now: () => number;

  constructor(options: { ttlSeconds?: number; now?: () => number } = {}) {
    this.ttlSeconds = options.ttlSeconds ?? 86_400;
    this.#now = options.now ?? Date.now;
  }

  async write(snapshot: PresenceSnapshot): Promise<void> {
    if (this.failure) throw new MirrorWriteError("redis", this.failure);
    this.connections.delete(snapshot.userId);
    this.expiresAt.delete(snapshot.userId);
    if (snapshot.connectionIds.length > 0) {
      this.connections.set(snapshot.userId, new Set(snapshot.connectionIds));
      this.expiresAt.set(snapshot.userId, this.#now() + this.ttlSeconds * 1000);
    }
    if (snapshot.isOnline) this.online.add(snapshot.userId);
    else this.online.delete(snapshot.userId);
  }

  refresh(snapshot: PresenceSnapshot): Promise<void> {
    return this.write(snapshot);
  }

  /** The set as Redis would return it now (expired keys are gone). */
  members(userId: string): string[] {
    const expires = this.expiresAt.get(userId);
    if (expires === undefined || expires <= this.#now()) return [];
    return [...(this.connections.get(userId) ?? [])].sort();
  }
}

export interface MemoryPresenceRow {
  userId: string;
  isOnline: boolean;
  connectionCount: number;
  lastSeen: string | null;
  version: number;
}

export interface MemoryUserRow {
  id: string;
  username: string | null;
  isStaff: boolean;
  isSuperuser: boolean;
  isOnline: boolean;
  lastSeen: string | null;
}

export class MemoryPostgresMirror implements PostgresMirror, Breakable {
  failure: Error | null = null;
  readonly managed: boolean;
  readonly presence = new Map<string, MemoryPresenceRow>();
  readonly users = new Map<string, MemoryUserRow>();
  readonly notifications = new Map<string, NotificationRecord>();
  readonly #now: () => number;

  /** `managed: false` behaves like an application's table: seed `users` yourself. */
  constructor(options: { managed?: boolean; now?: () => number } = {}) {
    this.managed = options.managed ?? true;
    this.#now = options.now ?? Date.now;
  }

  async write(snapshot: PresenceSnapshot): Promise<PostgresWriteResult> {
    if (this.failure) throw new MirrorWriteError("postgres", this.failure);
    const stored = this.presence.get(snapshot.userId);
    if (stored && stored.version >= snapshot.version) return { applied: false, userRows: 0 };
    this.presence.set(snapshot.userId, {
      userId: snapshot.userId,
      isOnline: snapshot.isOnline,
      connectionCount: snapshot.connectionCount,
      lastSeen: snapshot.lastSeen,
      version: snapshot.version,
    });
    const seenAt = snapshot.isOnline ? new Date(this.#now()).toISOString() : snapshot.lastSeen;
    const user = this.users.get(snapshot.userId);
    if (!user) {
      if (!this.managed) return { applied: true, userRows: 0 };
      this.users.set(snapshot.userId, {
        id: snapshot.userId,
        username: snapshot.username ?? null,
        isStaff: snapshot.isStaff ?? false,
        isSuperuser: snapshot.isSuperuser ?? false,
        isOnline: snapshot.isOnline,
        lastSeen: seenAt,
      });
      return { applied: true, userRows: 1 };
    }
    if (this.managed) {
      user.username = snapshot.username ?? user.username;
      user.isStaff = snapshot.isStaff ?? user.isStaff;
      user.isSuperuser = snapshot.isSuperuser ?? user.isSuperuser;
    } else if (user.isOnline === snapshot.isOnline) {
      return { applied: true, userRows: 0 };
    }
    user.isOnline = snapshot.isOnline;
    user.lastSeen = seenAt;
    return { applied: true, userRows: 1 };
  }

  /** Refuses, as Postgres does, a row with U+0000 or a lone surrogate anywhere (22021/22P05). */
  async recordNotifications(
    records: readonly NotificationRecord[],
  ): Promise<NotificationWriteResult> {
    if (this.failure) throw new MirrorWriteError("postgres", this.failure);
    const refused: RefusedNotification[] = [];
    for (const record of records) {
      const texts = [record.id, record.userId, record.title, record.message];
      if (!texts.every(isStorableText) || findDataProblem(record.data, Infinity) !== null) {
        refused.push({ id: record.id, reason: "22021: invalid byte sequence (memory twin)" });
      } else if (!this.notifications.has(record.id)) {
        this.notifications.set(record.id, record);
      }
    }
    return { refused };
  }

  async userExists(userId: string): Promise<boolean> {
    if (this.failure) throw new MirrorWriteError("postgres", this.failure);
    return this.users.has(userId);
  }
}
