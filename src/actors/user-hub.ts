/**
 * UserHub: one Durable Object per user, holding every socket of that user with the
 * Hibernation API. It moves frames between sockets, storage and the core; protocol rules
 * live in src/core and src/protocol.
 *
 * Everything in memory here is a cache that can vanish at any moment (hibernation, eviction):
 * the sockets (`ctx.getWebSockets()`), their attachments and storage are the truth.
 */
import { DurableObject } from "cloudflare:workers";
import { CLOCK_TOLERANCE_SECONDS, verifyToken } from "../core/auth.ts";
import { broadcastToShards } from "../core/broadcast.ts";
import { type Config, loadConfig } from "../core/config.ts";
import { newConnection } from "../core/connection.ts";
import { type Delivery, type DeliveryResult, deliver } from "../core/delivery.ts";
import {
  type CommandContext,
  DEFAULT_HANDLERS,
  dispatch,
  type HubPort,
} from "../core/handlers/index.ts";
import { decodeIdentity, IDENTITY_HEADER } from "../core/identity.ts";
import { Mailbox } from "../core/mailbox.ts";
import { NotificationOutbox, type NotificationWriter } from "../core/notification-outbox.ts";
import { PresenceKeeper } from "../core/presence-keeper.ts";
import { TokenBucket } from "../core/ratelimit.ts";
import { shardName, shardOf } from "../core/sharding.ts";
import { createMirrors, createNotificationWriter, createUserDirectory } from "../mirrors/index.ts";
import { decodeFrame, encodeError, encodeFrame } from "../protocol/codec.ts";
import { CloseCode, GatewayError, toGatewayError } from "../protocol/errors.ts";
import type { NotificationMessage, UserStatus } from "../protocol/messages.ts";
import { SocketSet } from "./socket-set.ts";

/** The exact ping frame the runtime answers without waking the actor (PROTOCOL.md). */
export const AUTO_PING = '{"type":"ping"}';
export const AUTO_PONG = '{"type":"pong"}';

/** While online, how often the Redis TTL is refreshed and the set reconciled: 4 minutes. */
const PRESENCE_REFRESH_MS = 4 * 60_000;
/** How long "this user does not exist" is believed before asking the user table again. */
const UNKNOWN_USER_TTL_MS = 30_000;

export interface UserSnapshot extends UserStatus {
  connection_count: number;
}

