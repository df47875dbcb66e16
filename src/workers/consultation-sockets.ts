/**
 * The consultation sockets a RoomHub holds (`/ws/consultation/{id}/`). Each one is leased to
 * its user's UserHub, so it counts toward that user's presence; the lease is renewed from the
 * room's alarm while the socket lives and expires by itself if the room stops renewing it.
 */
import { CLOCK_TOLERANCE_SECONDS, type Principal, verifyToken } from "../core/auth.ts";
import type { Config } from "../core/config.ts";
import { type Connection, newConnection } from "../core/connection.ts";
import { consultationIdOf } from "../core/groups.ts";
import { CONSULTATION_HANDLERS } from "../core/handlers/consultation.ts";
import type { HubPort } from "../core/handlers/index.ts";
import { decodeIdentity, IDENTITY_HEADER, ROOM_HEADER } from "../core/identity.ts";
import type { Mailbox } from "../core/mailbox.ts";
import { blockedError } from "../core/termination.ts";
import { errorResponse } from "../http/errors.ts";
import { encodeError, encodeFrame, encodeRawFrame } from "../protocol/codec.ts";
import { Disconnects, GatewayError } from "../protocol/errors.ts";
import type { ServerData } from "../protocol/messages.ts";
import { InboundFrames } from "./inbound-frames.ts";
import { SocketSet } from "./socket-set.ts";

/** A lease lives this long unless renewed: 90 s. */
export const LEASE_MS = 90_000;
/** Leases are renewed every 30 s, so two missed renewals still keep the user online. */
const RENEW_MS = 30_000;

export interface ConsultationOptions {
  ctx: DurableObjectState;
  env: Env;
  config: Config;
  history: Mailbox;
  roomName: () => string;
  post: (
    connection: Connection,
    message: string,
  ) => Promise<{ messageId: string; groupName: string; recipients: number; sentAt: string }>;
  /** Re-arm the room's one alarm (shared with membership reconciliation). */
  reschedule: () => Promise<void>;
}

const userTag = (userId: string) => `user:${userId}`;

/** The room messages a consultation socket receives and its room's history keeps. */
type RoomMessageType = "consultation_message" | "group_message";

export class ConsultationSockets {
  private readonly o: ConsultationOptions;
  private readonly sockets: SocketSet;
  private readonly frames: InboundFrames;
  /** Sockets whose end was already handled (error then close, or our close then theirs). */
  private readonly ended = new WeakSet<WebSocket>();

