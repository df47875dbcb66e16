/**
 * The sockets a RoomHub holds itself (`/ws/group/{name}/`, and `/ws/consultation/{id}/` for the
 * room `consultation_{id}`), hosted by the same code as a user's sockets (SocketHost). Each one is leased to its user's UserHub, so it counts toward
 * that user's presence; the lease is renewed from the room's alarm while the socket lives and
 * expires by itself if the room stops renewing it.
 */
import type { Config } from "../core/config.ts";
import type { Connection } from "../core/connection.ts";
import type { Deadlines } from "../core/deadlines.ts";
import { consultationIdOf } from "../core/groups.ts";
import { CONSULTATION_HANDLERS } from "../core/handlers/consultation.ts";
import type { Mailbox } from "../core/mailbox.ts";
import type { RoomMembers } from "../core/room-members.ts";
import { encodeFrame, encodeRawFrame } from "../protocol/codec.ts";
import { GatewayError } from "../protocol/errors.ts";
import type { ServerData } from "../protocol/messages.ts";
import { callActor } from "./actors-from-env.ts";
import { type HolderPort, type SocketHooks, SocketHost } from "./socket-host.ts";
import { SocketSet } from "./socket-set.ts";

/** A lease lives this long unless renewed: 90 s. */
export const LEASE_MS = 90_000;
/** Leases are renewed every 30 s, so two missed renewals still keep the user online. */
const RENEW_MS = 30_000;
/** Where the next lease renewal time is kept in the room's storage. */
const RENEW_AT = "renew_at";

export interface PostResult {
  messageId: string;
  groupName: string;
  recipients: number;
  sentAt: string;
}

export interface RoomSocketsOptions {
  ctx: DurableObjectState;
  env: Env;
  config: Config;
  deadlines: Deadlines;
  /** The group this room is (from the actor's name). */
  groupName: string;
  members: RoomMembers;
  history: Mailbox;
  post: (connection: Connection, message: string) => Promise<PostResult>;
}

/** The room messages a room socket receives and its room's history keeps. */
type RoomMessageType = "consultation_message" | "group_message";

export class RoomSockets {
  readonly host: SocketHost;
  private readonly options: RoomSocketsOptions;
  private readonly consultationId: string | null;

  constructor(options: RoomSocketsOptions) {
    this.options = options;
    this.consultationId = consultationIdOf(options.groupName);
    this.host = new SocketHost({
      ctx: options.ctx,
      env: options.env,
      config: options.config,
      label: "RoomHub",
      handlers: CONSULTATION_HANDLERS,
      deadlines: options.deadlines,
      hooks: this.hooks(),
    });
    options.deadlines.register("lease renewals", {
      nextAt: async () => (await options.ctx.storage.get<number>(RENEW_AT)) ?? null,
      run: (now) => this.renew(now),
    });
  }

  upgrade(request: Request): Promise<Response> {
    return this.host.upgrade(request, { groups: [this.options.groupName] });
  }

  onlineUserIds(): Set<string> {
    return new Set(this.host.sockets.entries().map((e) => e.connection.userId));
  }

  /** Send a frame to every room socket, except those of `exceptUserId`. */
  broadcast(frame: string, exceptUserId?: string): void {
    for (const { ws, connection } of this.host.sockets.entries()) {
      if (connection.userId !== exceptUserId) SocketSet.send(ws, frame);
    }
  }

  /**
   * Store a room message (a participant's `consultation_message`, or a `group_message` sent to
   * `consultation_{id}` by a member or by server code) in the room's history, so `resume`
   * replays it, and push it to every room socket; returns the users reached. A retried send of
   * the same message id is stored and pushed once.
   */
  post<K extends RoomMessageType>(type: K, messageId: string, data: ServerData[K]): string[] {
    const entries = this.host.sockets.entries();
    // A consultation keeps its history for its sockets to resume from; another room only
    // while it holds room sockets.
    if (this.consultationId === null && entries.length === 0) return [];
    const json = JSON.stringify(data);
    const now = Date.now();
    const stored = this.options.history.append(messageId, type, json, now);
    const frame = encodeRawFrame(type, json, { seq: stored.seq, ts: new Date(now).toISOString() });
    const reached = new Set<string>();
    for (const { ws, connection } of entries) {
      if (!stored.duplicate) SocketSet.send(ws, frame);
      reached.add(connection.userId);
    }
    return [...reached];
  }

