/**
 * The server SDK: the gateway's HTTP API as typed functions, named after the original
 * `user_messaging_service` and `user_online_service`. Runs wherever `fetch` does (Node ≥ 18,
 * Workers, Deno, Bun) and imports nothing else.
 *
 * ```ts
 * const realtime = createRealtime({ baseUrl: "https://realtime.example.com", apiKey });
 * await realtime.messaging.sendNotificationToUser(42, { title: "Hi", message: "Welcome" });
 * ```
 *
 * Every failure is a `RealtimeApiError` whose `code` is the gateway's (`user_not_found`, …) or
 * `timeout` / `network_error` / `invalid_response`.
 */
import { RealtimeApiError } from "./errors.ts";

export { RealtimeApiError, type RealtimeApiErrorCode } from "./errors.ts";
export {
  SIGNATURE_HEADER,
  SIGNATURE_TOLERANCE_SECONDS,
  signWebhook,
  verifyWebhookSignature,
} from "./webhook-signature.ts";

/**
 * A user id: 1-64 characters of `[A-Za-z0-9_.:-]`; integers (as Django ids) are accepted when
 * they are safe integers (|n| <= 2^53 - 1); larger ids must be strings.
 */
export type UserId = string | number;

export interface NotificationInput {
  /** 1-256 characters. */
  title: string;
  /** 1-8,192 characters. */
  message: string;
  /** Any JSON value, passed to the client as `data`. Default `{}`. */
  data?: unknown;
}

export interface DirectMessageInput {
  /** The user the message is from (trusted: the API key speaks for any user). */
  fromUserId: UserId;
  /** 1-8,192 characters. */
  message: string;
  /** Default `"chat_message"`. */
  messageType?: string;
}

export interface BroadcastInput {
  /** 1-8,192 characters. */
  message: string;
  /** Default `"system_broadcast"`. */
  messageType?: string;
}

export interface GroupMessageInput {
  messageType: string;
  /** Any JSON value, passed to the members as `data`. */
  data: unknown;
}

export interface NotificationSent {
  notificationId: string;
  /** At least one of the user's sockets received it (otherwise it waits in their mailbox). */
  delivered: boolean;
  connectionCount: number;
}

export interface MessageSent {
  messageId: string;
  /** At least one of the user's sockets received it (otherwise it waits in their mailbox). */
  delivered: boolean;
}

export interface FanoutSent {
  messageId: string;
  /** How many users it reached. */
  recipients: number;
}

export interface UserStatus {
  userId: string;
  isOnline: boolean;
  connectionCount: number;
  /** ISO 8601, or null when never seen offline. */
  lastSeen: string | null;
}

export interface OnlineUser {
  userId: string;
  connectionCount: number;
}

/** `user_messaging_service`. */
export interface RealtimeMessaging {
  sendNotificationToUser(
    userId: UserId,
    notification: NotificationInput,
  ): Promise<NotificationSent>;
  sendMessageToUser(userId: UserId, message: DirectMessageInput): Promise<MessageSent>;
  broadcastSystemMessage(broadcast: BroadcastInput): Promise<FanoutSent>;
  sendToGroup(groupName: string, message: GroupMessageInput): Promise<FanoutSent>;
}

/** `user_online_service`. */
export interface RealtimeOnline {
  /** false for a user the gateway does not know. */
  isUserOnline(userId: UserId): Promise<boolean>;
  /** 0 for a user the gateway does not know. */
  getUserConnectionCount(userId: UserId): Promise<number>;
  getAllOnlineUsers(): Promise<OnlineUser[]>;
  /** The full status; throws `user_not_found` for a user the gateway does not know. */
  getUserStatus(userId: UserId): Promise<UserStatus>;
}

export interface TerminateOptions {
  /** 1-256 characters, shown to the user in an `error` frame just before the close. */
  reason?: string;
  /**
   * Refuse the user's new sockets (HTTP 403 `forbidden`) until then: a Date or an ISO 8601
   * timestamp with a time zone, in the future. Replaces an earlier block.
   */
  blockUntil?: Date | string;
}

/** Operators' actions on a user's connections. */
export interface RealtimeConnections {
  /**
   * Close every socket of the user (close code 4003, reason `terminated`; clients do not
   * reconnect); resolves with how many sockets closed.
   */
  terminateUserConnections(userId: UserId, options?: TerminateOptions): Promise<{ closed: number }>;
}

