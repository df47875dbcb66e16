/**
 * A user's connection set and presence: the local sockets, the room sockets leased by
 * RoomHubs, the presence rules and mirrors (through PresenceKeeper), and announcing flips to
 * co-members of the user's groups.
 */
import { announceToRooms } from "../core/announce.ts";
import { CachedStore } from "../core/cached-store.ts";
import type { Config } from "../core/config.ts";
import type { Connection } from "../core/connection.ts";
import type { Deadlines } from "../core/deadlines.ts";
import { type Lease, Leases } from "../core/leases.ts";
import type { MirrorTarget } from "../core/mirror-flusher.ts";
import type { PresenceSnapshot } from "../core/presence.ts";
import { PresenceKeeper } from "../core/presence-keeper.ts";
import { shardName, shardOf } from "../core/sharding.ts";
import { UserProfileStore } from "../core/user-profile.ts";
import type { WebhookOutbox } from "../core/webhook-outbox.ts";
import { createMirrors } from "../mirrors/index.ts";
import type { PostgresMirror } from "../mirrors/types.ts";
import { createWebhookOutbox } from "../mirrors/webhook.ts";
import { encodeFrame } from "../protocol/codec.ts";
import type { StatusChanged, UserStatus } from "../protocol/messages.ts";
import { SocketSet } from "./socket-set.ts";

/**
 * How long the mirrors wait after a first change for more: 50 ms. A page opening several
 * sockets, or a reload, then costs one write to each mirror instead of one per socket.
 */
const MIRROR_COALESCE_MS = 50;
/**
 * Mirrors told inside the event that changed the connection set, not from the alarm: the
 * user's PresenceShard (a broadcast right after connecting must reach the user) and the
 * co-members of its groups.
 */
const IMMEDIATE_TARGETS: readonly MirrorTarget[] = ["shard", "rooms"];
/** While online, how often the Redis TTL is refreshed and the set reconciled: 4 minutes. */
const PRESENCE_REFRESH_MS = 4 * 60_000;

export interface UserSnapshot extends UserStatus {
  connection_count: number;
}

export class UserConnections {
  readonly presence: PresenceKeeper;
  readonly leases: Leases;
  /** The actor's storage with its values kept in memory (see CachedStore). */
  readonly store: CachedStore;
  /** Who the user is, as the last socket's token said. */
  readonly profile: UserProfileStore;
  /** Pending presence webhook events (null when WEBHOOK_URL is not set). */
  readonly webhooks: WebhookOutbox | null;
  private readonly env: Env;
  private readonly sockets: SocketSet;

  constructor(
    ctx: DurableObjectState,
    env: Env,
    config: Config,
    sockets: SocketSet,
    postgres: PostgresMirror | null,
  ) {
    this.store = new CachedStore(ctx.storage);
    this.env = env;
    this.sockets = sockets;
    this.leases = new Leases(ctx.storage.sql);
    const webhooks = createWebhookOutbox(config.webhook, this.store, () =>
      env.MIRROR_MONITOR.getByName("global"),
    );
    this.webhooks = webhooks;
    this.profile = new UserProfileStore(this.store);
    this.presence = new PresenceKeeper({
      storage: this.store,
      profile: this.profile,
      mirrors: {
        ...createMirrors(config, postgres),
        shard: async (s) => {
          const shard = env.PRESENCE_SHARD.getByName(
            shardName(shardOf(s.userId, config.presenceShards)),
          );
          await shard.update(s.userId, s.isOnline, s.connectionCount, s.version);
        },
        rooms: (s) => this.announceFlip(s),
      },
      reportLag: async (target, userId, since) => {
        // Only the external stores are health-relevant; shard and room fan-outs retry quietly.
        if (target === "redis" || target === "postgres") {
          await env.MIRROR_MONITOR.getByName("global").report(target, userId, since);
        }
      },
      connectionIds: () => this.ids(),
      graceMs: config.presenceGraceMs,
      refreshMs: PRESENCE_REFRESH_MS,
      // Only the external stores wait: the shard must list a new user at once, so that a
      // broadcast right after they connect reaches them.
      coalesceMs: { redis: MIRROR_COALESCE_MS, postgres: MIRROR_COALESCE_MS },
      log: (message) => console.warn(`UserHub:presence: ${message}`),
      onFlip: async (flip, state, now) => {
        const userId = (await this.profile.get())?.userId ?? "";
        await webhooks?.record(flip, userId, state.version, now);
      },
    });
  }

  /** This user's status, as other actors and the HTTP API see it. */
  async status(): Promise<UserSnapshot> {
    const snapshot = await this.presence.snapshot();
    return {
      user_id: snapshot.userId,
      is_online: snapshot.isOnline,
      connection_count: snapshot.connectionCount,
      last_seen: snapshot.lastSeen,
    };
  }

  /** Local sockets and leased room sockets: the user's whole connection set. */
  ids(): string[] {
    const local = this.sockets.entries().map((e) => e.connection.connectionId);
    return [...local, ...this.leases.all().map((lease) => lease.connectionId)];
  }

