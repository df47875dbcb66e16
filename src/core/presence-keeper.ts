/**
 * Keeps one user's presence and its mirrors: applies the presence rules when the connection
 * set changes, records what the mirrors still need in the outbox, and flushes it when the
 * actor's alarm fires, retrying with backoff until each mirror has the latest state.
 *
 * Runtime-agnostic: storage, mirrors, the health monitor and the clock are injected, so the
 * UserHub only wires it (and unit tests drive it with in-memory twins).
 */
import {
  dueTargets,
  flushFailed,
  flushSucceeded,
  markDirty,
  nextFlushAt,
  type Outbox,
} from "./outbox.ts";
import {
  connectionsChanged,
  type Flip,
  graceElapsed,
  INITIAL_PRESENCE,
  type PresenceSnapshot,
  type PresenceState,
} from "./presence.ts";

/** Where presence is mirrored: the two external stores and the PresenceShard of the user. */
export type MirrorTarget = "redis" | "postgres" | "shard" | "rooms";

/** The subset of Durable Object storage this needs (any async key-value store fits). */
export interface KeyValueStore {
  get<T>(key: string): Promise<T | undefined>;
  put<T>(key: string, value: T): Promise<void>;
}

export interface UserProfile {
  userId: string;
  username: string;
  isStaff: boolean;
  isSuperuser: boolean;
}

export interface PresenceKeeperOptions {
  storage: KeyValueStore;
  /** The configured mirrors; a missing one is off. */
  mirrors: Partial<Record<MirrorTarget, (snapshot: PresenceSnapshot) => Promise<void>>>;
  /** Told when a mirror falls behind (with since) and when it caught up again (null). */
  reportLag?: (target: MirrorTarget, userId: string, since: number | null) => Promise<void>;
  /** Live connection ids right now (local sockets and leases). */
  connectionIds: () => string[];
  /** Delay before an offline flip, in milliseconds. */
  graceMs: number;
  /** While online, how often the Redis TTL is refreshed and the set reconciled, in ms. */
  refreshMs: number;
  /** Per target, how long a first change waits for more before it is written, in ms. Default 0. */
  coalesceMs?: Partial<Record<MirrorTarget, number>>;
  now?: () => number;
  log?: (message: string) => void;
}

const PRESENCE_KEY = "presence";
const OUTBOX_KEY = "outbox";
const PROFILE_KEY = "profile";
const REFRESH_KEY = "refresh_at";

export class PresenceKeeper {
  private readonly options: PresenceKeeperOptions;
  private readonly now: () => number;

