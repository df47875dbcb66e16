/**
 * RoomHub: one Durable Object per group (`room:{name}`). It keeps the members (user id →
 * connection ids that joined from user sockets), fans group messages out to the members'
 * UserHubs, and for consultations holds the consultation sockets itself, leasing each one to
 * its user's UserHub so presence counts it.
 */
import { DurableObject } from "cloudflare:workers";
import type { RoomPublish } from "../app/ports.ts";
import { mapBounded, Window } from "../core/bounded.ts";
import { loadConfig } from "../core/config.ts";
import type { Connection } from "../core/connection.ts";
import { type Delivery, type DeliveryResult, newDelivery } from "../core/delivery.ts";
import { consultationIdOf } from "../core/groups.ts";
import { Mailbox } from "../core/mailbox.ts";
import { type InflightLimit, inflightLimit } from "../core/overload.ts";
import { forRpc } from "../protocol/errors.ts";
import type { StatusChanged } from "../protocol/messages.ts";
import { ConsultationSockets } from "./consultation-sockets.ts";
import { RoomPresenceHost } from "./room-presence-host.ts";
import { SocketSet } from "./socket-set.ts";

/** UserHubs the reconciliation asks at once. */
const FANOUT_CONCURRENCY = 512;
/** How often members are checked against their UserHubs, removing ghosts: 10 minutes. */
const RECONCILE_MS = 10 * 60_000;

export class RoomHub extends DurableObject<Env> {
  private readonly consultation: ConsultationSockets;
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
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS members (
      user_id TEXT NOT NULL, connection_id TEXT NOT NULL, PRIMARY KEY (user_id, connection_id))`);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS room (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    );
    this.consultation = new ConsultationSockets({
      ctx,
      env,
      config,
      history: new Mailbox(ctx.storage.sql, config.mailbox),
      roomName: () => this.name(),
      post: (connection, message) => this.postConsultation(connection, message),
      reschedule: () => this.reschedule(),
    });
    this.presence = new RoomPresenceHost(ctx, env, config, {
      name: () => this.name(),
      memberIds: () => this.memberIds(),
      onlineCount: () => this.memberCount(),
      broadcastLocal: (frame, exceptUserId) => this.consultation.broadcast(frame, exceptUserId),
    });
  }

  // --- consultation sockets (platform hooks) --------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    const response = await this.consultation.accept(request, (name) => this.remember(name));
    await this.occupancyChanged();
    return response;
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    return this.consultation.message(ws, message);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    SocketSet.reciprocate(ws, code, reason);
    await this.consultation.gone(ws);
    await this.occupancyChanged();
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.consultation.gone(ws);
    await this.occupancyChanged();
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    await this.consultation.onAlarm(now);
    await this.presence.onAlarm();
    const reconcileAt = Number(this.meta("reconcile_at") ?? 0);
    if (reconcileAt !== 0 && reconcileAt <= now) {
      await this.reconcile();
      await this.presence.changed(now);
    }
    await this.reschedule();
  }

  // --- RPC from UserHubs and the API ---------------------------------------------------------

  async join(groupName: string, userId: string, connectionId: string): Promise<number> {
    this.remember(groupName);
    this.ctx.storage.sql.exec(
      "INSERT INTO members (user_id, connection_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
      userId,
      connectionId,
    );
    if (this.meta("reconcile_at") === null) {
      this.setMeta("reconcile_at", String(Date.now() + RECONCILE_MS));
      await this.reschedule();
    }
    await this.occupancyChanged();
    return this.memberCount();
  }

  async leave(groupName: string, userId: string, connectionId: string): Promise<number> {
    this.remember(groupName);
    this.ctx.storage.sql.exec(
      "DELETE FROM members WHERE user_id = ? AND connection_id = ?",
      userId,
      connectionId,
    );
    await this.occupancyChanged();
    return this.memberCount();
  }

  /** Users in the room: members who joined from user sockets and consultation participants online. */
  memberCount(): number {
    const members = this.memberIds();
    for (const userId of this.consultation.onlineUserIds()) members.add(userId);
    return members.size;
  }

  /** A group message to every member; resolves with the number of users reached. */
  async publish(groupName: string, publish: RoomPublish): Promise<{ recipients: number }> {
    this.remember(groupName);
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
        // Every socket of the room (PROTOCOL "Rooms"): the consultation sockets held here, in
        // place, and the user sockets that joined, through their UserHubs.
        const users = new Set(this.consultation.post("group_message", publish.messageId, data));
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
  announce(groupName: string, status: StatusChanged): void {
    this.remember(groupName);
    this.presence.announce(status, Date.now());
  }

  // --- internals ------------------------------------------------------------------------------

  /** The online count may have changed: room.occupied / room.vacated when it crossed zero. */
  private async occupancyChanged(): Promise<void> {
    if (await this.presence.changed(Date.now())) await this.reschedule();
  }

  private postConsultation(connection: Connection, message: string) {
    return this.messages.run(() => this.postToRoom(connection, message));
  }

  private async postToRoom(connection: Connection, message: string) {
    const groupName = this.name();
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
    const reached = new Set(this.consultation.post("consultation_message", messageId, data));
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
    const name = this.name();
    await mapBounded([...this.memberIds()], FANOUT_CONCURRENCY, async (userId) => {
      const live = new Set(await this.env.USER_HUB.getByName(userId).joinedConnections(name));
      const rows = this.ctx.storage.sql
        .exec<{ connection_id: string }>(
          "SELECT connection_id FROM members WHERE user_id = ?",
          userId,
        )
        .toArray();
      for (const { connection_id } of rows) {
        if (!live.has(connection_id)) {
          this.ctx.storage.sql.exec(
            "DELETE FROM members WHERE user_id = ? AND connection_id = ?",
            userId,
            connection_id,
          );
        }
      }
    });
    this.setMeta(
      "reconcile_at",
      this.memberIds().size > 0 ? String(Date.now() + RECONCILE_MS) : null,
    );
  }

  private dropMember(userId: string): void {
    this.ctx.storage.sql.exec("DELETE FROM members WHERE user_id = ?", userId);
  }

  private memberIds(): Set<string> {
    const rows = this.ctx.storage.sql
      .exec<{ user_id: string }>("SELECT DISTINCT user_id FROM members")
      .toArray();
    return new Set(rows.map((row) => row.user_id));
  }

  private async reschedule(): Promise<void> {
    const times = [
      Number(this.meta("reconcile_at") ?? Number.POSITIVE_INFINITY),
      this.consultation.nextWakeAt(),
      await this.presence.nextWakeAt(),
    ];
    const next = Math.min(...times.map((t) => t ?? Number.POSITIVE_INFINITY));
    if (next === Number.POSITIVE_INFINITY) await this.ctx.storage.deleteAlarm();
    else if ((await this.ctx.storage.getAlarm()) !== next) await this.ctx.storage.setAlarm(next);
  }

  /** The room's name, learned from the first call (ids made with idFromName do not carry it). */
  private remember(name: string): void {
    if (this.meta("name") !== name) this.setMeta("name", name);
  }

  private name(): string {
    return this.meta("name") ?? "";
  }

  private meta(key: string): string | null {
    const [row] = this.ctx.storage.sql
      .exec<{ value: string }>("SELECT value FROM room WHERE key = ?", key)
      .toArray();
    return row?.value ?? null;
  }

  private setMeta(key: string, value: string | null): void {
    if (value === null) this.ctx.storage.sql.exec("DELETE FROM room WHERE key = ?", key);
    else {
      this.ctx.storage.sql.exec(
        "INSERT INTO room (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        key,
        value,
      );
    }
  }
}
