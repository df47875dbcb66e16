/**
 * UserHub: one Durable Object per user, holding every socket of that user with the
 * Hibernation API. It moves frames between sockets, storage and the core; protocol rules live
 * in src/core and src/protocol.
 *
 * Everything in memory here is a cache that can vanish at any moment (hibernation, eviction):
 * the sockets themselves (`ctx.getWebSockets()`) and their attachments are the truth.
 */
import { DurableObject } from "cloudflare:workers";
import { CLOCK_TOLERANCE_SECONDS, type Principal, verifyToken } from "../core/auth.ts";
import { type Config, loadConfig } from "../core/config.ts";
import { type Connection, newConnection, parseConnection } from "../core/connection.ts";
import { type CommandContext, DEFAULT_HANDLERS, dispatch } from "../core/handlers/index.ts";
import { decodeIdentity, IDENTITY_HEADER } from "../core/identity.ts";
import { PresenceKeeper } from "../core/presence-keeper.ts";
import { TokenBucket } from "../core/ratelimit.ts";
import { createMirrors } from "../mirrors/index.ts";
import { decodeFrame, encodeError, encodeFrame } from "../protocol/codec.ts";
import { CloseCode, GatewayError, toGatewayError } from "../protocol/errors.ts";
import type { ServerData, ServerType, UserStatus } from "../protocol/messages.ts";

/** The exact ping frame the runtime answers without waking the actor (PROTOCOL.md). */
export const AUTO_PING = '{"type":"ping"}';
export const AUTO_PONG = '{"type":"pong"}';

/** While online, how often the Redis TTL is refreshed and the set reconciled: 4 minutes. */
const PRESENCE_REFRESH_MS = 4 * 60_000;

export interface UserSnapshot extends UserStatus {
  connection_count: number;
}

