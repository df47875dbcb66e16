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
import type { HandlerTable, HoldingActor } from "../app/socket/index.ts";
import type { Config } from "../core/config.ts";
import { type Connection, newConnection } from "../core/connection.ts";
import type { Deadlines } from "../core/deadlines.ts";
import { decodeIdentity, IDENTITY_HEADER } from "../core/identity.ts";
import type { NewTargets } from "../core/new-targets.ts";
import type { UserBudget } from "../core/user-budget.ts";
import { errorResponse } from "../http/errors.ts";
import { encodeError, encodeFrame } from "../protocol/codec.ts";
import { Disconnects, GatewayError } from "../protocol/errors.ts";
import type { RoomPosition } from "../protocol/messages.ts";
import { InboundFrames } from "./inbound-frames.ts";
import { flushAlarmFor, flushMeter } from "./meter.ts";
import { SocketSet } from "./socket-set.ts";
import { TokenExpiries } from "./token-expiries.ts";

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
  /** Before accepting: null refuses the socket (cap, 4009); a GatewayError, the upgrade (403). */
  admit(connection: Connection): Promise<Admission | null>;
  /** After `connection_established` was sent: the actor's own first frames and bookkeeping. */
  onConnect(ws: WebSocket, connection: Connection): Promise<void>;
  /** What a command on this connection may ask beyond what the host answers (see `holder`). */
  onCommand(connection: Connection): HolderPart;
  /** The socket ended (closed, failed or expired); called once per socket. */
  onGone(connection: Connection): Promise<void>;
}

/** What every host answers the same way when a command asks its holding actor. */
type HostPart = Pick<HoldingActor, "saveConnection" | "reschedule">;

/** The part only the holding actor can answer. */
export type HolderPart = Omit<HoldingActor, keyof HostPart>;

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

export class SocketHost {
  readonly sockets: SocketSet;
  private readonly options: SocketHostOptions;
  private readonly frames: InboundFrames;
  /** Sockets whose end was already handled (an error then a close, our close then theirs). */
  private readonly ended = new WeakSet<WebSocket>();
  /** This actor's id as text (asked on every delivery, for the meter's flush alarm). */
  private readonly actorId: string;
  private readonly expiries: TokenExpiries;

  constructor(options: SocketHostOptions) {
    this.options = options;
    this.sockets = new SocketSet(options.ctx, options.label);
    this.actorId = options.ctx.id.toString();
    this.expiries = new TokenExpiries(this.sockets, (ws) => this.gone(ws));
    this.frames = new InboundFrames(
      options.config,
      options.handlers,
      options.label,
      options.budget,
    );
    options.deadlines.register("token expiries", {
      nextAt: () => this.expiries.next(),
      run: (now) => this.expiries.expire(now),
    });
    options.deadlines.register("metrics", {
      nextAt: () => this.flushAlarm(),
      run: () => flushMeter(options.env, options.label),
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
    let admission: Admission | null;
    try {
      admission = await this.options.hooks.admit(connection);
    } catch (err) {
      if (err instanceof GatewayError) return errorResponse(err);
      throw err;
    }
    if (admission === null) {
      // Not hibernatable: this socket only lives long enough to be told why it is refused.
      server.accept();
      SocketSet.send(
        server,
        encodeError(new GatewayError("too_many_connections", "too many connections for this user")),
      );
      SocketSet.close(server, Disconnects.tooManyConnections);
      return new Response(null, { status: 101, webSocket: client, headers });
    }
    this.sockets.accept(server, connection);
    this.expiries.added(connection);
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
    await this.frames.handle(ws, connection, raw, this.holder(connection));
    await this.options.deadlines.ensureBy(this.flushAlarm());
  }

  /** When this actor's alarm must hand the isolate's meter over (null: another actor's does). */
  flushAlarm(): number | null {
    return flushAlarmFor(this.actorId, Date.now());
  }

  /** Send `frame` on these sockets (default: all), close them as terminated; how many were open. */
  async terminate(frame: string, connectionIds?: readonly string[]): Promise<number> {
    const open =
      connectionIds === undefined
        ? this.sockets.entries()
        : connectionIds.flatMap((id) => this.sockets.entries(undefined, id));
    for (const { ws } of open) {
      SocketSet.send(ws, frame);
      SocketSet.close(ws, Disconnects.terminated);
      await this.gone(ws);
    }
    return open.length;
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

  private holder(connection: Connection): HoldingActor {
    const { deadlines } = this.options;
    return {
      saveConnection: (changed) => {
        this.sockets.save(changed);
        this.expiries.recount();
      },
      reschedule: () => deadlines.reschedule(),
      ...this.options.hooks.onCommand(connection),
    };
  }

  private async gone(ws: WebSocket): Promise<void> {
    if (this.ended.has(ws)) return;
    this.ended.add(ws);
    this.sockets.forget(ws);
    const connection = this.sockets.connectionOf(ws);
    if (connection === null) return;
    this.frames.forget(connection.connectionId);
    await this.options.hooks.onGone(connection);
    await this.options.deadlines.reschedule();
  }
}
