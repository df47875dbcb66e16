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
  type OutboxEntry,
} from "./outbox.ts";
import {
  connectionsChanged,
  type Flip,
  graceElapsed,
  INITIAL_PRESENCE,
  type PresenceSnapshot,
  type PresenceState,
  socketsLost,
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
  /**
   * Told of each flip before the new state is stored (so a crash between them repeats an event
   * rather than losing one): the presence webhooks record their event here.
   */
  onFlip?: (flip: "online" | "offline", state: PresenceState, now: number) => Promise<void>;
  now?: () => number;
  log?: (message: string) => void;
}

const ALL_TARGETS: readonly MirrorTarget[] = ["redis", "postgres", "shard", "rooms"];
const PRESENCE_KEY = "presence";
const OUTBOX_KEY = "outbox";
const PROFILE_KEY = "profile";
const REFRESH_KEY = "refresh_at";

export class PresenceKeeper {
  private readonly options: PresenceKeeperOptions;
  private readonly now: () => number;
  /** Values newer than storage: in effect at once, reads see them first. */
  private readonly current = new Map<string, unknown>();
  /** Keys of `current` not written yet (see commit). */
  private readonly unsaved = new Set<string>();

  constructor(options: PresenceKeeperOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  async presence(): Promise<PresenceState> {
    return (await this.read<PresenceState>(PRESENCE_KEY)) ?? INITIAL_PRESENCE;
  }

  async profile(): Promise<UserProfile | undefined> {
    return this.read<UserProfile>(PROFILE_KEY);
  }

  async outbox(): Promise<Outbox<MirrorTarget>> {
    return (await this.read<Outbox<MirrorTarget>>(OUTBOX_KEY)) ?? {};
  }

  /** Stored with the connection change that follows it (see connectionsChanged). */
  async rememberProfile(profile: UserProfile): Promise<void> {
    const stored = await this.profile();
    if (
      stored?.userId !== profile.userId ||
      stored.username !== profile.username ||
      stored.isStaff !== profile.isStaff ||
      stored.isSuperuser !== profile.isSuperuser
    ) {
      this.stage(PROFILE_KEY, profile);
    }
  }

  /**
   * The connection set changed: apply the rules, queue the mirrors, and write the `immediate`
   * ones now. The new state is in effect at once (reads see it) but stored only after those
   * writes: a storage write made before a call to another actor is committed on its own
   * while the output gate holds the call, so this order costs one commit per change instead
   * of two. Versions never repeat (see nextVersion), so a state lost in a crash after the
   * call cannot make a mirror refuse the next one.
   */
  async connectionsChanged(immediate: readonly MirrorTarget[] = []): Promise<Flip> {
    const now = this.now();
    const count = this.options.connectionIds().length;
    const { state, flip } = connectionsChanged(
      await this.presence(),
      count,
      now,
      this.options.graceMs,
    );
    const outbox = this.queued(await this.outbox(), ALL_TARGETS, now);
    this.stage(PRESENCE_KEY, state);
    this.stage(OUTBOX_KEY, outbox);
    if (flip === "online") this.stage(REFRESH_KEY, now + this.options.refreshMs);
    if (flip !== null) await this.options.onFlip?.(flip, state, now);
    try {
      if (immediate.length > 0) await this.flush(immediate);
    } finally {
      await this.commit();
    }
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
      if (elapsed.flip !== null) await this.options.onFlip?.(elapsed.flip, elapsed.state, now);
      await this.save(elapsed.state, now);
      flip = elapsed.flip;
    } else if (presence.isOnline && count === 0 && presence.offlineAt === null) {
      // A close event that never arrived: the sockets are gone but we still say online.
      flip = await this.connectionsChanged();
    }
    const refreshAt = await this.read<number>(REFRESH_KEY);
    if ((await this.presence()).isOnline && refreshAt !== undefined && refreshAt <= now) {
      await this.queue(["redis"], now);
      await this.write(REFRESH_KEY, now + this.options.refreshMs);
    }
    await this.flush();
    return flip;
  }

  /**
   * Called when the actor starts: if the stored state says online but no socket or lease
   * survived (the process died, see socketsLost), flip offline now and queue every mirror.
   * Returns the flip, so the caller can schedule the alarm that writes the mirrors.
   */
  async recoverLostSockets(): Promise<Flip> {
    const now = this.now();
    const presence = await this.presence();
    const { state, flip } = socketsLost(presence, this.options.connectionIds().length, now);
    if (flip !== null) {
      await this.options.onFlip?.(flip, state, now);
      await this.save(state, now);
    }
    return flip;
  }

