/**
 * UserHub: one Durable Object per user, holding every socket of that user with the
 * Hibernation API. It moves frames between sockets, storage and the core; protocol rules
 * live in src/core and src/protocol.
 *
 * Everything in memory here is a cache that can vanish at any moment (hibernation, eviction):
 * the sockets (`ctx.getWebSockets()`), their attachments and storage are the truth.
 */
import { DurableObject } from "cloudflare:workers";
import { StatusMemory } from "../core/announce.ts";
import { CLOCK_TOLERANCE_SECONDS } from "../core/auth.ts";
import { type Config, loadConfig } from "../core/config.ts";
import { newConnection } from "../core/connection.ts";
import { type Delivery, type DeliveryResult, deliver, newDelivery } from "../core/delivery.ts";
import { DEFAULT_HANDLERS, type HubPort } from "../core/handlers/index.ts";
import { decodeIdentity, IDENTITY_HEADER } from "../core/identity.ts";
import { KnownUser } from "../core/known-user.ts";
import type { Lease } from "../core/leases.ts";
import { Mailbox } from "../core/mailbox.ts";
import { NewTargets } from "../core/new-targets.ts";
import { admitQueued } from "../core/overload.ts";
import { UserBudget } from "../core/user-budget.ts";
import { encodeError, encodeFrame } from "../protocol/codec.ts";
import { Disconnects, forRpc, GatewayError } from "../protocol/errors.ts";
import type { NotificationMessage, StatusChanged, UserStatus } from "../protocol/messages.ts";
import { InboundFrames } from "./inbound-frames.ts";
import { queuedPostgres } from "./postgres-queue.ts";
import { SocketSet } from "./socket-set.ts";
import { UserConnections } from "./user-connections.ts";
import { UserNotifications } from "./user-notifications.ts";
import { createUserPort } from "./user-port.ts";

/** The exact ping frame the runtime answers without waking the actor (PROTOCOL.md). */
export const AUTO_PING = '{"type":"ping"}';
export const AUTO_PONG = '{"type":"pong"}';

export interface UserSnapshot extends UserStatus {
  connection_count: number;
}