  // --- internals ------------------------------------------------------------------------------

  private hooks(): SocketHooks {
    const { ctx, env, members, history, groupName } = this.options;
    return {
      admit: async (connection) => {
        const { userId, connectionId } = connection;
        const lease = await env.USER_HUB.getByName(userId).attachRemote(userId, {
          connectionId,
          room: groupName,
          expiresAt: Date.now() + LEASE_MS,
        });
        if (!lease.accepted) return null;
        return { connectionCount: () => lease.connectionCount, lastSeq: history.lastSeq() };
      },
      onConnect: async (ws, connection) => {
        if (this.consultationId !== null) {
          members.addParticipant({ userId: connection.userId, username: connection.username });
          SocketSet.send(ws, encodeFrame("consultation_state", await this.state()));
        }
        if ((await ctx.storage.get<number>(RENEW_AT)) === undefined) {
          await ctx.storage.put(RENEW_AT, Date.now() + RENEW_MS);
        }
      },
      onCommand: (connection) => this.commands(connection),
      onGone: async ({ userId, connectionId }) => {
        // End the lease so the user's count drops now, not at expiry.
        try {
          await env.USER_HUB.getByName(userId).detachRemote(userId, connectionId);
        } catch (err) {
          // The lease then simply expires (LEASE_MS) instead of ending now.
          console.warn(`RoomHub:gone: detach failed, the lease will expire: ${String(err)}`);
        }
      },
    };
  }

  private async renew(now: number): Promise<void> {
    const byUser = new Map<string, string[]>();
    for (const { connection } of this.host.sockets.entries()) {
      const ids = byUser.get(connection.userId) ?? [];
      byUser.set(connection.userId, [...ids, connection.connectionId]);
    }
    const { env, ctx, groupName } = this.options;
    await Promise.all(
      [...byUser].map(async ([userId, ids]) => {
        try {
          const hub = env.USER_HUB.getByName(userId);
          await hub.renewLeases(userId, groupName, ids, now + LEASE_MS);
        } catch (err) {
          console.warn(`RoomHub:renew: lease renewal for ${userId} failed: ${String(err)}`);
        }
      }),
    );
    if (byUser.size > 0) await ctx.storage.put(RENEW_AT, now + RENEW_MS);
    else await ctx.storage.delete(RENEW_AT);
  }

  private async state() {
    const online = this.onlineUserIds();
    const participants = await Promise.all(
      this.options.members.participants().map(async ({ userId, username }) => ({
        user_id: userId,
        username,
        is_online:
          online.has(userId) ||
          (await this.options.env.USER_HUB.getByName(userId).status()).is_online,
      })),
    );
    return { consultation_id: this.consultationId ?? "", participants };
  }

  private commands(connection: Connection): HolderPort {
    const { env, history, post } = this.options;
    return {
      connectionCount: async () =>
        (await callActor(() => env.USER_HUB.getByName(connection.userId).status()))
          .connection_count,
      replay: (sinceSeq) => history.replay(sinceSeq, Date.now()),
      postConsultation: (from, message) => {
        if (this.consultationId !== null) return post(from, message);
        throw new GatewayError(
          "forbidden",
          "consultation_message is only accepted on consultation sockets",
        );
      },
      // The consultation handler table never routes these here (they answer forbidden first).
      actors: {
        user: notOnRoomSockets,
        shard: notOnRoomSockets,
        room: notOnRoomSockets,
      },
      verifySubscription: notOnRoomSockets,
    };
  }
}

function notOnRoomSockets(): never {
  throw new GatewayError("forbidden", "not available on room sockets");
}