  constructor(options: PresenceKeeperOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  async presence(): Promise<PresenceState> {
    return (await this.options.storage.get<PresenceState>(PRESENCE_KEY)) ?? INITIAL_PRESENCE;
  }

  async profile(): Promise<UserProfile | undefined> {
    return this.options.storage.get<UserProfile>(PROFILE_KEY);
  }

  async outbox(): Promise<Outbox<MirrorTarget>> {
    return (await this.options.storage.get<Outbox<MirrorTarget>>(OUTBOX_KEY)) ?? {};
  }

  async rememberProfile(profile: UserProfile): Promise<void> {
    const stored = await this.profile();
    if (
      stored?.userId !== profile.userId ||
      stored.username !== profile.username ||
      stored.isStaff !== profile.isStaff ||
      stored.isSuperuser !== profile.isSuperuser
    ) {
      await this.options.storage.put(PROFILE_KEY, profile);
    }
  }

  /** The connection set changed: apply the rules and queue the mirrors. */
  async connectionsChanged(): Promise<Flip> {
    const now = this.now();
    const count = this.options.connectionIds().length;
    const { state, flip } = connectionsChanged(
      await this.presence(),
      count,
      now,
      this.options.graceMs,
    );
    await this.save(state, now);
    if (flip === "online")
      await this.options.storage.put(REFRESH_KEY, now + this.options.refreshMs);
    return flip;
  }

  /**
   * The alarm fired: flip offline after the grace period, refresh the mirrors of an online
   * user periodically, and flush what is due. Returns the flip that happened, if any.
   */
  async onAlarm(): Promise<Flip> {
    const now = this.now();
    const count = this.options.connectionIds().length;
    const presence = await this.presence();
    let flip: Flip = null;
    const elapsed = graceElapsed(presence, count, now);
    if (elapsed.flip !== null || elapsed.state !== presence) {
      await this.save(elapsed.state, now);
      flip = elapsed.flip;
    } else if (presence.isOnline && count === 0 && presence.offlineAt === null) {
      // A close event that never arrived: the sockets are gone but we still say online.
      flip = await this.connectionsChanged();
    }
    const refreshAt = await this.options.storage.get<number>(REFRESH_KEY);
    if ((await this.presence()).isOnline && refreshAt !== undefined && refreshAt <= now) {
      await this.queue(["redis"], now);
      await this.options.storage.put(REFRESH_KEY, now + this.options.refreshMs);
    }
    await this.flush();
    return flip;
  }

  /** The next time the alarm must fire for presence work, or null. */
  async nextWakeAt(): Promise<number | null> {
    const times: number[] = [];
    const presence = await this.presence();
    if (presence.offlineAt !== null) times.push(presence.offlineAt);
    const flushAt = nextFlushAt(await this.outbox());
    if (flushAt !== null) times.push(flushAt);
    const refreshAt = await this.options.storage.get<number>(REFRESH_KEY);
    if (presence.isOnline && refreshAt !== undefined) times.push(refreshAt);
    return times.length === 0 ? null : Math.min(...times);
  }

  async snapshot(): Promise<PresenceSnapshot> {
    const presence = await this.presence();
    const profile = await this.profile();
    const connectionIds = this.options.connectionIds();
    return {
      userId: profile?.userId ?? "",
      isOnline: presence.isOnline,
      connectionIds,
      connectionCount: connectionIds.length,
      lastSeen: presence.lastSeen,
      version: presence.version,
      ...(profile
        ? { username: profile.username, isStaff: profile.isStaff, isSuperuser: profile.isSuperuser }
        : {}),
    };
  }

  /**
   * Write every due mirror once, in parallel; then record the outcomes one after another, so
   * two lanes finishing together never overwrite each other's outbox change. Failures are
   * rescheduled with backoff and reported to the monitor once; a catch-up is reported once.
   */
  async flush(): Promise<void> {
    const due = dueTargets(await this.outbox(), this.now());
    if (due.length === 0) return;
    const snapshot = await this.snapshot();
    const outcomes = await Promise.all(
      due.map(async ({ target, generation }) => {
        try {
          await this.options.mirrors[target]?.(snapshot);
          return { target, generation, error: null };
        } catch (err) {
          return { target, generation, error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    for (const { target, generation, error } of outcomes) {
      const before = (await this.outbox())[target];
      if (error === null) {
        // A caught-up entry that stays (a newer change arrived meanwhile) starts unreported, so a
        // later failure is reported again.
        await this.update((outbox) => {
          const next = flushSucceeded(outbox, target, generation, this.now());
          const kept = next[target];
          return kept?.reported ? { ...next, [target]: { ...kept, reported: false } } : next;
        });
        if (before?.reported) {
          this.options.log?.(`presence mirror ${target} caught up for user ${snapshot.userId}`);
          await this.report(target, snapshot.userId, null);
        }
        continue;
      }
      const outbox = await this.update((o) => flushFailed(o, target, this.now()));
      const entry = outbox[target];
      this.options.log?.(
        `presence mirror ${target} write failed for user ${snapshot.userId} (attempt ${entry?.attempts ?? "?"}, retrying): ${error}`,
      );
      if (entry && !entry.reported) {
        await this.update((o) =>
          o[target] ? { ...o, [target]: { ...o[target], reported: true } } : o,
        );
        await this.report(target, snapshot.userId, entry.since);
      }
    }
  }

  private async report(target: MirrorTarget, userId: string, since: number | null): Promise<void> {
    try {
      await this.options.reportLag?.(target, userId, since);
    } catch (err) {
      this.options.log?.(
        `presence lag report failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  /**
   * Write these mirrors again from the current state, e.g. after an outage in which the store
   * may have lost what it had (a Redis restarted empty), even though nothing changed here.
   */
  async rewrite(targets: MirrorTarget[]): Promise<void> {
    await this.queue(targets, this.now());
  }

  private async queue(targets: MirrorTarget[], now: number): Promise<void> {
    const configured = targets.filter((t) => this.options.mirrors[t] !== undefined);
    const coalesce = this.options.coalesceMs ?? {};
    const byDelay = new Map<number, MirrorTarget[]>();
    for (const target of configured) {
      const delay = coalesce[target] ?? 0;
      byDelay.set(delay, [...(byDelay.get(delay) ?? []), target]);
    }
    if (byDelay.size > 0) {
      await this.update((outbox) =>
        [...byDelay].reduce((next, [delay, group]) => markDirty(next, group, now, delay), outbox),
      );
    }
  }

  private async save(state: PresenceState, now: number): Promise<void> {
    await this.options.storage.put(PRESENCE_KEY, state);
    await this.queue(["redis", "postgres", "shard", "rooms"], now);
  }

  /** Read-modify-write of the outbox; always from storage, since a flush awaits in between. */
  private async update(
    change: (outbox: Outbox<MirrorTarget>) => Outbox<MirrorTarget>,
  ): Promise<Outbox<MirrorTarget>> {
    const next = change(await this.outbox());
    await this.options.storage.put(OUTBOX_KEY, next);
    return next;
  }
}