export interface Realtime {
  messaging: RealtimeMessaging;
  online: RealtimeOnline;
  connections: RealtimeConnections;
}

/** The JSON body of a termination (`block_until` as an ISO string). */
export function terminationBody(options: TerminateOptions = {}): {
  reason?: string;
  block_until?: string;
} {
  const { reason, blockUntil } = options;
  return {
    ...(reason === undefined ? {} : { reason }),
    ...(blockUntil === undefined
      ? {}
      : { block_until: blockUntil instanceof Date ? blockUntil.toISOString() : blockUntil }),
  };
}

/**
 * The gateway's `RealtimeService` entrypoint as a Worker's `Env` sees it through a service
 * binding: the same operations, flat. Refusals arrive as plain Errors; read them with
 * `RealtimeApiError.from(err)`.
 */
export interface RealtimeServiceBinding
  extends RealtimeMessaging,
    RealtimeOnline,
    RealtimeConnections {}

export interface RealtimeOptions {
  /** The gateway's origin, e.g. `https://realtime.example.com` (the SDK adds `/api/v1`). */
  baseUrl: string;
  /** The gateway's API_KEY (or a staff JWT). */
  apiKey: string;
  /** Duration (in milliseconds) before a call fails with `timeout`. Default is 10000. */
  timeoutMs?: number;
  /** The fetch to use. Default is the global `fetch`. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
}

// --- reading answers -------------------------------------------------------------------------

type Body = Record<string, unknown>;

function invalid(what: string): RealtimeApiError {
  return new RealtimeApiError("invalid_response", `unexpected answer from the gateway: ${what}`);
}

function record(value: unknown, what = "body"): Body {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(`${what} is not an object`);
  }
  return Object.fromEntries(Object.entries(value));
}

function string(body: Body, key: string): string {
  const value = body[key];
  if (typeof value !== "string") throw invalid(`${key} is not a string`);
  return value;
}

function boolean(body: Body, key: string): boolean {
  const value = body[key];
  if (typeof value !== "boolean") throw invalid(`${key} is not a boolean`);
  return value;
}

function count(body: Body, key: string): number {
  const value = body[key];
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw invalid(`${key} is not a count`);
  }
  return value;
}

function nullableString(body: Body, key: string): string | null {
  return body[key] === null ? null : string(body, key);
}

function onlineUserOf(value: unknown): OnlineUser {
  const body = record(value, "users[]");
  return { userId: string(body, "user_id"), connectionCount: count(body, "connection_count") };
}

function errorOf(status: number, statusText: string, payload: unknown, retryAfter: string | null) {
  const error =
    typeof payload === "object" && payload !== null && "error" in payload ? payload.error : null;
  if (typeof error !== "object" || error === null) {
    return new RealtimeApiError("invalid_response", `HTTP ${status} ${statusText}`.trim(), {
      status,
    });
  }
  const body = record(error, "error");
  const code = typeof body.code === "string" ? body.code : "invalid_response";
  const message = typeof body.message === "string" ? body.message : `HTTP ${status}`;
  const details =
    typeof body.details === "object" && body.details !== null && !Array.isArray(body.details)
      ? record(body.details, "details")
      : undefined;
  const retryAfterMs =
    typeof body.retry_after_ms === "number"
      ? body.retry_after_ms
      : retryAfter !== null && /^\d+$/.test(retryAfter)
        ? Number(retryAfter) * 1000
        : undefined;
  return new RealtimeApiError(code, message, {
    status,
    ...(details === undefined ? {} : { details }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

// --- the client ------------------------------------------------------------------------------

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * A client for the gateway's HTTP API. Misuse (no baseUrl, no apiKey, a bad timeout) throws a
 * TypeError here, not on the first call.
 */
export function createRealtime(options: RealtimeOptions): Realtime {
  let base: URL;
  try {
    base = new URL(options.baseUrl);
  } catch {
    throw new TypeError("createRealtime: baseUrl must be an absolute URL");
  }
  if (typeof options.apiKey !== "string" || options.apiKey === "") {
    throw new TypeError("createRealtime: apiKey must be a non-empty string");
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError("createRealtime: timeoutMs must be a positive number of milliseconds");
  }
  const root = `${base.origin}${base.pathname.replace(/\/+$/, "")}/api/v1`;
  // Call the global through a closure: a detached `fetch` throws "Illegal invocation" in Workers.
  const send = options.fetch ?? ((input: string, init: RequestInit) => fetch(input, init));
  const authorization = `Bearer ${options.apiKey}`;

  async function call(
    method: "GET" | "POST" | "DELETE",
    path: string,
    body?: unknown,
  ): Promise<Body> {
    const signal = AbortSignal.timeout(timeoutMs);
    const headers: Record<string, string> = { authorization, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    let payload: unknown;
    try {
      response = await send(`${root}${path}`, {
        method,
        headers,
        signal,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      try {
        payload = text === "" ? null : JSON.parse(text);
      } catch {
        payload = null;
      }
    } catch (err) {
      if (signal.aborted) {
        throw new RealtimeApiError("timeout", `no answer within ${timeoutMs} ms`, { cause: err });
      }
      const reason = err instanceof Error ? err.message : String(err);
      throw new RealtimeApiError("network_error", `request failed: ${reason}`, { cause: err });
    }
    if (!response.ok) {
      throw errorOf(
        response.status,
        response.statusText,
        payload,
        response.headers.get("retry-after"),
      );
    }
    return record(payload);
  }

  // A number beyond 2^53 - 1 is already another id (9007199254740993 is 9007199254740992), so
  // it is refused here as the gateway refuses it in bodies; such ids must be strings.
  const user = (userId: UserId) => {
    if (typeof userId === "number" && !Number.isSafeInteger(userId)) {
      throw new RealtimeApiError(
        "validation_failed",
        "user_id: must be a safe integer (|n| <= 2^53 - 1); send larger ids as a string",
        { status: 400, details: { field: "user_id" } },
      );
    }
    return encodeURIComponent(String(userId));
  };

  const getUserStatus = async (userId: UserId): Promise<UserStatus> => {
    const body = await call("GET", `/users/${user(userId)}/status`);
    return {
      userId: string(body, "user_id"),
      isOnline: boolean(body, "is_online"),
      connectionCount: count(body, "connection_count"),
      lastSeen: nullableString(body, "last_seen"),
    };
  };

  /** The status, or null for a user the gateway does not know. */
  const statusOrNull = async (userId: UserId): Promise<UserStatus | null> => {
    try {
      return await getUserStatus(userId);
    } catch (err) {
      if (err instanceof RealtimeApiError && err.code === "user_not_found") return null;
      throw err;
    }
  };

  const messaging: RealtimeMessaging = {
    async sendNotificationToUser(userId, notification) {
      const body = await call("POST", `/users/${user(userId)}/notifications`, {
        title: notification.title,
        message: notification.message,
        ...(notification.data === undefined ? {} : { data: notification.data }),
      });
      return {
        notificationId: string(body, "notification_id"),
        delivered: boolean(body, "delivered"),
        connectionCount: count(body, "connection_count"),
      };
    },
    async sendMessageToUser(userId, message) {
      const body = await call("POST", `/users/${user(userId)}/messages`, {
        from_user_id: message.fromUserId,
        message: message.message,
        ...(message.messageType === undefined ? {} : { message_type: message.messageType }),
      });
      return { messageId: string(body, "message_id"), delivered: boolean(body, "delivered") };
    },
    async broadcastSystemMessage(broadcast) {
      const body = await call("POST", "/broadcasts", {
        message: broadcast.message,
        ...(broadcast.messageType === undefined ? {} : { message_type: broadcast.messageType }),
      });
      return { messageId: string(body, "message_id"), recipients: count(body, "recipients") };
    },
    async sendToGroup(groupName, message) {
      const body = await call("POST", `/groups/${encodeURIComponent(groupName)}/messages`, {
        message_type: message.messageType,
        data: message.data,
      });
      return { messageId: string(body, "message_id"), recipients: count(body, "recipients") };
    },
  };

  const online: RealtimeOnline = {
    async isUserOnline(userId) {
      return (await statusOrNull(userId))?.isOnline ?? false;
    },
    async getUserConnectionCount(userId) {
      return (await statusOrNull(userId))?.connectionCount ?? 0;
    },
    async getAllOnlineUsers() {
      const body = await call("GET", "/users/online");
      const users = body.users;
      if (!Array.isArray(users)) throw invalid("users is not a list");
      return users.map(onlineUserOf);
    },
    getUserStatus,
  };

  const connections: RealtimeConnections = {
    async terminateUserConnections(userId, options) {
      const body = await call(
        "DELETE",
        `/users/${user(userId)}/connections`,
        terminationBody(options),
      );
      return { closed: count(body, "closed") };
    },
  };

  return { messaging, online, connections };
}
