/**
 * The realtime client SDK for browsers and Node ≥ 22: one reconnecting socket to the gateway,
 * typed frames, request/reply by id, heartbeats, resume without loss or duplicates, and token
 * refresh. This file is the protocol (docs/protocol.md); sockets, backoff, timeouts and the send
 * queue are the transport's (transport.ts), mailbox ordering is mailbox-cursor.ts's.
 * No runtime imports beyond the platform: the protocol module is imported for types only.
 */

import { reconnectsAfter } from "../protocol/errors.ts";
import type {
  CommandType,
  ConnectionEstablished,
  ServerData,
  ServerType,
} from "../protocol/messages.ts";
import { type BackoffOptions, checkBackoff, DEFAULT_BACKOFF } from "./backoff.ts";
import {
  type CommandData,
  type Frame,
  isSequenced,
  PING,
  parseFrame,
  type ReplyOf,
  roomPositionOf,
} from "./frames.ts";
import { jwtExpiry } from "./jwt.ts";
import { MailboxCursor } from "./mailbox-cursor.ts";
import { RealtimeError } from "./realtime-error.ts";
import { RoomCursor, roomOfSocketUrl } from "./room-cursor.ts";
import {
  type CloseInfo,
  type ConnectionState,
  type Dial,
  type QueuedFrame,
  ReconnectingSocket,
  type SocketFactory,
} from "./transport.ts";

export type { BackoffOptions } from "./backoff.ts";
export type { CommandData, Frame, ReplyOf } from "./frames.ts";
export type { ClientErrorCode, RealtimeErrorCode } from "./realtime-error.ts";
export { RealtimeError } from "./realtime-error.ts";
export type { CloseInfo, ConnectionState, SocketFactory, SocketLike } from "./transport.ts";

// --- types -----------------------------------------------------------------------------------

/** `data` is optional for the commands that may go without it (ping, get_status). */
export type RequestArgs<K extends CommandType> =
  undefined extends CommandData<K>
    ? [data?: CommandData<K>, options?: RequestOptions]
    : [data: CommandData<K>, options?: RequestOptions];

export interface ClientEvents {
  state: { state: ConnectionState; previous: ConnectionState };
  /** Each time a socket ends, whether or not another attempt follows. */
  close: CloseInfo;
  /** Failures no promise reports: token provider, token refresh, resume, rejoin, unreadable frames. */
  error: RealtimeError;
  /**
   * Some room messages the client missed cannot be replayed: after a reconnect, a rejoined
   * group answered `complete: false` (older messages pruned, or the room's history lost: a new
   * `epoch`), or a room socket's room has a new epoch. Fetch what matters from your own API.
   */
  room_gap: RoomGap;
}

export interface RoomGap {
  group_name: string;
  /** The last group_seq the client had handled, in the epoch it had. */
  since_group_seq: number;
  /** The room's position now. */
  group_seq: number;
  epoch: string;
}

export type TokenSource = string | (() => string | Promise<string>);

export interface ClientOptions {
  /** The socket endpoint, e.g. `wss://rt.example.com/ws/user/`; `http(s)` is turned into `ws(s)`. */
  url: string;
  /**
   * A JWT, or a function returning one. The function is called before every connect and about
   * `refreshBeforeExpiryMs` before the current token's `exp`, so it should return a fresh token.
   */
  token: TokenSource;
  /**
   * How the token travels: `"protocol"` sends `Sec-WebSocket-Protocol: bearer, <jwt>`, which keeps
   * it out of URLs and access logs; `"query"` appends `?token=<jwt>`. Default `"protocol"`.
   */
  tokenTransport?: "protocol" | "query";
  /** The WebSocket class to use. Default: the global `WebSocket` (browsers, Node ≥ 22). */
  WebSocket?: SocketFactory;
  /** Connect as soon as the client is created. Default true; else call `connect()`. */
  autoConnect?: boolean;
  /**
   * The last `seq` an earlier session of this app handled (e.g. kept in storage): the first
   * connect then resumes after it. Default: none, so history before the first connect is not
   * replayed.
   */
  lastSeq?: number;
  /** Duration (in milliseconds) a request waits for its reply, queue time included. Default 10000. */
  requestTimeoutMs?: number;
  /** Duration (in milliseconds) from the start of an attempt to `connection_established`. Default 10000. */
  connectTimeoutMs?: number;
  /**
   * Duration (in milliseconds) between heartbeat pings. Default: the gateway's
   * `heartbeat_interval_ms` (25000 unless configured). A socket that delivers no frame for two
   * intervals is considered dead, closed and replaced.
   */
  heartbeatIntervalMs?: number;
  /** Duration (in milliseconds) before the token's `exp` at which it is refreshed. Default 60000. */
  refreshBeforeExpiryMs?: number;
  /**
   * Frames kept while no socket is open. When full, a new request is rejected with `queue_full`
   * (older queued frames keep their place). 0 rejects every request while disconnected. Default 100.
   */
  maxQueuedFrames?: number;
  /** Consecutive failed attempts before giving up (state `closed`). Default Infinity. */
  maxRetries?: number;
  /** Reconnect backoff; see BackoffOptions for units and defaults. */
  backoff?: Partial<BackoffOptions>;
  /** A source of randomness in [0, 1) for the backoff jitter. Default Math.random. */
  random?: () => number;
}