export class UserHub extends DurableObject<Env> {
  private readonly config: Config;
  /** Per-connection rate buckets; lost on hibernation, which only forgives a client. */
  private readonly buckets = new Map<string, TokenBucket>();
  /** Parsed attachments, rebuilt lazily after a wake. */
  private readonly connections = new WeakMap<WebSocket, Connection>();
  private readonly presence: PresenceKeeper;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = loadConfig(env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(AUTO_PING, AUTO_PONG));
    this.presence = new PresenceKeeper({
      storage: ctx.storage,
      mirrors: createMirrors(this.config),
      reportLag: (target, userId, since) =>
        env.MIRROR_MONITOR.getByName("global").report(target, userId, since),
      connectionIds: () => this.connectionIds(),
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
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];

    if (this.openSockets().length >= this.config.maxConnectionsPerUser) {
      // Not hibernatable: this socket only lives long enough to be told why it is refused.
      server.accept();
      const error = new GatewayError("too_many_connections", "too many connections for this user");
      server.send(encodeError(error));
      server.close(CloseCode.tooManyConnections, "too many connections");
      return new Response(null, { status: 101, webSocket: client, headers });
    }

    await this.presence.rememberProfile({
      userId: principal.userId,
      username: principal.username,
      isStaff: principal.isStaff,
      isSuperuser: principal.isSuperuser,
    });
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
    this.ctx.acceptWebSocket(server, [connection.connectionId]);
    server.serializeAttachment(connection);
    this.connections.set(server, connection);

    const count = this.openSockets().length;
    this.sendTo(server, "connection_established", {
      connection_id: connection.connectionId,
      user_id: principal.userId,
      username: principal.username,
      is_online: true,
      connection_count: count,
      last_seq: 0,
      heartbeat_interval_ms: this.config.heartbeatIntervalMs,
    });
    this.announceCount(server);
    await this.presence.connectionsChanged();
    await this.reschedule();
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const connection = this.connectionOf(ws);
    if (connection === null) return;
    const now = Date.now();
    const taken = this.bucketOf(connection, now).take(now);
    if (!taken.ok) {
      const error = new GatewayError("rate_limited", "too many frames", {
        retryAfterMs: taken.retryAfterMs,
      });
      this.send(ws, encodeError(error));
      if (taken.abusive) this.closeSocket(ws, CloseCode.policyViolation, "rate limit abuse");
      return;
    }
    const decoded = decodeFrame(message, this.config.maxFrameBytes);
    if (!decoded.ok) {
      this.send(ws, encodeError(decoded.error, decoded.id));
      return;
    }
    const { command } = decoded;
    const ctx: CommandContext = {
      connection,
      config: this.config,
      hub: this.port,
      now: Date.now,
      requestId: command.id,
      reply: (type, data) => this.sendTo(ws, type, data, command.id),
    };
    try {
      await dispatch(DEFAULT_HANDLERS, ctx, command);
    } catch (err) {
      const error = toGatewayError(err);
      if (error.code === "internal") console.error(`UserHub:webSocketMessage:${command.type}`, err);
      this.send(ws, encodeError(error, command.id));
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // The runtime does not answer a peer's close frame by itself here (PLATFORM-NOTES): without
    // this the client waits for its own timeout and ends with 1006. 1005/1006 cannot be sent.
    this.closeSocket(ws, code === 1005 || code === 1006 ? CloseCode.normal : code, reason);
    await this.socketGone(ws);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    console.warn("UserHub:webSocketError", error instanceof Error ? error.message : String(error));
    this.closeSocket(ws, CloseCode.internalError, "socket error");
    await this.socketGone(ws);
  }

  override async alarm(): Promise<void> {
    const nowSeconds = Date.now() / 1000;
    for (const ws of this.openSockets()) {
      const connection = this.connectionOf(ws);
      if (connection && connection.expiresAt + CLOCK_TOLERANCE_SECONDS <= nowSeconds) {
        this.send(ws, encodeError(new GatewayError("token_expired", "token expired")));
        this.closeSocket(ws, CloseCode.tokenInvalid, "token expired");
        await this.socketGone(ws);
      }
    }
    await this.presence.onAlarm();
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

  // --- internals ------------------------------------------------------------------------------

  private readonly port = {
    connectionCount: () => this.openSockets().length,
    userStatuses: (userIds: string[]) => this.userStatuses(userIds),
    verifyToken: (token: string): Promise<Principal> => verifyToken(token, this.config),
    saveConnection: (connection: Connection) => this.saveConnection(connection),
    reschedule: () => this.reschedule(),
  };

  private async userStatuses(userIds: string[]): Promise<UserStatus[]> {
    return Promise.all(
      userIds.map(async (userId) => {
        const snapshot = await this.env.USER_HUB.getByName(userId).status();
        return { user_id: userId, is_online: snapshot.is_online, last_seen: snapshot.last_seen };
      }),
    );
  }

  private connectionIds(): string[] {
    const ids: string[] = [];
    for (const ws of this.openSockets()) {
      const connection = this.connectionOf(ws);
      if (connection) ids.push(connection.connectionId);
    }
    return ids;
  }

  /** Sockets that are open; `getWebSockets()` may still list CLOSING ones (PLATFORM-NOTES). */
  private openSockets(except?: WebSocket): WebSocket[] {
    return this.ctx
      .getWebSockets()
      .filter((ws) => ws !== except && ws.readyState === WebSocket.OPEN);
  }

  private connectionOf(ws: WebSocket): Connection | null {
    const cached = this.connections.get(ws);
    if (cached) return cached;
    const parsed = parseConnection(ws.deserializeAttachment());
    if (parsed === null) {
      // An attachment we cannot read (older format, corruption): the client reconnects cleanly.
      console.warn("UserHub:connectionOf: unreadable attachment, closing socket");
      this.closeSocket(ws, CloseCode.internalError, "session lost");
      return null;
    }
    this.connections.set(ws, parsed);
    return parsed;
  }

  private saveConnection(connection: Connection): void {
    const [ws] = this.ctx.getWebSockets(connection.connectionId);
    if (ws) {
      ws.serializeAttachment(connection);
      this.connections.set(ws, connection);
    }
  }

  private bucketOf(connection: Connection, now: number): TokenBucket {
    let bucket = this.buckets.get(connection.connectionId);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.config.rateLimit, now);
      this.buckets.set(connection.connectionId, bucket);
    }
    return bucket;
  }

  private async socketGone(ws: WebSocket): Promise<void> {
    const connection = this.connections.get(ws) ?? parseConnection(ws.deserializeAttachment());
    if (connection) this.buckets.delete(connection.connectionId);
    this.announceCount(ws);
    await this.presence.connectionsChanged();
    await this.reschedule();
  }

  /** `status_changed` to this user's other sockets whenever the count changes. */
  private announceCount(changed: WebSocket): void {
    const others = this.openSockets(changed);
    const count = changed.readyState === WebSocket.OPEN ? others.length + 1 : others.length;
    const frame = encodeFrame("status_changed", {
      user_id: this.connectionOf(changed)?.userId ?? "",
      is_online: count > 0,
      connection_count: count,
      last_seen: null,
    });
    for (const ws of others) this.send(ws, frame);
  }

  /** The next deadline: the earliest token expiry (plus tolerance) among open sockets. */
  private async reschedule(): Promise<void> {
    let next = Number.POSITIVE_INFINITY;
    for (const ws of this.openSockets()) {
      const connection = this.connectionOf(ws);
      if (connection)
        next = Math.min(next, (connection.expiresAt + CLOCK_TOLERANCE_SECONDS) * 1000);
    }
    if (next === Number.POSITIVE_INFINITY) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }

  private sendTo<K extends ServerType>(
    ws: WebSocket,
    type: K,
    data: ServerData[K],
    id?: string | number,
  ): void {
    this.send(ws, encodeFrame(type, data, { id }));
  }

  private send(ws: WebSocket, frame: string): void {
    try {
      ws.send(frame);
    } catch {
      // The socket closed between our check and the send; its close event cleans up.
    }
  }

  private closeSocket(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code, reason);
    } catch {
      // Already closed.
    }
  }
}
