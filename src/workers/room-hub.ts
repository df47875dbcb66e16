/**
 * RoomHub: one Durable Object per group (`room:{name}`). It keeps the members (user id →
 * connection ids that joined from user sockets), fans group messages out to the members'
 * UserHubs, and holds the room's own sockets itself (RoomSockets: `/ws/group/{name}/`, and
 * `/ws/consultation/{id}/` for a consultation), leasing each one to its user's UserHub so
 * presence counts it. Its name comes from the runtime (`ctx.id.name`, filled for `getByName`
 * ids, also when the alarm wakes it).
 */
import { DurableObject } from "cloudflare:workers";
import type { RoomPublish } from "../app/ports.ts";
import { mapBounded, Window } from "../core/bounded.ts";
import { loadConfig } from "../core/config.ts";
import type { Connection } from "../core/connection.ts";
import { Deadlines } from "../core/deadlines.ts";
import { type Delivery, type DeliveryResult, newDelivery } from "../core/delivery.ts";
import { consultationIdOf, groupOfRoomActor } from "../core/groups.ts";
import { Mailbox } from "../core/mailbox.ts";
import { type InflightLimit, inflightLimit } from "../core/overload.ts";
import { RoomMembers } from "../core/room-members.ts";
import { forRpc } from "../protocol/errors.ts";
import type { StatusChanged } from "../protocol/messages.ts";
import { RoomPresenceHost } from "./room-presence-host.ts";
import { RoomSockets } from "./room-sockets.ts";

/** UserHubs the reconciliation asks at once. */
const FANOUT_CONCURRENCY = 512;
/** How often members are checked against their UserHubs, removing ghosts: 10 minutes. */
const RECONCILE_MS = 10 * 60_000;
/** Where the next reconciliation time is kept in the room's storage. */
const RECONCILE_AT = "reconcile_at";