  /** The next time the alarm must fire for presence work, or null. */
  async nextWakeAt(): Promise<number | null> {
    const times: number[] = [];
    const presence = await this.presence();
    if (presence.offlineAt !== null) times.push(presence.offlineAt);
    const flushAt = nextFlushAt(await this.outbox());
    if (flushAt !== null) times.push(flushAt);
    const refreshAt = await this.read<number>(REFRESH_KEY);
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
   * Write every due mirror (or only the due ones among `only`) once, in parallel; then record
   * all outcomes in one outbox write, so lanes finishing together never overwrite each other's
   * change. Failures are rescheduled with backoff and reported to the monitor once; a catch-up
   * is reported once.
   */
  async flush(only?: readonly MirrorTarget[]): Promise<void> {
    const due = dueTargets(await this.outbox(), this.now()).filter(
      ({ target }) => only === undefined || only.includes(target),
    );
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
    const caughtUp: MirrorTarget[] = [];
    const failed: { target: MirrorTarget; error: string; entry: OutboxEntry | undefined }[] = [];
    const lagging: { target: MirrorTarget; since: number }[] = [];
    await this.update((outbox) => {
      let next = outbox;
      for (const { target, generation, error } of outcomes) {
        const before = next[target];
        if (error === null) {
          next = flushSucceeded(next, target, generation, this.now());
          // A caught-up entry that stays (a newer change arrived meanwhile) starts unreported,
          // so a later failure is reported again.
          const kept = next[target];
          if (kept?.reported) next = { ...next, [target]: { ...kept, reported: false } };
          if (before?.reported) caughtUp.push(target);
          continue;
        }
        next = flushFailed(next, target, this.now());
        const entry = next[target];
        failed.push({ target, error, entry });
        if (entry && !entry.reported) {
          next = { ...next, [target]: { ...entry, reported: true } };
          lagging.push({ target, since: entry.since });
        }
      }
      return next;
    });
    for (const target of caughtUp) {
      this.options.log?.(`presence mirror ${target} caught up for user ${snapshot.userId}`);
      await this.report(target, snapshot.userId, null);
    }
    for (const { target, error, entry } of failed) {
      this.options.log?.(
        `presence mirror ${target} write failed for user ${snapshot.userId} (attempt ${entry?.attempts ?? "?"}, retrying): ${error}`,
      );
    }
    for (const { target, since } of lagging) await this.report(target, snapshot.userId, since);
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

  private async queue(targets: readonly MirrorTarget[], now: number): Promise<void> {
    await this.update((outbox) => this.queued(outbox, targets, now));
  }

  /** The outbox with a change recorded for the configured ones of `targets`. */
  private queued(
    outbox: Outbox<MirrorTarget>,
    targets: readonly MirrorTarget[],
    now: number,
  ): Outbox<MirrorTarget> {
    const configured = targets.filter((t) => this.options.mirrors[t] !== undefined);
    const coalesce = this.options.coalesceMs ?? {};
    const byDelay = new Map<number, MirrorTarget[]>();
    for (const target of configured) {
      const delay = coalesce[target] ?? 0;
      byDelay.set(delay, [...(byDelay.get(delay) ?? []), target]);
    }
    return [...byDelay].reduce(
      (next, [delay, group]) => markDirty(next, group, now, delay),
      outbox,
    );
  }

  private async save(state: PresenceState, now: number): Promise<void> {
    await this.write(PRESENCE_KEY, state);
    await this.queue(ALL_TARGETS, now);
  }

  /** Read-modify-write of the outbox; always re-read, since a flush awaits in between. */
  private async update(
    change: (outbox: Outbox<MirrorTarget>) => Outbox<MirrorTarget>,
  ): Promise<Outbox<MirrorTarget>> {
    const next = change(await this.outbox());
    await this.write(OUTBOX_KEY, next);
    return next;
  }

  private async read<T>(key: string): Promise<T | undefined> {
    return this.current.has(key) ? (this.current.get(key) as T) : this.options.storage.get<T>(key);
  }

  private stage(key: string, value: unknown): void {
    this.current.set(key, value);
    this.unsaved.add(key);
  }

  /** Write a value now, with anything staged (every staged value is the latest). */
  private async write(key: string, value: unknown): Promise<void> {
    this.stage(key, value);
    await this.commit();
  }

  /**
   * Store every staged value that differs from storage in what must survive a restart; the
   * puts are made without a pause, so they commit together. A socket more or less for an
   * online user, with its mirrors written, changes only the version and the outbox's
   * generations: that stays in memory and costs no commit. Neither needs storage: versions
   * come from the clock (nextVersion), and a generation only matters while its entry exists.
   */
  private async commit(): Promise<void> {
    const keys = [...this.unsaved];
    this.unsaved.clear();
    const writes: Promise<void>[] = [];
    for (const key of keys) {
      const value = this.current.get(key);
      const stored = await this.options.storage.get(key);
      if (stored !== undefined && durablePart(key, stored) === durablePart(key, value)) continue;
      writes.push(this.options.storage.put(key, value));
    }
    await Promise.all(writes);
  }
}

/** What of a stored value must survive a restart, as comparable text. */
function durablePart(key: string, value: unknown): string {
  if (key === PRESENCE_KEY) {
    const { version: _version, ...rest } = value as PresenceState;
    return stableJson(rest);
  }
  if (key === OUTBOX_KEY) {
    const entries = Object.entries(value as Outbox<MirrorTarget>).map(([target, entry]) => {
      const { generation: _generation, ...rest } = entry as OutboxEntry;
      return [target, rest] as const;
    });
    return stableJson(Object.fromEntries(entries));
  }
  return stableJson(value);
}

/** JSON with object keys sorted, so equal values give equal text. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
