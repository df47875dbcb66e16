/**
 * The sockets of one actor, handled the same way whoever holds them: UserHub (a user's
 * sockets) and RoomHub (a room's sockets). The host does what every socket needs (the
 * connection cap's refusal, the connection and its attachment, `connection_established`,
 * inbound frames, the token-expiry deadline, reciprocated closes, each socket's end handled
 * once); the actor says what is its own through hooks.
 *
 * Everything in memory here is a cache that can vanish at any moment (hibernation, eviction):
 * the sockets (`ctx.getWebSockets()`), their attachments and storage are the truth.
 */
import { CLOCK_TOLERANCE_SECONDS, verifyToken } from "../core/auth.ts";
import type { Config } from "../core/config.ts";
import { type Connection, newConnection } from "../core/connection.ts";
import type { Deadlines } from "../core/deadlines.ts";
import type { HandlerTable, HubPort } from "../core/handlers/index.ts";
import { decodeIdentity, IDENTITY_HEADER } from "../core/identity.ts";
import type { NewTargets } from "../core/new-targets.ts";
import type { UserBudget } from "../core/user-budget.ts";
import { encodeError, encodeFrame } from "../protocol/codec.ts";
import { Disconnects, GatewayError } from "../protocol/errors.ts";
import type { RoomPosition, UserStatus } from "../protocol/messages.ts";
import { callActor } from "./actors-from-env.ts";
import { InboundFrames } from "./inbound-frames.ts";
import { SocketSet } from "./socket-set.ts";

/** A new socket let in: what its `connection_established` frame reports. */
export interface Admission {
  /** The user's connections, read once the socket is accepted. */
  connectionCount(): number;
  /** The last sequence number of the messages this socket can `resume` from. */
  lastSeq: number;
  /** Room sockets: the room's position (its last `group_seq` and `epoch`). */
  room?: RoomPosition;
}

export interface SocketHooks {
  /** Before the socket is accepted: null refuses it (the user's connection cap, 4009). */
  admit(connection: Connection): Promise<Admission | null>;
  /** After `connection_established` was sent: the actor's own first frames and bookkeeping. */
  onConnect(ws: WebSocket, connection: Connection): Promise<void>;
  /** What a command on this connection may ask beyond the host's part (see `port`). */
  onCommand(connection: Connection): HolderPort;
  /** The socket ended (closed, failed or expired); called once per socket. */
  onGone(connection: Connection): Promise<void>;
}

/** The part of a command's port every host answers the same way. */
type HostPort = Pick<HubPort, "userStatuses" | "verifyToken" | "saveConnection" | "reschedule">;

/** The part only the holding actor can answer. */
export type HolderPort = Omit<HubPort, keyof HostPort>;

export interface SocketHostOptions {
  ctx: DurableObjectState;
  env: Env;
  config: Config;
  /** The actor's name in logs. */
  label: string;
  handlers: HandlerTable;
  deadlines: Deadlines;
  hooks: SocketHooks;
  /** Given by an actor whose sockets all belong to one user (UserHub). */
  budget?: { user: UserBudget; targets: NewTargets };
}

/** What one upgrade adds to the connection: the groups it starts in (a room socket's room). */
export interface Upgrade {
  groups?: string[];
}

/**
 * Other users' statuses, in the order asked. Stub calls go through callActor, so a socket sees
 * the same codes as the HTTP API (an overloaded actor is `unavailable`).
 */
export function userStatuses(env: Pick<Env, "USER_HUB">, userIds: string[]): Promise<UserStatus[]> {
  return Promise.all(
    userIds.map(async (userId) => {
      const status = await callActor(() => env.USER_HUB.getByName(userId).status());
      return { user_id: userId, is_online: status.is_online, last_seen: status.last_seen };
    }),
  );
}

export class SocketHost {
  readonly sockets: SocketSet;
  private readonly options: SocketHostOptions;
  private readonly frames: InboundFrames;
  /** Sockets whose end was already handled (an error then a close, our close then theirs). */
  private readonly ended = new WeakSet<WebSocket>();