  count(): number {
    return this.ids().length;
  }

  /** Groups the user is in right now: joined by sockets, and the rooms of leased sockets. */
  groups(): string[] {
    const groups = new Set<string>();
    for (const { connection } of this.sockets.entries())
      for (const g of connection.groups) groups.add(g);
    for (const lease of this.leases.all()) groups.add(lease.room);
    return [...groups];
  }

  async endLease(connectionId: string): Promise<void> {
    const room = this.leases.remove(connectionId);
    if (room !== null) await this.changed({ leftGroups: [room] });
  }

  /** Drop leases their RoomHub stopped renewing. */
  private async expireLeases(now: number): Promise<void> {
    const expired = this.leases.expire(now);
    if (expired.length === 0) return;
    console.warn(`UserHub:leases: ${expired.length} consultation lease(s) expired unrenewed`);
    await this.changed({ leftGroups: expired.map((lease) => lease.room) });
  }

  /**
   * The connection set changed: tell the user's other sockets the new count and apply the
   * presence rules. When the last connection left, remember its groups: they hear the offline
   * flip after the grace period.
   *
   * With `now`, the shard and co-members are told inside this event rather than from the
   * alarm: a socket's open or close then costs one actor event and one storage commit, and a
   * connecting client's first frame implies the shard lists it. A failed write stays in the
   * outbox for the alarm to retry. (Lease changes come in calls from a RoomHub, which must not
   * be called back meanwhile: they leave it to the alarm.)
   */
  async changed(change: {
    opened?: WebSocket;
    leftGroups?: string[];
    now?: boolean;
  }): Promise<void> {
    const count = this.count();
    const profile = await this.profile.get();
    const presence = await this.presence.presence();
    const frame = encodeFrame("status_changed", {
      user_id: profile?.userId ?? "",
      is_online: count > 0 || presence.isOnline,
      connection_count: count,
      last_seen: presence.lastSeen,
    });
    for (const ws of this.sockets.open(change.opened)) SocketSet.send(ws, frame);
    if (count === 0 && change.leftGroups !== undefined) {
      await this.store.put("offline_groups", change.leftGroups);
    }
    await this.presence.connectionsChanged(change.now ? IMMEDIATE_TARGETS : []);
  }

  /** Lease expiries, presence (grace, refresh, mirror flushes) and webhooks, on the one alarm. */
  register(deadlines: Deadlines): void {
    deadlines.register("lease expiries", {
      nextAt: () => this.leases.nextExpiry(),
      run: (now) => this.expireLeases(now),
    });
    deadlines.register("presence", {
      nextAt: () => this.presence.nextWakeAt(),
      run: async () => {
        await this.presence.onAlarm();
      },
    });
    const webhooks = this.webhooks;
    if (webhooks !== null) {
      deadlines.register("presence webhooks", {
        nextAt: () => webhooks.nextWakeAt(),
        run: () => webhooks.flush(),
      });
    }
  }

  /** A RoomHub lends one of its room sockets to this user's presence, within the cap. */
  async attach(userId: string, lease: Lease, max: number): Promise<boolean> {
    if (this.count() >= max) return false;
    if ((await this.profile.get()) === undefined) {
      await this.profile.remember({
        userId,
        username: userId,
        isStaff: false,
        isSuperuser: false,
      });
    }
    this.leases.add(lease);
    await this.changed({});
    return true;
  }

  /** A user socket ended: it leaves its rooms, and the user's connection set changed. */
  async gone(connection: Connection): Promise<void> {
    await Promise.all(
      connection.groups.map((group) =>
        this.env.ROOM_HUB.getByName(`room:${group}`)
          .leave(group, connection.userId, connection.connectionId)
          .catch((err: unknown) => {
            // The room drops the ghost membership at its next send or reconciliation.
            console.warn(`UserHub:socketGone: leaving ${group} failed: ${String(err)}`);
          }),
      ),
    );
    await this.changed({ leftGroups: connection.groups, now: true });
  }

  /** The "rooms" mirror: on a flip, tell each room once (retried by the outbox until done). */
  private async announceFlip(snapshot: PresenceSnapshot): Promise<void> {
    const announced = (await this.store.get<boolean>("announced_online")) ?? false;
    if (announced === snapshot.isOnline) return;
    const groups = snapshot.isOnline
      ? this.groups()
      : ((await this.store.get<string[]>("offline_groups")) ?? []);
    const status: StatusChanged = {
      user_id: snapshot.userId,
      is_online: snapshot.isOnline,
      connection_count: snapshot.connectionCount,
      last_seen: snapshot.lastSeen,
    };
    await announceToRooms(groups, status, (group, s) =>
      this.env.ROOM_HUB.getByName(`room:${group}`).announce(group, s),
    );
    await this.store.put("announced_online", snapshot.isOnline);
  }
}
