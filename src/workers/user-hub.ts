/**
 * UserHub: one Durable Object per user, holding every socket of that user (through SocketHost)
 * and their mailbox, presence and notification records. Protocol rules live in src/core and
 * src/protocol.
 */
import { DurableObject } from "cloudflare:workers";
import { DEFAULT_HANDLERS } from "../app/socket/index.ts";
import { type Config, loadConfig } from "../core/config.ts";
import { Deadlines } from "../core/deadlines.ts";
import { type Delivery, type DeliveryResult, newDelivery, RecentIds } from "../core/delivery.ts";
import { KnownUser } from "../core/known-user.ts";
import type { Lease } from "../core/leases.ts";
import { Mailbox } from "../core/mailbox.ts";
import { NewTargets } from "../core/new-targets.ts";
import type { RoomPresenceUpdate } from "../core/room-presence.ts";
import type { Termination } from "../core/termination.ts";
import { UserBudget } from "../core/user-budget.ts";
import { forRpc } from "../protocol/errors.ts";
import type { NotificationMessage } from "../protocol/messages.ts";
import { CoMemberPresence } from "./co-member-presence.ts";
import { queuedPostgres } from "./postgres-queue.ts";
import { type HolderPart, type SocketHooks, SocketHost } from "./socket-host.ts";
import { AUTO_PING, AUTO_PONG } from "./socket-set.ts";
import { UserConnections, type UserSnapshot } from "./user-connections.ts";
import { deliverToUser, type UserDeliveryParts } from "./user-delivery.ts";
import { userDetails } from "./user-details.ts";
import { userHoldingActor } from "./user-holding-actor.ts";
import { UserNotifications } from "./user-notifications.ts";
import { UserTermination } from "./user-termination.ts";

export class UserHub extends DurableObject<Env> {
  private readonly config: Config;
  private readonly deadlines: Deadlines;
  private readonly host: SocketHost;
  private readonly connections: UserConnections;
  private readonly mailbox: Mailbox;
  private readonly notifications: UserNotifications;
  private readonly knownUser: KnownUser;
  private readonly deliveryParts: UserDeliveryParts;
  private readonly termination: UserTermination;
  /** What a command on any of this user's sockets may ask of this actor. */
  private readonly commands: HolderPart;
  private readonly coMembers = new CoMemberPresence(() => this.host.sockets.entries());

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = loadConfig(env);
    this.deadlines = new Deadlines(ctx.storage);
    this.host = new SocketHost({
      ctx,
      env,
      config: this.config,
      label: "UserHub",
      handlers: DEFAULT_HANDLERS,
      deadlines: this.deadlines,
      hooks: this.socketHooks(),
      // One budget for every socket of this user (docs/protocol.md, "Budgets"); in memory, so an
      // evicted hub forgives its user, which only happens once the user went quiet.
      budget: {
        user: new UserBudget(this.config.userBudget, Date.now()),
        targets: new NewTargets(this.config.newTargetsPerMinute),
      },
    });
    const postgres = queuedPostgres(env, this.config);
    this.connections = new UserConnections(ctx, env, this.config, this.host.sockets, postgres);
    this.connections.register(this.deadlines);
    this.termination = new UserTermination(env, this.host, this.connections, this.deadlines);
    this.mailbox = new Mailbox(ctx.storage.sql, this.config.mailbox);
    this.notifications = new UserNotifications(
      ctx,
      this.connections.store,
      env,
      postgres && ((records) => postgres.recordNotifications(records)),
    );
    this.notifications.register(this.deadlines, async () => {
      const profile = await this.connections.profile.get();
      return profile?.userId ?? ctx.id.toString();
    });
    this.knownUser = new KnownUser({
      store: this.connections.store,
      connectedBefore: async () => (await this.connections.profile.get()) !== undefined,
      lookup: postgres && ((userId) => postgres.userExists(userId)),
      log: (message) => console.warn(`UserHub:knownUser: ${message}`),
    });
    const { config, host, mailbox, knownUser, deadlines } = this;
    const pushed = new RecentIds();
    this.deliveryParts = { config, host, mailbox, knownUser, deadlines, pushed };
    this.commands = userHoldingActor({
      env,
      config: this.config,
      connections: this.connections,
      mailbox: this.mailbox,
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(AUTO_PING, AUTO_PONG));
    // After a crash the stored state may say online with every socket gone: correct it before
    // the first request reads it (status, deliver), and let the alarm write the mirrors.
    void ctx.blockConcurrencyWhile(async () => {
      if ((await this.connections.presence.recoverLostSockets()) !== null) {
        await this.deadlines.reschedule();
      }
    });
  }