export class UserHub extends DurableObject<Env> {
  private readonly config: Config;
  private readonly sockets: SocketSet;
  private readonly connections: UserConnections;
  private readonly mailbox: Mailbox;
  private readonly notifications: UserNotifications;
  private readonly knownUser: KnownUser;
  private readonly frames: InboundFrames;
  /** The alarm time as last set or read; undefined until read (see reschedule). */
  private alarmAt: number | null | undefined;
  /** Sockets whose end was already handled (see socketGone). */
  private readonly ended = new WeakSet<WebSocket>();
  private readonly port: HubPort;
  /** Co-members' flips each socket was told (a flip may come from several shared rooms). */
  private readonly told = new StatusMemory();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = loadConfig(env);
    this.sockets = new SocketSet(ctx, "UserHub");
    // One budget for every socket of this user (PROTOCOL.md, "Budgets"); in memory, so an
    // evicted hub forgives its user, which only happens once the user went quiet.
    this.frames = new InboundFrames(this.config, DEFAULT_HANDLERS, "UserHub", {
      user: new UserBudget(this.config.userBudget, Date.now()),
      targets: new NewTargets(this.config.newTargetsPerMinute),
    });
    const postgres = queuedPostgres(env, this.config);
    this.connections = new UserConnections(ctx, env, this.config, this.sockets, postgres);
    this.mailbox = new Mailbox(ctx.storage.sql, this.config.mailbox);
    this.notifications = new UserNotifications(
      ctx,
      this.connections.store,
      env,
      postgres && ((records) => postgres.recordNotifications(records)),
    );
    this.knownUser = new KnownUser({
      store: this.connections.store,
      connectedBefore: async () => (await this.connections.presence.profile()) !== undefined,
      lookup: postgres && ((userId) => postgres.userExists(userId)),
      log: (message) => console.warn(`UserHub:knownUser: ${message}`),
    });
    this.port = createUserPort({
      env,
      config: this.config,
      sockets: this.sockets,
      connections: this.connections,
      mailbox: this.mailbox,
      reschedule: () => this.reschedule(),
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(AUTO_PING, AUTO_PONG));
    // After a crash the stored state may say online with every socket gone: correct it before
    // the first request reads it (status, deliver), and let the alarm write the mirrors.
    void ctx.blockConcurrencyWhile(async () => {
      if ((await this.connections.presence.recoverLostSockets()) !== null) await this.reschedule();
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

    if (this.connections.count() >= this.config.maxConnectionsPerUser) {
      // Not hibernatable: this socket only lives long enough to be told why it is refused.
      server.accept();
      server.send(
        encodeError(new GatewayError("too_many_connections", "too many connections for this user")),
      );
      SocketSet.close(server, Disconnects.tooManyConnections);
      return new Response(null, { status: 101, webSocket: client, headers });
    }

    const { userId, username, isStaff, isSuperuser } = principal;
    await this.connections.presence.rememberProfile({ userId, username, isStaff, isSuperuser });
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
        connection_count: this.connections.count(),
        last_seq: this.mailbox.lastSeq(),
        heartbeat_interval_ms: this.config.heartbeatIntervalMs,
      }),
    );
    await this.connections.changed({ opened: server, now: true });
    await this.reschedule();
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const connection = this.sockets.connectionOf(ws);
    if (connection === null) return;
    await this.frames.handle(ws, connection, message, this.port);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    SocketSet.reciprocate(ws, code, reason);
    await this.socketGone(ws);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    console.warn("UserHub:webSocketError", error instanceof Error ? error.message : String(error));
    SocketSet.close(ws, Disconnects.socketError);
    await this.socketGone(ws);
  }

  override async alarm(): Promise<void> {
    // The runtime cleared the alarm that fired.
    this.alarmAt = null;
    const now = Date.now();
    for (const { ws, connection } of this.sockets.entries()) {
      if (connection.expiresAt + CLOCK_TOLERANCE_SECONDS <= now / 1000) {
        SocketSet.send(ws, encodeError(new GatewayError("token_expired", "token expired")));
        SocketSet.close(ws, Disconnects.tokenExpired);
        await this.socketGone(ws);
      }
    }
    await this.connections.expireLeases(now);
    await this.connections.presence.onAlarm();
    await this.connections.webhooks?.flush();
    const profile = await this.connections.presence.profile();
    await this.notifications.flush(profile?.userId ?? this.ctx.id.toString());
    await this.reschedule();
  }

  // --- RPC ------------------------------------------------------------------------------------

  /** This user's status, as other actors and the HTTP API see it. */
  async status(): Promise<UserSnapshot> {
    const snapshot = await this.connections.presence.snapshot();
    return {
      user_id: snapshot.userId,
      is_online: snapshot.isOnline,
      connection_count: snapshot.connectionCount,
      last_seen: snapshot.lastSeen,
    };
  }

  /** Whether this user exists: has a socket, connected before, or is in the application's table. */
  async exists(userId: string): Promise<boolean> {
    try {
      return this.connections.count() > 0 || (await this.knownUser.check(userId));
    } catch (err) {
      throw forRpc(err);
    }
  }

  /**
   * Store and push a message to this user (direct, notification, broadcast, group). A sender
   * waiting for the answer passes `offeredAt` (its clock, ms): one that waited in this actor's
   * queue longer than DELIVERY_MAX_WAIT_MS is refused with `unavailable`, unstored.
   */
  async deliver(userId: string, delivery: Delivery, offeredAt?: number): Promise<DeliveryResult> {
    try {
      admitQueued(offeredAt, Date.now(), this.config.overload);
      return await deliver(
        {
          mailbox: this.mailbox,
          sockets: () =>
            this.sockets.entries().map(({ ws, connection }) => ({
              groups: connection.groups,
              send: (frame: string) => SocketSet.send(ws, frame),
            })),
          isKnownUser: () => this.knownUser.check(userId),
          now: Date.now,
        },
        delivery,
      );
    } catch (err) {
      throw forRpc(err);
    }
  }

  /**
   * A notification: stored and pushed like any mailbox message, and recorded in Postgres
   * (through the notification outbox) so the application keeps a durable inbox.
   */
  async notify(
    userId: string,
    notification: NotificationMessage,
    offeredAt?: number,
  ): Promise<DeliveryResult> {
    const result = await this.deliver(
      userId,
      newDelivery("notification", notification, notification.notification_id),
      offeredAt,
    );
    if (this.notifications.record(userId, notification, result)) await this.reschedule();
    return result;
  }

  /** A RoomHub lends one of its consultation sockets to this user's presence. */
  async attachRemote(
    userId: string,
    lease: Lease,
  ): Promise<{ accepted: boolean; connectionCount: number }> {
    if (this.connections.count() >= this.config.maxConnectionsPerUser) {
      return { accepted: false, connectionCount: this.connections.count() };
    }
    const presence = this.connections.presence;
    if ((await presence.profile()) === undefined) {
      await presence.rememberProfile({
        userId,
        username: userId,
        isStaff: false,
        isSuperuser: false,
      });
    }
    await this.connections.lease(lease);
    await this.reschedule();
    return { accepted: true, connectionCount: this.connections.count() };
  }

  async renewLeases(
    _userId: string,
    room: string,
    connectionIds: string[],
    expiresAt: number,
  ): Promise<void> {
    this.connections.leases.renew(room, connectionIds, expiresAt);
    await this.reschedule();
  }

  async detachRemote(_userId: string, connectionId: string): Promise<void> {
    await this.connections.endLease(connectionId);
    await this.reschedule();
  }

  /** Write this user's presence to a mirror again (after that mirror's outage). */
  async rewriteMirror(target: "redis" | "postgres"): Promise<void> {
    await this.connections.presence.rewrite([target]);
    await this.reschedule();
  }

  /** Connection ids of this user's open sockets that joined `groupName` (room reconciliation). */
  joinedConnections(groupName: string): string[] {
    return this.sockets
      .entries()
      .filter((e) => e.connection.groups.includes(groupName))
      .map((e) => e.connection.connectionId);
  }

  /** Co-members flipped (one room's window): tell this user's sockets in that room, once each. */
  pushStatuses(groupName: string, statuses: StatusChanged[]): void {
    for (const { ws, connection } of this.sockets.entries()) {
      if (!connection.groups.includes(groupName)) continue;
      for (const status of statuses) {
        if (this.told.firstTime(status, connection.connectionId))
          SocketSet.send(ws, encodeFrame("status_changed", status));
      }
    }
  }

  /** A large room's online count changed: tell this user's sockets in it. */
  pushRoomPresence(groupName: string, onlineCount: number): void {
    const frame = encodeFrame("room_presence", {
      group_name: groupName,
      online_count: onlineCount,
    });
    for (const { ws, connection } of this.sockets.entries()) {
      if (connection.groups.includes(groupName)) SocketSet.send(ws, frame);
    }
  }

  // --- internals ------------------------------------------------------------------------------

  /** A socket closed: it leaves its groups, and the user's connection set changed. */
  private async socketGone(ws: WebSocket): Promise<void> {
    // webSocketError may be followed by webSocketClose, and our own close (token expiry) by the
    // peer's answer: handle each socket's end once.
    if (this.ended.has(ws)) return;
    this.ended.add(ws);
    const connection = this.sockets.connectionOf(ws);
    if (connection === null) return;
    this.frames.forget(connection.connectionId);
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
    await this.connections.changed({ leftGroups: connection.groups, now: true });
    await this.reschedule();
  }

  /** One alarm serves every deadline: token expiries, presence, leases, mirror flushes. */
  private async reschedule(): Promise<void> {
    let next = Math.min(
      (await this.connections.nextWakeAt()) ?? Number.POSITIVE_INFINITY,
      this.notifications.nextWakeAt() ?? Number.POSITIVE_INFINITY,
    );
    for (const { connection } of this.sockets.entries()) {
      next = Math.min(next, (connection.expiresAt + CLOCK_TOLERANCE_SECONDS) * 1000);
    }
    const wanted = next === Number.POSITIVE_INFINITY ? null : next;
    // The alarm time is only changed here (and cleared by the runtime when it fires), so it is
    // read from storage once per instance.
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (wanted === this.alarmAt) return;
    if (wanted === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(wanted);
    this.alarmAt = wanted;
  }
}
