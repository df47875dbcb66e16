/**
 * Keeps one user's presence: applies the presence rules when the connection set changes and
 * records in the outbox what the mirrors still need; the MirrorFlusher writes them when the
 * actor's alarm fires (or at once for the immediate ones), retrying with backoff until each
 * mirror has the latest state.
 *
 * Runtime-agnostic: storage, mirrors, the health monitor and the clock are injected, so the
 * UserHub only wires it (and unit tests drive it with in-memory twins).
 */
import { type CachedStore, stableJson } from "./cached-store.ts";
import { MirrorFlusher, type Mirrors, type MirrorTarget } from "./mirror-flusher.ts";
import { markDirty, nextFlushAt, type Outbox, type OutboxEntry } from "./outbox.ts";
import {
  connectionsChanged,
  type Flip,
  graceElapsed,
  INITIAL_PRESENCE,
  type PresenceSnapshot,
  type PresenceState,
  socketsLost,
} from "./presence.ts";
import type { UserProfileStore } from "./user-profile.ts";

export interface PresenceKeeperOptions {
  /** The actor's storage; the keeper stages its changes there and commits them. */
  storage: CachedStore;
  /** Who the user is, for the snapshots the mirrors are written from. */
  profile: UserProfileStore;
  /** The configured mirrors; a missing one is off. */
  mirrors: Mirrors;
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
const REFRESH_KEY = "refresh_at";

export class PresenceKeeper {
  private readonly options: PresenceKeeperOptions;
  private readonly now: () => number;
  private readonly flusher: MirrorFlusher;

  constructor(options: PresenceKeeperOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.flusher = new MirrorFlusher({
      outbox: { read: () => this.outbox(), update: (change) => this.update(change) },
      mirrors: options.mirrors,
      now: this.now,
      ...(options.reportLag === undefined ? {} : { reportLag: options.reportLag }),
      ...(options.log === undefined ? {} : { log: options.log }),
    });
  }

  async presence(): Promise<PresenceState> {
    return (await this.read<PresenceState>(PRESENCE_KEY)) ?? INITIAL_PRESENCE;
  }

  async outbox(): Promise<Outbox<MirrorTarget>> {
    return (await this.read<Outbox<MirrorTarget>>(OUTBOX_KEY)) ?? {};
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
    const profile = await this.options.profile.get();
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

  /** Write every due mirror (or only the due ones among `only`) once; see MirrorFlusher. */
  async flush(only?: readonly MirrorTarget[]): Promise<void> {
    await this.flusher.flush(() => this.snapshot(), only);
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
  ): Promise<void> {
    await this.write(OUTBOX_KEY, change(await this.outbox()));
  }

  private async read<T>(key: string): Promise<T | undefined> {
    return this.options.storage.get<T>(key);
  }

  /** In effect at once; stored by the next commit if what must survive a restart changed. */
  private stage(key: string, value: unknown): void {
    this.options.storage.stage(key, value, (stored) => durablePart(key, stored));
  }

  /** Write a value now, with anything staged (every staged value is the latest). */
  private async write(key: string, value: unknown): Promise<void> {
    this.stage(key, value);
    await this.commit();
  }

  /**
   * A socket more or less for an online user, with its mirrors written, changes only the
   * version and the outbox's generations: that stays in memory and costs no commit. Neither
   * needs storage: versions come from the clock (nextVersion), and a generation only matters
   * while its entry exists.
   */
  private commit(): Promise<void> {
    return this.options.storage.commit();
  }
}

/** What of a stored presence value must survive a restart, as comparable text. */
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