  constructor(options: ConsultationOptions) {
    this.o = options;
    this.sockets = new SocketSet(options.ctx, "RoomHub");
    this.frames = new InboundFrames(options.config, CONSULTATION_HANDLERS, "RoomHub");
    options.ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS participants (user_id TEXT PRIMARY KEY, username TEXT NOT NULL)",
    );
  }

  async accept(request: Request, remember: (room: string) => void): Promise<Response> {
    const identity = decodeIdentity(request.headers.get(IDENTITY_HEADER));
    const room = request.headers.get(ROOM_HEADER);
    const consultationId = room === null ? null : consultationIdOf(room);
    if (identity === null || room === null || consultationId === null) {
      return new Response("identity or room missing", { status: 500 });
    }
    remember(room);
    const { principal, source } = identity;
    const headers = source === "subprotocol" ? { "Sec-WebSocket-Protocol": "bearer" } : undefined;
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    const connection = this.connectionFor(principal, room);
    const lease = await this.o.env.USER_HUB.getByName(principal.userId).attachRemote(
      principal.userId,
      {
        connectionId: connection.connectionId,
        room,
        expiresAt: Date.now() + LEASE_MS,
      },
    );
    if (lease.blockedUntil !== undefined) return errorResponse(blockedError(lease.blockedUntil));
    if (!lease.accepted) {
      server.accept();
      SocketSet.send(
        server,
        encodeError(new GatewayError("too_many_connections", "too many connections for this user")),
      );
      SocketSet.close(server, Disconnects.tooManyConnections);
      return new Response(null, { status: 101, webSocket: client, headers });
    }
    this.sockets.accept(server, connection, [userTag(principal.userId)]);
    this.o.ctx.storage.sql.exec(
      "INSERT INTO participants (user_id, username) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET username = excluded.username",
      principal.userId,
      principal.username,
    );
    SocketSet.send(
      server,
      encodeFrame("connection_established", {
        connection_id: connection.connectionId,
        user_id: principal.userId,
        username: principal.username,
        is_online: true,
        connection_count: lease.connectionCount,
        last_seq: this.o.history.lastSeq(),
        heartbeat_interval_ms: this.o.config.heartbeatIntervalMs,
      }),
    );
    SocketSet.send(server, encodeFrame("consultation_state", await this.state(consultationId)));
    await this.ensureRenewal();
    // The token's expiry may come before the first lease renewal.
    await this.o.reschedule();
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  async message(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const connection = this.sockets.connectionOf(ws);
    if (connection === null) return;
    await this.frames.handle(ws, connection, raw, this.portFor(connection));
  }

  /** A consultation socket closed: end its lease so the user's count drops now, not at expiry. */
  async gone(ws: WebSocket): Promise<void> {
    if (this.ended.has(ws)) return;
    this.ended.add(ws);
    const connection = this.sockets.connectionOf(ws);
    if (connection === null) return;
    this.frames.forget(connection.connectionId);
    try {
      await this.o.env.USER_HUB.getByName(connection.userId).detachRemote(
        connection.userId,
        connection.connectionId,
      );
    } catch (err) {
      // The lease then simply expires (LEASE_MS) instead of ending now.
      console.warn(`RoomHub:gone: detach failed, the lease will expire: ${String(err)}`);
    }
  }

  /**
   * Close these sockets as terminated (their user's UserHub asked, and ends their leases itself,
   * so they are not detached from here); returns how many were open.
   */
  terminate(connectionIds: readonly string[], frame: string): number {
    let closed = 0;
    for (const connectionId of connectionIds) {
      for (const { ws } of this.sockets.entries(undefined, connectionId)) {
        this.ended.add(ws);
        this.frames.forget(connectionId);
        SocketSet.send(ws, frame);
        SocketSet.close(ws, Disconnects.terminated);
        closed += 1;
      }
    }
    return closed;
  }

  /** Token expiry and lease renewal. */
  async onAlarm(now: number): Promise<void> {
    for (const { ws, connection } of this.sockets.entries()) {
      if (connection.expiresAt + CLOCK_TOLERANCE_SECONDS <= now / 1000) {
        SocketSet.send(ws, encodeError(new GatewayError("token_expired", "token expired")));
        SocketSet.close(ws, Disconnects.tokenExpired);
        await this.gone(ws);
      }
    }
    const renewAt = await this.o.ctx.storage.get<number>("renew_at");
    if (renewAt !== undefined && renewAt <= now) await this.renew(now);
  }

  nextWakeAt(): number | null {
    let next = Number.POSITIVE_INFINITY;
    for (const { connection } of this.sockets.entries()) {
      next = Math.min(next, (connection.expiresAt + CLOCK_TOLERANCE_SECONDS) * 1000);
    }
    const renewAt = this.renewAt;
    if (renewAt !== null) next = Math.min(next, renewAt);
    return Number.isFinite(next) ? next : null;
  }

  onlineUserIds(): Set<string> {
    return new Set(this.sockets.entries().map((e) => e.connection.userId));
  }

  /** Send a frame to every consultation socket, except those of `exceptUserId`. */
  broadcast(frame: string, exceptUserId?: string): void {
    for (const { ws, connection } of this.sockets.entries()) {
      if (connection.userId !== exceptUserId) SocketSet.send(ws, frame);
    }
  }

  /**
   * Store a room message (a participant's `consultation_message`, or a `group_message` sent to
   * `consultation_{id}` by a member or by server code) in the room's history, so `resume`
   * replays it, and push it to every consultation socket; returns the users reached. A retried
   * send of the same message id is stored and pushed once.
   */
  post<K extends RoomMessageType>(type: K, messageId: string, data: ServerData[K]): string[] {
    // Only a consultation room has consultation sockets and a history to resume from.
    if (consultationIdOf(this.o.roomName()) === null) return [];
    const entries = this.sockets.entries();
    const json = JSON.stringify(data);
    const now = Date.now();
    const stored = this.o.history.append(messageId, type, json, now);
    const frame = encodeRawFrame(type, json, { seq: stored.seq, ts: new Date(now).toISOString() });
    const reached = new Set<string>();
    for (const { ws, connection } of entries) {
      if (!stored.duplicate) SocketSet.send(ws, frame);
      reached.add(connection.userId);
    }
    return [...reached];
  }

  // --- internals ------------------------------------------------------------------------------

  /** Cached copy of the stored renewal time, so nextWakeAt() stays synchronous. */
  private renewAt: number | null = null;

  private async ensureRenewal(): Promise<void> {
    const stored = await this.o.ctx.storage.get<number>("renew_at");
    this.renewAt = stored ?? Date.now() + RENEW_MS;
    if (stored === undefined) await this.o.ctx.storage.put("renew_at", this.renewAt);
    const alarm = await this.o.ctx.storage.getAlarm();
    if (alarm === null || alarm > this.renewAt) await this.o.ctx.storage.setAlarm(this.renewAt);
  }

  private async renew(now: number): Promise<void> {
    const byUser = new Map<string, string[]>();
    for (const { connection } of this.sockets.entries()) {
      byUser.set(connection.userId, [
        ...(byUser.get(connection.userId) ?? []),
        connection.connectionId,
      ]);
    }
    const room = this.o.roomName();
    await Promise.all(
      [...byUser].map(async ([userId, ids]) => {
        try {
          await this.o.env.USER_HUB.getByName(userId).renewLeases(
            userId,
            room,
            ids,
            now + LEASE_MS,
          );
        } catch (err) {
          console.warn(`RoomHub:renew: lease renewal for ${userId} failed: ${String(err)}`);
        }
      }),
    );
    if (byUser.size > 0) {
      this.renewAt = now + RENEW_MS;
      await this.o.ctx.storage.put("renew_at", this.renewAt);
    } else {
      this.renewAt = null;
      await this.o.ctx.storage.delete("renew_at");
    }
  }

  private connectionFor(principal: Principal, room: string): Connection {
    const connection = newConnection({
      connectionId: crypto.randomUUID(),
      userId: principal.userId,
      username: principal.username,
      isStaff: principal.isStaff,
      isSuperuser: principal.isSuperuser,
      grants: principal.groups,
      expiresAt: principal.expiresAt,
      connectedAt: Date.now(),
    });
    connection.groups = [room];
    return connection;
  }

  private async state(consultationId: string) {
    const rows = this.o.ctx.storage.sql
      .exec<{ user_id: string; username: string }>(
        "SELECT user_id, username FROM participants ORDER BY user_id",
      )
      .toArray();
    const online = this.onlineUserIds();
    const participants = await Promise.all(
      rows.map(async ({ user_id, username }) => ({
        user_id,
        username,
        is_online:
          online.has(user_id) || (await this.o.env.USER_HUB.getByName(user_id).status()).is_online,
      })),
    );
    return { consultation_id: consultationId, participants };
  }

  private portFor(connection: Connection): HubPort {
    return {
      connectionCount: async () =>
        (await this.o.env.USER_HUB.getByName(connection.userId).status()).connection_count,
      userStatuses: (userIds) =>
        Promise.all(
          userIds.map(async (userId) => {
            const s = await this.o.env.USER_HUB.getByName(userId).status();
            return { user_id: userId, is_online: s.is_online, last_seen: s.last_seen };
          }),
        ),
      verifyToken: (token) => verifyToken(token, this.o.config),
      saveConnection: (connection) => this.sockets.save(connection),
      reschedule: this.o.reschedule,
      replay: (sinceSeq) => this.o.history.replay(sinceSeq, Date.now()),
      postConsultation: (connection, message) => this.o.post(connection, message),
      // The consultation handler table never routes these here (they answer forbidden first).
      actors: {
        user: notOnConsultationSockets,
        shard: notOnConsultationSockets,
        room: notOnConsultationSockets,
      },
      verifySubscription: notOnConsultationSockets,
    };
  }
}

function notOnConsultationSockets(): never {
  throw new GatewayError("forbidden", "not available on consultation sockets");
}
