/**
 * RoomHub: one Durable Object per group (`room:{name}`). It stores the room's messages once
 * (its history, src/core/room-history.ts), keeps the members (user id → connection ids that
 * joined from user sockets), fans room messages out to the members' UserHubs (through
 * FanoutShards past FANOUT_MAX_CALLS_PER_MESSAGE), and holds the room's own sockets itself
 * (RoomSockets: `/ws/group/{name}/`, and `/ws/consultation/{id}/` for a consultation), leasing
 * each one to its user's UserHub so presence counts it. Its name comes from the runtime (`ctx.id.name`, filled for `getByName`
 * ids, also when the alarm wakes it).
 */
import { DurableObject } from "cloudflare:workers";
import type { Actors, RoomJoined, RoomPublish } from "../app/context.ts";
import { mapBounded, Window } from "../core/bounded.ts";
import { type Config, loadConfig } from "../core/config.ts";
import { Deadlines } from "../core/deadlines.ts";
import { type Delivery, roomDelivery } from "../core/delivery.ts";
import { groupOfRoomActor } from "../core/groups.ts";
import { type InflightLimit, inflightLimit } from "../core/overload.ts";
import { RoomHistory, type RoomSince, type UnplacedRoomData } from "../core/room-history.ts";
import { RoomMembers } from "../core/room-members.ts";
import { forRpc } from "../protocol/errors.ts";
import type { RoomMessageType, StatusChanged } from "../protocol/messages.ts";

import { actorsFromEnv } from "./actors-from-env.ts";
import { fanOutToUsers } from "./fanout-shard.ts";
import { consultationData, groupData } from "./room-message-data.ts";
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
  private readonly config: Config;
  private readonly deadlines: Deadlines;
  private readonly members: RoomMembers;
  private readonly history: RoomHistory;
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
    this.config = config;
    // By count only: fanning one message out to a large room may rightly take seconds.
    const maxAgeMs = Number.POSITIVE_INFINITY;
    this.messages = inflightLimit(config.overload, "the room is overloaded", { maxAgeMs });
    this.window = new Window(config.roomFanoutWindow);
    this.groupName = groupOfRoomActor(ctx.id.name ?? "");
    this.deadlines = new Deadlines(ctx.storage);
    this.members = new RoomMembers(ctx.storage.sql);
    this.history = new RoomHistory(ctx.storage.sql, config.roomHistory);
    this.roomSockets = new RoomSockets({
      ctx,
      env,
      config,
      deadlines: this.deadlines,
      groupName: this.groupName,
      members: this.members,
      history: this.history,
      actors: this.actorsHere(actorsFromEnv(env, config)),
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
      reschedule: () => this.deadlines.reschedule(),
    });
    this.deadlines.register("room webhooks", {
      nextAt: () => this.presence.nextWakeAt(),
      run: () => this.presence.onAlarm(),
    });
  }

  // --- room sockets (platform hooks) ---------------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    const response = await this.roomSockets.upgrade(request);
    await this.presence.changed();
    return response;
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    return this.roomSockets.host.message(ws, message);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    await this.roomSockets.host.closed(ws, code, reason);
    await this.presence.changed();
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    await this.roomSockets.host.failed(ws, error);
    await this.presence.changed();
  }

  override alarm(): Promise<void> {
    return this.deadlines.fire(Date.now());
  }

  // --- RPC from UserHubs and the API ---------------------------------------------------------

  async join(
    _groupName: string,
    userId: string,
    connectionId: string,
    since?: RoomSince,
  ): Promise<RoomJoined> {
    // Read with the insert, no await between: a message stored after this reaches the socket live.
    const history = this.history.replay(since, Date.now());
    this.members.join(userId, connectionId);
    if ((await this.ctx.storage.get<number>(RECONCILE_AT)) === undefined) {
      await this.ctx.storage.put(RECONCILE_AT, Date.now() + RECONCILE_MS);
      await this.deadlines.reschedule();
    }
    await this.presence.changed();
    return { memberCount: this.memberCount(), history };
  }

  async leave(_groupName: string, userId: string, connectionId: string): Promise<number> {
    this.members.leave(userId, connectionId);
    await this.presence.changed();
    return this.memberCount();
  }

  /** Close these room sockets as terminated, after `frame`; resolves with how many closed. */
  terminate(_groupName: string, connectionIds: string[], frame: string): Promise<number> {
    return this.roomSockets.host.terminate(frame, connectionIds);
  }

  /** Users in the room: members who joined from user sockets and room sockets' users. */
  memberCount(): number {
    let count = this.members.count();
    for (const userId of this.roomSockets.onlineUserIds()) {
      if (!this.members.isMember(userId)) count++;
    }
    return count;
  }

  /** A room message to every socket of the room; resolves with the number of users reached. */
  async publish(groupName: string, publish: RoomPublish): Promise<{ recipients: number }> {
    try {
      const recipients = await this.messages.run(() =>
        publish.type === "consultation_message"
          ? this.store(publish.type, publish.messageId, consultationData(groupName, publish))
          : this.store(publish.type, publish.messageId, groupData(groupName, publish)),
      );
      return { recipients };
    } catch (err) {
      throw forRpc(err);
    }
  }

  /** A member flipped online or offline: the other members hear it at the window's end. */
  announce(_groupName: string, status: StatusChanged): void {
    this.presence.announce(status, Date.now());
  }

  // --- internals ------------------------------------------------------------------------------

  /** `actors`, with this room itself reached in place rather than through its own stub. */
  private actorsHere(actors: Actors): Actors {
    return {
      ...actors,
      room: (groupName) =>
        groupName !== this.groupName
          ? actors.room(groupName)
          : {
              publish: (message) => this.publish(groupName, message),
              join: (userId, connectionId, since) =>
                this.join(groupName, userId, connectionId, since),
              leave: async (userId, connectionId) => this.leave(groupName, userId, connectionId),
            },
    };
  }

  /**
   * Store a room message once, then send it to every socket of the room (docs/protocol.md,
   * "Rooms"): the room sockets held here, in place, and the user sockets that joined, through
   * their UserHubs. Resolves with the users reached; a retried message id is sent once.
   */
  private async store<K extends RoomMessageType>(
    type: K,
    messageId: string,
    data: UnplacedRoomData<K>,
  ): Promise<number> {
    const { entry, duplicate } = this.history.append(messageId, type, data, Date.now());
    if (duplicate) return 0;
    const users = new Set(this.roomSockets.post(entry));
    for (const userId of await this.fanOut(roomDelivery(entry, messageId, this.groupName))) {
      users.add(userId);
    }
    return users.size;
  }

  /** Deliver to every member's UserHub (through fan-out shards past the bound); drop ghosts. */
  private async fanOut(delivery: Delivery): Promise<Set<string>> {
    const members = this.memberIds();
    const path = `fanout:room:${this.groupName}`;
    const result = await fanOutToUsers(
      this.env,
      this.config,
      path,
      [...members],
      delivery,
      this.window,
    );
    // No socket of theirs has joined: a membership whose leave never arrived.
    for (const userId of result.dropped) this.dropMember(userId);
    for (const userId of [...result.dropped, ...result.failed]) members.delete(userId);
    return members;
  }

  /** Keep only memberships whose sockets still exist and still have the group joined. */
  private async reconcile(): Promise<void> {
    const name = this.groupName;
    await mapBounded([...this.memberIds()], FANOUT_CONCURRENCY, async (userId) => {
      const live = new Set(await this.env.USER_HUB.getByName(userId).joinedConnections(name));
      this.members.keepOnly(userId, live);
    });
    await this.presence.changed();
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