export class RoomHub extends DurableObject<Env> {
  /** The group this room is. */
  private readonly groupName: string;
  private readonly deadlines: Deadlines;
  private readonly members: RoomMembers;
  private readonly roomSockets: RoomSockets;
  /** Messages being fanned out (ACTOR_MAX_INFLIGHT); past it a send is refused, unsent. */
  private readonly messages: InflightLimit;
  /** Member deliveries in flight across all those messages (ROOM_FANOUT_WINDOW). */
  private readonly window: Window;
  /** Members' flips told in batches, and room occupancy webhook events. */
  private readonly presence: RoomPresenceHost;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const config = loadConfig(env);
    // By count only: fanning one message out to a large room may rightly take seconds.
    const maxAgeMs = Number.POSITIVE_INFINITY;
    this.messages = inflightLimit(config.overload, "the room is overloaded", { maxAgeMs });
    this.window = new Window(config.roomFanoutWindow);
    this.groupName = groupOfRoomActor(ctx.id.name ?? "");
    this.deadlines = new Deadlines(ctx.storage);
    this.members = new RoomMembers(ctx.storage.sql);
    this.roomSockets = new RoomSockets({
      ctx,
      env,
      config,
      deadlines: this.deadlines,
      groupName: this.groupName,
      members: this.members,
      history: new Mailbox(ctx.storage.sql, config.mailbox),
      post: (connection, message) => this.postConsultation(connection, message),
    });
    this.deadlines.register("reconciliation", {
      nextAt: async () => (await ctx.storage.get<number>(RECONCILE_AT)) ?? null,
      run: () => this.reconcile(),
    });
    this.presence = new RoomPresenceHost(ctx, env, config, {
      name: () => this.groupName,
      memberIds: () => this.memberIds(),
      onlineCount: () => this.memberCount(),
      broadcastLocal: (frame, exceptUserId) => this.roomSockets.broadcast(frame, exceptUserId),
    });
    this.deadlines.register("room webhooks", {
      nextAt: () => this.presence.nextWakeAt(),
      run: () => this.presence.onAlarm(),
    });
  }

  // --- room sockets (platform hooks) ---------------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    const response = await this.roomSockets.upgrade(request);
    await this.occupancyChanged();
    return response;
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    return this.roomSockets.host.message(ws, message);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    await this.roomSockets.host.closed(ws, code, reason);
    await this.occupancyChanged();
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    await this.roomSockets.host.failed(ws, error);
    await this.occupancyChanged();
  }

  override alarm(): Promise<void> {
    return this.deadlines.fire(Date.now());
  }

  // --- RPC from UserHubs and the API ---------------------------------------------------------

  async join(_groupName: string, userId: string, connectionId: string): Promise<number> {
    this.members.join(userId, connectionId);
    if ((await this.ctx.storage.get<number>(RECONCILE_AT)) === undefined) {
      await this.ctx.storage.put(RECONCILE_AT, Date.now() + RECONCILE_MS);
      await this.deadlines.reschedule();
    }
    await this.occupancyChanged();
    return this.memberCount();
  }

  async leave(_groupName: string, userId: string, connectionId: string): Promise<number> {
    this.members.leave(userId, connectionId);
    await this.occupancyChanged();
    return this.memberCount();
  }

  /** Users in the room: members who joined from user sockets and room sockets' users. */
  memberCount(): number {
    const members = this.memberIds();
    for (const userId of this.roomSockets.onlineUserIds()) members.add(userId);
    return members.size;
  }

  /** A group message to every member; resolves with the number of users reached. */
  async publish(groupName: string, publish: RoomPublish): Promise<{ recipients: number }> {
    const data = {
      message_id: publish.messageId,
      group_name: groupName,
      from_user_id: publish.fromUserId ?? "system",
      message_type: publish.messageType,
      ...(publish.message === undefined ? {} : { message: publish.message }),
      ...(publish.data === undefined ? {} : { data: publish.data }),
      sent_at: publish.sentAt,
    };
    try {
      const reached = await this.messages.run(async () => {
        // Every socket of the room (PROTOCOL "Rooms"): the room sockets held here, in place,
        // and the user sockets that joined, through their UserHubs.
        const users = new Set(this.roomSockets.post("group_message", publish.messageId, data));
        const members = await this.fanOut(
          newDelivery("group_message", data, publish.messageId, groupName),
        );
        for (const userId of members) users.add(userId);
        return users;
      });
      return { recipients: reached.size };
    } catch (err) {
      throw forRpc(err);
    }
  }

  /** A member flipped online or offline: the other members hear it at the window's end. */
  announce(_groupName: string, status: StatusChanged): void {
    this.presence.announce(status, Date.now());
  }

  // --- internals ------------------------------------------------------------------------------

  /** The online count may have changed: room.occupied / room.vacated when it crossed zero. */
  private async occupancyChanged(): Promise<void> {
    if (await this.presence.changed(Date.now())) await this.deadlines.reschedule();
  }

  private postConsultation(connection: Connection, message: string) {
    return this.messages.run(() => this.postToRoom(connection, message));
  }

  private async postToRoom(connection: Connection, message: string) {
    const groupName = this.groupName;
    const messageId = crypto.randomUUID();
    const sentAt = new Date().toISOString();
    const consultationId = consultationIdOf(groupName) ?? groupName;
    const data = {
      message_id: messageId,
      consultation_id: consultationId,
      from_user_id: connection.userId,
      from_username: connection.username,
      message,
      sent_at: sentAt,
    };
    const reached = new Set(this.roomSockets.post("consultation_message", messageId, data));
    for (const userId of await this.fanOut(
      newDelivery("consultation_message", data, messageId, groupName),
    )) {
      reached.add(userId);
    }
    return { messageId, groupName, recipients: reached.size, sentAt };
  }

  /** Deliver to every member's UserHub in parallel; members without a joined socket are ghosts. */
  private async fanOut(delivery: Delivery): Promise<Set<string>> {
    const reached = new Set<string>();
    await mapBounded([...this.memberIds()], this.window.size, async (userId) => {
      try {
        const hub = this.env.USER_HUB.getByName(userId);
        const result = await this.window.run<DeliveryResult>(
          async () => await hub.deliver(userId, delivery),
        );
        if (result.status === "delivered" || result.status === "duplicate") reached.add(userId);
        // No socket of theirs has joined: a membership whose leave never arrived.
        else if (result.status === "dropped") this.dropMember(userId);
      } catch (err) {
        console.warn(`RoomHub:fanOut: delivery to ${userId} failed: ${String(err)}`);
      }
    });
    return reached;
  }

  /** Keep only memberships whose sockets still exist and still have the group joined. */
  private async reconcile(): Promise<void> {
    const name = this.groupName;
    await mapBounded([...this.memberIds()], FANOUT_CONCURRENCY, async (userId) => {
      const live = new Set(await this.env.USER_HUB.getByName(userId).joinedConnections(name));
      this.members.keepOnly(userId, live);
    });
    await this.presence.changed(Date.now());
    if (this.memberIds().size > 0) {
      await this.ctx.storage.put(RECONCILE_AT, Date.now() + RECONCILE_MS);
    } else await this.ctx.storage.delete(RECONCILE_AT);
  }

  private dropMember(userId: string): void {
    this.members.drop(userId);
  }

  private memberIds(): Set<string> {
    return this.members.userIds();
  }
}