  constructor(options: SocketHostOptions) {
    this.options = options;
    this.sockets = new SocketSet(options.ctx, options.label);
    this.frames = new InboundFrames(
      options.config,
      options.handlers,
      options.label,
      options.budget,
    );
    options.deadlines.register("token expiries", {
      nextAt: () => this.nextExpiry(),
      run: (now) => this.expireTokens(now),
    });
  }

  /** Accept the upgrade the Worker forwarded (its verified identity in a header). */
  async upgrade(request: Request, upgrade: Upgrade = {}): Promise<Response> {
    const identity = decodeIdentity(request.headers.get(IDENTITY_HEADER));
    if (identity === null) {
      // Only the Worker reaches this; a missing identity is a wiring bug, not a client error.
      return new Response("identity missing", { status: 500 });
    }
    const { principal, source } = identity;
    const headers = source === "subprotocol" ? { "Sec-WebSocket-Protocol": "bearer" } : undefined;
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
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
    if (upgrade.groups !== undefined) connection.groups = upgrade.groups;
    const admission = await this.options.hooks.admit(connection);
    if (admission === null) {
      // Not hibernatable: this socket only lives long enough to be told why it is refused.
      server.accept();
      server.send(
        encodeError(new GatewayError("too_many_connections", "too many connections for this user")),
      );
      SocketSet.close(server, Disconnects.tooManyConnections);
      return new Response(null, { status: 101, webSocket: client, headers });
    }
    this.sockets.accept(server, connection);
    SocketSet.send(
      server,
      encodeFrame("connection_established", {
        connection_id: connection.connectionId,
        user_id: connection.userId,
        username: connection.username,
        is_online: true,
        connection_count: admission.connectionCount(),
        last_seq: admission.lastSeq,
        heartbeat_interval_ms: this.options.config.heartbeatIntervalMs,
        ...admission.room,
      }),
    );
    await this.options.hooks.onConnect(server, connection);
    await this.options.deadlines.reschedule();
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  async message(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const connection = this.sockets.connectionOf(ws);
    if (connection === null) return;
    await this.frames.handle(ws, connection, raw, this.port(connection));
  }

  async closed(ws: WebSocket, code: number, reason: string): Promise<void> {
    SocketSet.reciprocate(ws, code, reason);
    await this.gone(ws);
  }

  async failed(ws: WebSocket, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    console.warn(`${this.options.label}:webSocketError`, message);
    SocketSet.close(ws, Disconnects.socketError);
    await this.gone(ws);
  }

  /** Local connections (one entry per open socket). */
  count(): number {
    return this.sockets.entries().length;
  }

  // --- internals ------------------------------------------------------------------------------

  private port(connection: Connection): HubPort {
    const { env, config, deadlines } = this.options;
    return {
      userStatuses: (userIds) => userStatuses(env, userIds),
      verifyToken: (token) => verifyToken(token, config),
      saveConnection: (changed) => this.sockets.save(changed),
      reschedule: () => deadlines.reschedule(),
      ...this.options.hooks.onCommand(connection),
    };
  }

  private async gone(ws: WebSocket): Promise<void> {
    if (this.ended.has(ws)) return;
    this.ended.add(ws);
    const connection = this.sockets.connectionOf(ws);
    if (connection === null) return;
    this.frames.forget(connection.connectionId);
    await this.options.hooks.onGone(connection);
    await this.options.deadlines.reschedule();
  }

  private nextExpiry(): number | null {
    let next: number | null = null;
    for (const { connection } of this.sockets.entries()) {
      const at = (connection.expiresAt + CLOCK_TOLERANCE_SECONDS) * 1000;
      next = next === null ? at : Math.min(next, at);
    }
    return next;
  }

  /** Tell each socket whose token expired (tolerance included) why, then close it. */
  private async expireTokens(now: number): Promise<void> {
    for (const { ws, connection } of this.sockets.entries()) {
      if (connection.expiresAt + CLOCK_TOLERANCE_SECONDS <= now / 1000) {
        SocketSet.send(ws, encodeError(new GatewayError("token_expired", "token expired")));
        SocketSet.close(ws, Disconnects.tokenExpired);
        await this.gone(ws);
      }
    }
  }
}
