/**
 * The sockets a RoomHub holds itself (`/ws/group/{name}/`, and `/ws/consultation/{id}/` for the
 * room `consultation_{id}`), hosted by the same code as a user's sockets (SocketHost). Each one is leased to its user's UserHub, so it counts toward
 * that user's presence; the lease is renewed from the room's alarm while the socket lives and
 * expires by itself if the room stops renewing it.
 */
import type { Actors } from "../app/context.ts";
import { CONSULTATION_HANDLERS } from "../app/socket/consultation.ts";
import type { Config } from "../core/config.ts";
import type { Connection } from "../core/connection.ts";
import type { Deadlines } from "../core/deadlines.ts";
import { consultationIdOf } from "../core/groups.ts";
import {
  type RoomEntry,
  type RoomHistory,
  roomFrame,
  roomResumption,
} from "../core/room-history.ts";
import type { RoomMembers } from "../core/room-members.ts";
import { blockedError } from "../core/termination.ts";
import { encodeFrame } from "../protocol/codec.ts";
import { type HolderPart, type SocketHooks, SocketHost } from "./socket-host.ts";
import { SocketSet } from "./socket-set.ts";

/** A lease lives this long unless renewed: 90 s. */
export const LEASE_MS = 90_000;
/** Leases are renewed every 30 s, so two missed renewals still keep the user online. */
const RENEW_MS = 30_000;
/** Where the next lease renewal time is kept in the room's storage. */
const RENEW_AT = "renew_at";

export interface RoomSocketsOptions {
  ctx: DurableObjectState;
  env: Env;
  config: Config;
  deadlines: Deadlines;
  /** The group this room is (from the actor's name). */
  groupName: string;
  members: RoomMembers;
  history: RoomHistory;
  /** The actors as a command on a room socket reaches them (its own room in place). */
  actors: Actors;
}

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

  /** Push a stored room message to every room socket; returns the users reached. */
  post(entry: RoomEntry): string[] {
    const frame = roomFrame(entry, "room");
    const reached = new Set<string>();
    for (const { ws, connection } of this.host.sockets.entries()) {
      SocketSet.send(ws, frame);
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
        if (lease.blockedUntil !== undefined) throw blockedError(lease.blockedUntil);
        if (!lease.accepted) return null;
        // This socket's stream is the room's history: its seq is the group_seq.
        const room = history.position();
        return { connectionCount: () => lease.connectionCount, lastSeq: room.group_seq, room };
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

  private commands(connection: Connection): HolderPart {
    const { actors, history } = this.options;
    return {
      actors,
      connectionCount: async () => (await actors.user(connection.userId).status()).connection_count,
      replay: (sinceSeq) => roomResumption(history.replay({ groupSeq: sinceSeq }, Date.now())),
    };
  }
}