export class UserHub extends DurableObject<Env> {
  private readonly config: Config;
  private readonly sockets: SocketSet;
  private readonly presence: PresenceKeeper;
  private readonly mailbox: Mailbox;
  private readonly userExists: ((userId: string) => Promise<boolean>) | null;
  private readonly notifications: NotificationOutbox;
  private readonly writeNotifications: NotificationWriter | null;
  /** Per-connection rate buckets; lost on hibernation, which only forgives a client. */
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = loadConfig(env);
    this.sockets = new SocketSet(ctx, "UserHub");
    this.mailbox = new Mailbox(ctx.storage.sql, this.config.mailbox);
    this.userExists = createUserDirectory(this.config);
    this.notifications = new NotificationOutbox(ctx.storage.sql);
    this.writeNotifications = createNotificationWriter(this.config);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(AUTO_PING, AUTO_PONG));
    this.presence = new PresenceKeeper({
      storage: ctx.storage,
      mirrors: {
        ...createMirrors(this.config),
        shard: async (s) => {
          const shard = env.PRESENCE_SHARD.getByName(
            shardName(shardOf(s.userId, this.config.presenceShards)),
          );
          await shard.update(s.userId, s.isOnline, s.connectionCount, s.version);
        },
      },
      reportLag: async (target, userId, since) => {
        if (target !== "shard")
          await env.MIRROR_MONITOR.getByName("global").report(target, userId, since);
      },
      connectionIds: () => this.sockets.entries().map((e) => e.connection.connectionId),
      graceMs: this.config.presenceGraceMs,
      refreshMs: PRESENCE_REFRESH_MS,
      log: (message) => console.warn(`UserHub:presence: ${message}`),
    });
  }

  // --- platform hooks -------------------------------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    const identity = decodeIdentity(request.headers.get(IDENTITY_HEADER));
    if (identity === null) {
      // Only the Worker reaches this; a missing identity is a wiring bug, not a client error.
      return new Response("identity missing", { status: 500 });
    }
    const { principal, source } = identity;
    const headers = source === "subprotocol" ? { "Sec-WebSocket-Protocol": "bearer" } : undefined;
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];

    if (this.sockets.open().length >= this.config.maxConnectionsPerUser) {
      // Not hibernatable: this socket only lives long enough to be told why it is refused.
      server.accept();
      server.send(
        encodeError(new GatewayError("too_many_connections", "too many connections for this user")),
      );
      server.close(CloseCode.tooManyConnections, "too many connections");
      return new Response(null, { status: 101, webSocket: client, headers });
    }

    const { userId, username, isStaff, isSuperuser } = principal;
    await this.presence.rememberProfile({ userId, username, isStaff, isSuperuser });
    const connection = newConnection({
      connectionId: crypto.randomUUID(),
      userId,
      username,
      isStaff,
      isSuperuser,
      grants: principal.groups,
      expiresAt: principal.expiresAt,
      connectedAt: Date.now(),
    });
    this.sockets.accept(server, connection);
    SocketSet.send(
      server,
      encodeFrame("connection_established", {
        connection_id: connection.connectionId,
        user_id: userId,
        username,
        is_online: true,
        connection_count: this.sockets.open().length,
        last_seq: this.mailbox.lastSeq(),
        heartbeat_interval_ms: this.config.heartbeatIntervalMs,
      }),
    );
    await this.connectionsChanged(server);
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const connection = this.sockets.connectionOf(ws);
    if (connection === null) return;
    const now = Date.now();
    const taken = this.bucketOf(connection.connectionId, now).take(now);
    if (!taken.ok) {
      const error = new GatewayError("rate_limited", "too many frames", {
        retryAfterMs: taken.retryAfterMs,
      });
      SocketSet.send(ws, encodeError(error));
      if (taken.abusive) SocketSet.close(ws, CloseCode.policyViolation, "rate limit abuse");
      return;
    }
    const decoded = decodeFrame(message, this.config.maxFrameBytes);
    if (!decoded.ok) {
      SocketSet.send(ws, encodeError(decoded.error, decoded.id));
      return;
    }
    const { command } = decoded;
    const ctx: CommandContext = {
      connection,
      config: this.config,
      hub: this.port,
      now: Date.now,
      requestId: command.id,
      send: (frame) => SocketSet.send(ws, frame),
      reply: (type, data) => SocketSet.send(ws, encodeFrame(type, data, { id: command.id })),
    };
    try {
      await dispatch(DEFAULT_HANDLERS, ctx, command);
    } catch (err) {
      const error = toGatewayError(err);
      if (error.code === "internal") console.error(`UserHub:webSocketMessage:${command.type}`, err);
      SocketSet.send(ws, encodeError(error, command.id));
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    SocketSet.reciprocate(ws, code, reason);
    await this.socketGone(ws);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    console.warn("UserHub:webSocketError", error instanceof Error ? error.message : String(error));
    SocketSet.close(ws, CloseCode.internalError, "socket error");
    await this.socketGone(ws);
  }

  override async alarm(): Promise<void> {
    const nowSeconds = Date.now() / 1000;
    for (const { ws, connection } of this.sockets.entries()) {
      if (connection.expiresAt + CLOCK_TOLERANCE_SECONDS <= nowSeconds) {
        SocketSet.send(ws, encodeError(new GatewayError("token_expired", "token expired")));
        SocketSet.close(ws, CloseCode.tokenInvalid, "token expired");
        await this.socketGone(ws);
      }
    }
    await this.presence.onAlarm();
    await this.flushNotifications();
    await this.reschedule();
  }

  // --- RPC ------------------------------------------------------------------------------------

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

  /** Whether this user exists: has a socket, connected before, or is in the application's table. */
  async exists(userId: string): Promise<boolean> {
    return this.sockets.open().length > 0 || (await this.isKnownUser(userId));
  }

  /** Store and push a message to this user (direct, notification, broadcast, group). */
  async deliver(userId: string, delivery: Delivery): Promise<DeliveryResult> {
    return deliver(
      {
        mailbox: this.mailbox,
        sockets: () =>
          this.sockets.entries().map(({ ws, connection }) => ({
            groups: connection.groups,
            send: (frame: string) => SocketSet.send(ws, frame),
          })),
        isKnownUser: () => this.isKnownUser(userId),
        now: Date.now,
      },
      delivery,
    );
  }

  /**
   * A notification: stored and pushed like any mailbox message, and recorded in Postgres
   * (through the notification outbox) so the application keeps a durable inbox.
   */
  async notify(userId: string, notification: NotificationMessage): Promise<DeliveryResult> {
    const result = await this.deliver(userId, {
      type: "notification",
      messageId: notification.notification_id,
      data: notification,
    });
    if ((result.status === "delivered" || result.status === "stored") && this.writeNotifications) {
      this.notifications.add(
        {
          id: notification.notification_id,
          userId,
          title: notification.title,
          message: notification.message,
          data: notification.data,
          createdAt: notification.created_at,
          deliveredAt: result.sockets > 0 ? new Date().toISOString() : null,
        },
        Date.now(),
      );
      await this.reschedule();
    }
    return result;
  }

  // --- internals ------------------------------------------------------------------------------

  private async flushNotifications(): Promise<void> {
    if (!this.writeNotifications) return;
    const lagKey = `${(await this.presence.profile())?.userId ?? this.ctx.id.toString()}#notifications`;
    const monitor = this.env.MIRROR_MONITOR.getByName("global");
    const wasBehind = (await this.ctx.storage.get<number>("notifications_behind")) ?? null;
    const error = await this.notifications.flush(this.writeNotifications, Date.now());
    if (error !== null) {
      console.warn(`UserHub:notifications: postgres write failed, retrying: ${error}`);
      if (wasBehind === null) {
        const since = Date.now();
        await this.ctx.storage.put("notifications_behind", since);
        await monitor.report("postgres", lagKey, since).catch(() => undefined);
      }
    } else if (wasBehind !== null && this.notifications.size() === 0) {
      await this.ctx.storage.delete("notifications_behind");
      await monitor.report("postgres", lagKey, null).catch(() => undefined);
    }
  }

  private readonly port: HubPort = {
    connectionCount: () => this.sockets.open().length,
    userStatuses: (userIds) => this.userStatuses(userIds),
    verifyToken: (token) => verifyToken(token, this.config),
    saveConnection: (connection) => this.sockets.save(connection),
    reschedule: () => this.reschedule(),
    deliverTo: (userId, delivery) => this.env.USER_HUB.getByName(userId).deliver(userId, delivery),
    broadcast: (delivery) =>
      broadcastToShards(
        this.config.presenceShards,
        (index) => this.env.PRESENCE_SHARD.getByName(shardName(index)).broadcast(delivery),
        { log: (message) => console.warn(`UserHub:${message}`) },
      ),
    replay: (sinceSeq) => this.mailbox.replay(sinceSeq, Date.now()),
  };

  private async userStatuses(userIds: string[]): Promise<UserStatus[]> {
    return Promise.all(
      userIds.map(async (userId) => {
        const snapshot = await this.env.USER_HUB.getByName(userId).status();
        return { user_id: userId, is_online: snapshot.is_online, last_seen: snapshot.last_seen };
      }),
    );
  }

  /** A user who ever connected here exists; otherwise ask the application's user table. */
  private async isKnownUser(userId: string): Promise<boolean> {
    if ((await this.presence.profile()) !== undefined) return true;
    const now = Date.now();
    const cached = await this.ctx.storage.get<{ known: boolean; at: number }>("known_user");
    if (cached?.known) return true;
    if (cached && now - cached.at < UNKNOWN_USER_TTL_MS) return false;
    if (this.userExists === null) return false;
    let known: boolean;
    try {
      known = await this.userExists(userId);
    } catch (err) {
      console.warn(`UserHub:isKnownUser: user table unavailable: ${String(err)}`);
      throw new GatewayError("unavailable", "cannot tell whether the user exists right now");
    }
    await this.ctx.storage.put("known_user", { known, at: now });
    return known;
  }

  private bucketOf(connectionId: string, now: number): TokenBucket {
    let bucket = this.buckets.get(connectionId);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.config.rateLimit, now);
      this.buckets.set(connectionId, bucket);
    }
    return bucket;
  }

  private async socketGone(ws: WebSocket): Promise<void> {
    const connection = this.sockets.connectionOf(ws);
    if (connection) this.buckets.delete(connection.connectionId);
    await this.connectionsChanged(ws);
  }

  /** The socket `changed` opened or closed: tell the other tabs, apply presence, re-arm. */
  private async connectionsChanged(changed: WebSocket): Promise<void> {
    const others = this.sockets.open(changed);
    const count = changed.readyState === WebSocket.OPEN ? others.length + 1 : others.length;
    const profile = await this.presence.profile();
    const presence = await this.presence.presence();
    const frame = encodeFrame("status_changed", {
      user_id: profile?.userId ?? "",
      is_online: count > 0 || presence.isOnline,
      connection_count: count,
      last_seen: presence.lastSeen,
    });
    for (const ws of others) SocketSet.send(ws, frame);
    await this.presence.connectionsChanged();
    await this.reschedule();
  }

  /** One alarm serves every deadline: token expiries, the presence grace, mirror flushes. */
  private async reschedule(): Promise<void> {
    let next = Math.min(
      (await this.presence.nextWakeAt()) ?? Number.POSITIVE_INFINITY,
      (this.writeNotifications && this.notifications.nextFlushAt()) || Number.POSITIVE_INFINITY,
    );
    for (const { connection } of this.sockets.entries()) {
      next = Math.min(next, (connection.expiresAt + CLOCK_TOLERANCE_SECONDS) * 1000);
    }
    if (next === Number.POSITIVE_INFINITY) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    if ((await this.ctx.storage.getAlarm()) !== next) await this.ctx.storage.setAlarm(next);
  }
}