  // --- platform hooks -------------------------------------------------------------------------

  override fetch(request: Request): Promise<Response> {
    return this.host.upgrade(request);
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    return this.host.message(ws, message);
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    return this.host.closed(ws, code, reason);
  }

  override webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    return this.host.failed(ws, error);
  }

  override alarm(): Promise<void> {
    return this.deadlines.fire(Date.now());
  }

  // --- RPC ------------------------------------------------------------------------------------

  /** This user's status, as other actors and the HTTP API see it. */
  status(): Promise<UserSnapshot> {
    return this.connections.status();
  }

  /** Sockets, groups, presence and mailbox size, for operators (`GET /api/v1/users/{id}`). */
  details() {
    return userDetails(this.host.sockets, this.connections, this.mailbox);
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
      return await deliverToUser(this.deliveryParts, userId, delivery, offeredAt);
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
    if (this.notifications.record(userId, notification, result)) await this.deadlines.reschedule();
    return result;
  }

  /** A RoomHub lends one of its room sockets to this user's presence. */
  async attachRemote(
    userId: string,
    lease: Lease,
  ): Promise<{ accepted: boolean; connectionCount: number; blockedUntil?: number }> {
    const blocked = await this.termination.blockedUntil();
    if (blocked !== null) {
      return { accepted: false, connectionCount: this.connections.count(), blockedUntil: blocked };
    }
    const max = this.config.maxConnectionsPerUser;
    const accepted = await this.connections.attach(userId, lease, max);
    if (accepted) await this.deadlines.reschedule();
    return { accepted, connectionCount: this.connections.count() };
  }

  async renewLeases(
    _userId: string,
    room: string,
    connectionIds: string[],
    expiresAt: number,
  ): Promise<void> {
    this.connections.leases.renew(room, connectionIds, expiresAt);
    await this.deadlines.reschedule();
  }

  async detachRemote(_userId: string, connectionId: string): Promise<void> {
    await this.connections.endLease(connectionId);
    await this.deadlines.reschedule();
  }

  /** Close every socket of this user as terminated, optionally blocking new ones. */
  terminate(_userId: string, termination: Termination): Promise<{ closed: number }> {
    return this.termination.terminate(termination);
  }

  /** Write this user's presence to a mirror again (after that mirror's outage). */
  async rewriteMirror(target: "redis" | "postgres"): Promise<void> {
    await this.connections.presence.rewrite([target]);
    await this.deadlines.reschedule();
  }

  /** Connection ids of this user's open sockets that joined `groupName` (room reconciliation). */
  joinedConnections(groupName: string): string[] {
    return this.host.sockets
      .entries()
      .filter((e) => e.connection.groups.includes(groupName))
      .map((e) => e.connection.connectionId);
  }

  /** A room's window of co-members' flips, or a large room's count: to this user's sockets in it. */
  pushRoomPresence(groupName: string, update: RoomPresenceUpdate): void {
    this.coMembers.tell(groupName, update);
  }

  // --- internals ------------------------------------------------------------------------------

  private socketHooks(): SocketHooks {
    return {
      admit: async (connection) => {
        const refusal = await this.termination.refusal();
        if (refusal !== null) throw refusal;
        if (this.connections.count() >= this.config.maxConnectionsPerUser) return null;
        const { userId, username, isStaff, isSuperuser } = connection;
        await this.connections.profile.remember({ userId, username, isStaff, isSuperuser });
        return { connectionCount: () => this.connections.count(), lastSeq: this.mailbox.lastSeq() };
      },
      onConnect: (ws) => this.connections.changed({ opened: ws, now: true }),
      onCommand: () => this.commands,
      onGone: (connection) => this.connections.gone(connection),
    };
  }
}