export interface RequestOptions {
  /** Duration (in milliseconds) to wait for the reply. Default: the client's `requestTimeoutMs`. */
  timeoutMs?: number;
}

// --- constants -----------------------------------------------------------------------------

/** setTimeout fires at once for delays over 2^31 - 1 ms (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Pending {
  frame: QueuedFrame;
  timer: ReturnType<typeof setTimeout>;
  settle: (result: Frame | RealtimeError) => void;
}

type FrameHandler = (frame: Frame) => void;

// --- the client ------------------------------------------------------------------------------

export function createClient(options: ClientOptions): RealtimeClient {
  return new RealtimeClient(options);
}

export class RealtimeClient {
  private readonly options: ClientOptions;
  private readonly url: string;
  private readonly tokenSource: TokenSource;
  private readonly tokenTransport: "protocol" | "query";
  private readonly requestTimeoutMs: number;
  private readonly heartbeatIntervalMs: number | undefined;
  private readonly refreshBeforeExpiryMs: number;
  private readonly transport: ReconnectingSocket;
  private readonly frameHandlers = new Map<string, Set<FrameHandler>>();
  private readonly eventHandlers = new Map<string, Set<(event: never) => void>>();
  private readonly pending = new Map<string, Pending>();
  private requestCount = 0;
  /** The token the current socket was opened with, or refreshed to. */
  private token: string | undefined;
  private readonly cursor: MailboxCursor<Frame & { seq: number }>;
  private readonly rooms = new RoomCursor();
  /** Groups this client joined (name → the subscription token it used), rejoined on reconnect. */
  private readonly joinedGroups = new Map<string, string | undefined>();
  /** On a room socket: the epoch of the room history its `seq` counts in. */
  private roomEpoch: string | undefined;
  private established: ConnectionEstablished | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ClientOptions) {
    const url = new URL(options.url);
    url.protocol = url.protocol.replace(/^http/, "ws");
    if (url.protocol !== "ws:" && url.protocol !== "wss:") {
      throw new TypeError(`url must be ws(s):// or http(s)://, got ${options.url}`);
    }
    if (typeof options.token !== "string" && typeof options.token !== "function") {
      throw new TypeError("token must be a string or a function returning one");
    }
    const WebSocketClass =
      options.WebSocket ?? (globalThis as { WebSocket?: SocketFactory }).WebSocket;
    if (!WebSocketClass) {
      throw new TypeError("no global WebSocket here: pass options.WebSocket (e.g. from `ws`)");
    }
    this.options = options;
    this.url = url.href;
    this.tokenSource = options.token;
    this.tokenTransport = options.tokenTransport ?? "protocol";
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs;
    this.refreshBeforeExpiryMs = options.refreshBeforeExpiryMs ?? 60_000;
    this.cursor = new MailboxCursor(options.lastSeq);
    const fixedToken = typeof options.token === "string";
    this.transport = new ReconnectingSocket({
      WebSocket: WebSocketClass,
      dial: () => this.dial(),
      backoff: checkBackoff({ ...DEFAULT_BACKOFF, ...options.backoff }),
      random: options.random ?? Math.random,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      maxQueuedFrames: options.maxQueuedFrames ?? 100,
      maxRetries: options.maxRetries ?? Number.POSITIVE_INFINITY,
      // The gateway's disconnect table says which closes reconnecting cannot help; a new token
      // helps after 4001 only when `token` is a function.
      isTerminal: (code) => !reconnectsAfter(code, !fixedToken),
      onState: (state, previous) => this.emit("state", { state, previous }),
      onText: (text) => this.receive(text),
      onClose: (info) => this.socketClosed(info),
      onDialError: (error) => this.emit("error", RealtimeError.wrap(error, "connect_failed")),
    });
    if (options.autoConnect !== false) this.connect();
  }

  get state(): ConnectionState {
    return this.transport.state;
  }

  /** The highest mailbox `seq` handled so far; keep it to pass as `lastSeq` next session. */
  get lastSeq(): number | undefined {
    return this.cursor.lastSeq;
  }

  /** The `connection_established` data of the open socket, if one is open. */
  get connection(): ConnectionEstablished | undefined {
    return this.established;
  }

  /** Connects (again, after `close()` or a terminal close); a no-op while connected or connecting. */
  connect(): void {
    this.transport.start();
  }

  /** Closes the socket for good; queued and pending requests are rejected with `closed`. */
  close(reason = "client closed"): void {
    this.transport.stop(1000, reason);
  }

  /**
   * Calls `handler` with every server frame of `type` (`"*"`: every frame) that is not the reply
   * to one of your requests; those settle the request's promise instead. Mailbox frames arrive
   * once each, in `seq` order, across reconnects. Returns the unsubscribe function.
   */
  on<K extends ServerType>(type: K, handler: (frame: Frame<K>) => void): () => void;
  on(type: "*", handler: (frame: Frame) => void): () => void;
  on(type: string, handler: (frame: never) => void): () => void {
    // The map is keyed by the frame type the handler was registered for, so a frame of that
    // type is what it will be called with; TypeScript cannot correlate key and value here.
    return subscribe(this.frameHandlers, type, handler as FrameHandler);
  }

  /** Lifecycle events: `state`, `close`, `error`. Returns the unsubscribe function. */
  onEvent<K extends keyof ClientEvents>(
    event: K,
    handler: (event: ClientEvents[K]) => void,
  ): () => void {
    return subscribe(this.eventHandlers, event, handler);
  }

  /** Resolves when a socket is open (at once if one is); rejects if the client closes first. */
  opened(): Promise<ConnectionEstablished> {
    const established = this.established;
    if (this.state === "open" && established) return Promise.resolve(established);
    if (this.state === "closed") return Promise.reject(RealtimeError.closed());
    return new Promise((resolve, reject) => {
      const offOpen = this.on("connection_established", (frame) => {
        offOpen();
        offClose();
        resolve(frame.data);
      });
      const offClose = this.onEvent("close", (info) => {
        if (info.willReconnect) return;
        offOpen();
        offClose();
        reject(RealtimeError.closed(info));
      });
    });
  }

  /**
   * Sends a command with a fresh `id` and resolves with the reply frame, or rejects with a
   * RealtimeError carrying the gateway's code (or `timeout`, `connection_closed`, `closed`,
   * `queue_full`). While disconnected the command waits in the send queue.
   */
  request<K extends CommandType>(type: K, ...args: RequestArgs<K>): Promise<ReplyOf<K>> {
    const [data, options] = args;
    return new Promise((resolve, reject) => {
      // Replies are matched by id, and the id was sent with this command's type, so the reply
      // frame is the one docs/protocol.md names for it (or an error, which rejects).
      const settle = (result: Frame | RealtimeError) =>
        result instanceof RealtimeError ? reject(result) : resolve(result as ReplyOf<K>);
      this.send(type, data, options?.timeoutMs ?? this.requestTimeoutMs, true, settle);
    });
  }

  /** A `ping` with an id, answered by the actor with `pong { server_time }`. */
  async ping(options?: RequestOptions): Promise<ServerData["pong"]> {
    return (await this.request("ping", undefined, options)).data;
  }

  async getStatus(userIds?: (string | number)[], options?: RequestOptions) {
    const data = userIds === undefined ? undefined : { user_ids: userIds };
    return (await this.request("get_status", data, options)).data;
  }

  async sendMessage(
    targetUserId: string | number,
    message: string,
    messageType?: string,
    options?: RequestOptions,
  ) {
    const data = { target_user_id: targetUserId, message, message_type: messageType };
    return (await this.request("send_message", data, options)).data;
  }

  /** Staff and superusers only; others get `forbidden`. */
  async broadcast(message: string, messageType?: string, options?: RequestOptions) {
    return (await this.request("broadcast", { message, message_type: messageType }, options)).data;
  }

  /**
   * `token` is an optional subscription JWT for a group the connection token does not grant.
   * After a reconnect the client joins the group again by itself, asking for the messages it
   * missed (`since_group_seq`); those it cannot get are reported as a `room_gap` event.
   */
  async joinGroup(groupName: string, token?: string, options?: RequestOptions) {
    const joined = (await this.request("join_group", { group_name: groupName, token }, options))
      .data;
    this.joinedGroups.set(joined.group_name, token);
    this.rooms.joined(joined.group_name, joined);
    return joined;
  }

  async leaveGroup(groupName: string, options?: RequestOptions) {
    const left = (await this.request("leave_group", { group_name: groupName }, options)).data;
    this.forgetGroup(left.group_name);
    return left;
  }

  async groupMessage(
    groupName: string,
    message: string,
    messageType?: string,
    options?: RequestOptions,
  ) {
    const data = { group_name: groupName, message, message_type: messageType };
    return (await this.request("group_message", data, options)).data;
  }

  /**
   * A client of its own for the room socket of `groupName` (`/ws/group/{name}/` on the same
   * gateway), with this client's token and settings unless `options` says otherwise. The room's
   * own actor holds that socket: the room's messages reach it without a hop through the user's
   * actor, and it counts toward the user's online status. Allowed as `join_group` is without a
   * subscription token; otherwise the connect fails with 403. Close it on its own.
   */
  room(groupName: string, options: Partial<Omit<ClientOptions, "url">> = {}): RealtimeClient {
    const { lastSeq: _mailboxSeq, ...settings } = this.options;
    return new RealtimeClient({ ...settings, ...options, url: roomUrl(this.url, groupName) });
  }

  /** On consultation sockets (`/ws/consultation/{id}/`) only. */
  async consultationMessage(message: string, options?: RequestOptions) {
    return (await this.request("consultation_message", { message }, options)).data;
  }

  // --- sending ---------------------------------------------------------------------------------

  /**
   * `queue`: an application request may wait in the send queue for the next socket. The client's
   * own requests (resume, refresh_token) belong to the socket they were made for, so they are
   * written now or not at all.
   */
  private send(
    type: CommandType,
    data: unknown,
    timeoutMs: number,
    queue: boolean,
    settle: (result: Frame | RealtimeError) => void,
  ): void {
    if (this.state === "closed") {
      settle(RealtimeError.closed());
      return;
    }
    this.requestCount += 1;
    const id = `c${this.requestCount}`;
    // JSON.stringify leaves out undefined members, e.g. an omitted message_type.
    const frame = { text: JSON.stringify(data === undefined ? { type, id } : { type, data, id }) };
    const sent = queue ? this.transport.enqueue(frame) : this.transport.write(frame.text);
    if (!sent) {
      settle(
        queue
          ? new RealtimeError("queue_full", `send queue is full; ${type} was not sent`)
          : new RealtimeError("connection_closed", `no open socket for ${type}`),
      );
      return;
    }
    const timer = setTimeout(() => {
      this.pending.delete(id);
      this.transport.withdraw(frame);
      settle(new RealtimeError("timeout", `no reply to ${type} within ${timeoutMs} ms`));
    }, timeoutMs);
    this.pending.set(id, { frame, timer, settle });
  }

  private async dial(): Promise<Dial> {
    const token = await this.provideToken();
    this.token = token;
    if (this.tokenTransport === "query") {
      const url = new URL(this.url);
      url.searchParams.set("token", token);
      return { url: url.href };
    }
    return { url: this.url, protocols: ["bearer", token] };
  }

  private async provideToken(): Promise<string> {
    let token: unknown;
    try {
      token = typeof this.tokenSource === "string" ? this.tokenSource : await this.tokenSource();
    } catch (error) {
      throw new RealtimeError("token_provider_failed", "the token provider failed", {
        cause: error,
      });
    }
    if (typeof token !== "string" || token === "") {
      throw new RealtimeError("token_provider_failed", "the token provider returned no token");
    }
    return token;
  }

  // --- receiving -------------------------------------------------------------------------------

  private receive(text: string): void {
    const frame = parseFrame(text);
    if (!frame) {
      this.emit("error", new RealtimeError("invalid_frame", "unreadable frame from the server"));
      return;
    }
    const id = typeof frame.id === "string" ? frame.id : "";
    const pending = this.pending.get(id);
    if (pending) {
      this.pending.delete(id);
      clearTimeout(pending.timer);
      pending.settle(frame.type === "error" ? RealtimeError.fromFrame(frame) : frame);
      return;
    }
    if (frame.type === "connection_established") this.opening(frame.data);
    if (frame.type === "group_left" && frame.data.reason === "forbidden") {
      this.forgetGroup(frame.data.group_name);
    }
    const room = isSequenced(frame) ? undefined : roomPositionOf(frame);
    if (isSequenced(frame)) this.cursor.accept(frame, this.deliver);
    else if (room) this.rooms.accept(room, () => this.dispatch(frame));
    else this.dispatch(frame);
  }

  private forgetGroup(groupName: string): void {
    this.joinedGroups.delete(groupName);
    this.rooms.forget(groupName);
  }

  private readonly deliver = (frame: Frame) => this.dispatch(frame);

  private dispatch(frame: Frame): void {
    for (const handlers of [this.frameHandlers.get(frame.type), this.frameHandlers.get("*")]) {
      for (const handler of [...(handlers ?? [])]) invoke(handler, frame);
    }
  }

  private emit<K extends keyof ClientEvents>(event: K, value: ClientEvents[K]): void {
    for (const handler of [...(this.eventHandlers.get(event) ?? [])]) {
      // Registered under `event` by onEvent, so it takes that event's value.
      invoke(handler as (value: ClientEvents[K]) => void, value);
    }
  }

  // --- connection lifecycle --------------------------------------------------------------------

  private opening(established: ConnectionEstablished): void {
    this.established = established;
    // A first frame at once, answered by the runtime without waking the actor: workerd completes
    // a close the server starts (token expiry, the connection cap, abuse) only ~10 s late on a
    // hibernatable socket whose client never sent a data frame (docs/design.md, "Server-initiated
    // close"); after one frame it completes in milliseconds.
    this.transport.write(PING);
    this.roomSocketEpoch(established);
    const since = this.cursor.opened(established.last_seq);
    if (since !== undefined) this.resume(since);
    for (const [groupName, token] of this.joinedGroups) this.rejoin(groupName, token);
    const interval = this.heartbeatIntervalMs ?? established.heartbeat_interval_ms;
    clearInterval(this.heartbeatTimer);
    if (interval > 0) {
      this.heartbeatTimer = setInterval(() => this.transport.write(PING), interval);
      this.transport.watch(2 * interval);
    }
    this.scheduleRefresh();
    // After the resume request, so that it goes out before the queued frames.
    this.transport.ready();
  }

  /**
   * Asks for what was stored after `since`; mailbox frames are held until `resumed` (or a
   * failure) arrives, then delivered in order (see MailboxCursor).
   */
  private resume(since: number): void {
    this.cursor.hold();
    this.send("resume", { since_seq: since }, this.requestTimeoutMs, false, (result) => {
      this.cursor.release(this.deliver);
      if (!(result instanceof RealtimeError)) this.dispatch(result);
      else if (result.code !== "connection_closed" && result.code !== "closed") {
        this.emit("error", result);
      }
    });
  }

  /**
   * On a room socket the `seq` counts in the room's epoch: a new epoch (the room's history was
   * lost) starts the count over, and what was missed is a gap.
   */
  private roomSocketEpoch(established: ConnectionEstablished): void {
    const { epoch, group_seq } = established;
    if (epoch === undefined || group_seq === undefined) return;
    const since = this.cursor.lastSeq;
    if (this.roomEpoch !== undefined && this.roomEpoch !== epoch && since !== undefined) {
      this.cursor.restart();
      const group_name = roomOfSocketUrl(this.url);
      this.emit("room_gap", { group_name, since_group_seq: since, group_seq, epoch });
    }
    this.roomEpoch = epoch;
  }

  /**
   * Joins a group again on a new socket, asking for what came after the last group_seq seen;
   * the group's frames are held until `group_joined`, then delivered in order.
   */
  private rejoin(groupName: string, token: string | undefined): void {
    const position = this.rooms.positionOf(groupName);
    const data = {
      group_name: groupName,
      token,
      since_group_seq: position?.group_seq,
      epoch: position?.epoch,
    };
    this.rooms.hold(groupName);
    this.send("join_group", data, this.requestTimeoutMs, false, (result) => {
      if (result instanceof RealtimeError) {
        this.rooms.release(groupName);
        if (result.code === "connection_closed" || result.code === "closed") return;
        // Refused now (a subscription token that expired, rights withdrawn): no longer joined.
        this.forgetGroup(groupName);
        this.emit("error", result);
        return;
      }
      if (result.type !== "group_joined") return;
      this.rooms.joined(groupName, result.data);
      if (position && !result.data.complete) {
        this.emit("room_gap", {
          group_name: groupName,
          since_group_seq: position.group_seq,
          group_seq: result.data.group_seq,
          epoch: result.data.epoch,
        });
      }
      this.dispatch(result);
    });
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    const exp = typeof this.tokenSource === "function" && this.token && jwtExpiry(this.token);
    if (!exp) return;
    const delay = exp * 1000 - this.refreshBeforeExpiryMs - Date.now();
    this.refreshTimer = setTimeout(() => void this.refresh(exp), clampDelay(delay));
  }

  /** Sends `refresh_token` with a fresh token; on failure tries again at half the time left. */
  private async refresh(exp: number): Promise<void> {
    const connection = this.established;
    const retry = (error: RealtimeError) => {
      this.emit("error", error);
      const left = exp * 1000 - Date.now();
      if (connection === this.established && left > 1000) {
        this.refreshTimer = setTimeout(() => void this.refresh(exp), clampDelay(left / 2));
      }
    };
    let token: string;
    try {
      token = await this.provideToken();
    } catch (error) {
      return retry(RealtimeError.wrap(error, "token_provider_failed"));
    }
    // A socket opened meanwhile was opened with an even fresher token.
    if (connection !== this.established) return;
    this.send("refresh_token", { token }, this.requestTimeoutMs, false, (result) => {
      if (result instanceof RealtimeError) {
        if (result.code !== "connection_closed" && result.code !== "closed") retry(result);
        return;
      }
      this.token = token;
      this.dispatch(result);
      this.scheduleRefresh();
    });
  }

  private socketClosed(info: CloseInfo): void {
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.refreshTimer);
    this.established = undefined;
    // A request written to this socket will never be answered; one still queued may be sent
    // on the next socket. On a terminal close the transport has already emptied the queue.
    for (const [id, pending] of this.pending) {
      if (this.transport.isQueued(pending.frame)) continue;
      this.pending.delete(id);
      clearTimeout(pending.timer);
      pending.settle(
        info.willReconnect
          ? new RealtimeError("connection_closed", `socket closed (${info.code}) before the reply`)
          : RealtimeError.closed(info),
      );
    }
    this.emit("close", info);
  }
}

// --- helpers ---------------------------------------------------------------------------------

/** The room socket URL of `groupName` on the gateway of `socketUrl` (any of its socket paths). */
export function roomUrl(socketUrl: string, groupName: string): string {
  const url = new URL(socketUrl);
  const mount = url.pathname.replace(/\/ws\/(user|consultation\/[^/]+|group\/[^/]+)\/?$/, "");
  url.pathname = `${mount.replace(/\/$/, "")}/ws/group/${encodeURIComponent(groupName)}/`;
  url.search = "";
  url.hash = "";
  return url.href;
}

function subscribe<H>(map: Map<string, Set<H>>, key: string, handler: H): () => void {
  let handlers = map.get(key);
  if (!handlers) {
    handlers = new Set();
    map.set(key, handlers);
  }
  handlers.add(handler);
  return () => {
    map.get(key)?.delete(handler);
  };
}

/** A throwing handler must not break delivery to the others; its error is reported like a DOM listener's. */
function invoke<T>(handler: (value: T) => void, value: T): void {
  try {
    handler(value);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

function clampDelay(ms: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(0, ms));
}
