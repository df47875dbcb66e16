// The minimal Durable Object relay the benchmark compares the gateway with: the same
// architecture (the Worker authenticates, one Durable Object per user holds that user's
// hibernatable sockets, a direct message is one RPC from the sender's object to the
// target's) with nothing else: no mailbox, no presence, no rate limit, no validation
// beyond what routing needs. It speaks the gateway's frames (docs/protocol.md) for
// connection_established, ping/pong, send_message/message_sent and user_message.
import { DurableObject } from "cloudflare:workers";
import { jwtVerify } from "jose";

interface Env {
  USER_RELAY: DurableObjectNamespace<UserRelay>;
  JWT_SECRET: string;
}

interface SocketIdentity {
  connectionId: string;
  userId: string;
  username: string;
}

const encoder = new TextEncoder();
let cachedKey: { secret: string; key: Uint8Array } | undefined;

function secretKey(secret: string): Uint8Array {
  if (cachedKey?.secret !== secret) cachedKey = { secret, key: encoder.encode(secret) };
  return cachedKey.key;
}

function tokenFrom(request: Request): string | null {
  const url = new URL(request.url);
  const query = url.searchParams.get("token");
  if (query) return query;
  const auth = request.headers.get("Authorization");
  return auth?.startsWith("Bearer ") ? auth.slice(7) : null;
}

function unauthorized(message: string): Response {
  return Response.json({ error: { code: "unauthorized", message } }, { status: 401 });
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/health") return Response.json({ status: "ok" });
    if (url.pathname !== "/ws/user" && url.pathname !== "/ws/user/") {
      return new Response("not found", { status: 404 });
    }
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("upgrade required", { status: 426 });
    }
    const token = tokenFrom(request);
    if (!token) return unauthorized("missing token");
    let userId: string;
    let username: string;
    try {
      const { payload } = await jwtVerify(token, secretKey(env.JWT_SECRET), {
        algorithms: ["HS256"],
        clockTolerance: 30,
        requiredClaims: ["exp"],
      });
      userId = String(payload.user_id ?? payload.sub ?? "");
      username = typeof payload.username === "string" ? payload.username : userId;
    } catch {
      return unauthorized("invalid token");
    }
    if (!userId) return unauthorized("no user id");
    // Identity travels to the object only in headers this Worker sets itself.
    const headers = new Headers(request.headers);
    headers.set("X-Relay-User", userId);
    headers.set("X-Relay-Username", username);
    return env.USER_RELAY.getByName(userId).fetch(new Request(request, { headers }));
  },
} satisfies ExportedHandler<Env>;

function identityOf(ws: WebSocket): SocketIdentity | null {
  const value: unknown = ws.deserializeAttachment();
  if (typeof value !== "object" || value === null) return null;
  const { connectionId, userId, username } = value as Record<string, unknown>;
  if (typeof connectionId !== "string" || typeof userId !== "string") return null;
  return { connectionId, userId, username: typeof username === "string" ? username : userId };
}

export class UserRelay extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // The exact ping frame is answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(
      new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong","data":{}}'),
    );
  }

  override async fetch(request: Request): Promise<Response> {
    const userId = request.headers.get("X-Relay-User");
    if (!userId) return new Response("forbidden", { status: 403 });
    const identity: SocketIdentity = {
      connectionId: crypto.randomUUID(),
      userId,
      username: request.headers.get("X-Relay-Username") ?? userId,
    };
    const pair = new WebSocketPair();
    const server = pair[1];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment(identity);
    server.send(
      JSON.stringify({
        type: "connection_established",
        data: {
          connection_id: identity.connectionId,
          user_id: userId,
          username: identity.username,
          is_online: true,
          connection_count: this.ctx.getWebSockets().length,
          last_seq: 0,
          heartbeat_interval_ms: 25_000,
        },
      }),
    );
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  /** Sends a direct message to every socket of this user; returns how many got it. */
  deliver(frame: string): number {
    let count = 0;
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(frame);
        count++;
      } catch {
        // A socket that is already closing: not delivered to it.
      }
    }
    return count;
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const identity = identityOf(ws);
    if (!identity || typeof message !== "string") return;
    let frame: unknown;
    try {
      frame = JSON.parse(message);
    } catch {
      ws.send(
        JSON.stringify({ type: "error", data: { code: "invalid_json", message: "bad json" } }),
      );
      return;
    }
    if (typeof frame !== "object" || frame === null) return;
    const { type, data, id } = frame as Record<string, unknown>;
    const requestId = typeof id === "string" ? id : undefined;
    if (type === "ping") {
      ws.send(
        JSON.stringify({
          type: "pong",
          data: { server_time: new Date().toISOString() },
          id: requestId,
        }),
      );
      return;
    }
    if (type !== "send_message" || typeof data !== "object" || data === null) {
      ws.send(
        JSON.stringify({
          type: "error",
          data: { code: "unknown_type", message: String(type) },
          id: requestId,
        }),
      );
      return;
    }
    const { target_user_id, message: text, message_type } = data as Record<string, unknown>;
    if (
      (typeof target_user_id !== "string" && typeof target_user_id !== "number") ||
      typeof text !== "string"
    ) {
      ws.send(
        JSON.stringify({
          type: "error",
          data: { code: "validation_failed", message: "bad send_message" },
          id: requestId,
        }),
      );
      return;
    }
    const target = String(target_user_id);
    const messageId = crypto.randomUUID();
    const sentAt = new Date().toISOString();
    const envelope = JSON.stringify({
      type: "user_message",
      data: {
        message_id: messageId,
        from_user_id: identity.userId,
        from_username: identity.username,
        message: text,
        message_type: typeof message_type === "string" ? message_type : "chat_message",
        sent_at: sentAt,
      },
      ts: sentAt,
    });
    const recipients =
      target === identity.userId
        ? this.deliver(envelope)
        : await this.env.USER_RELAY.getByName(target).deliver(envelope);
    ws.send(
      JSON.stringify({
        type: "message_sent",
        data: {
          message_id: messageId,
          target_user_id: target,
          recipients,
          delivered: recipients > 0,
          sent_at: sentAt,
        },
        id: requestId,
      }),
    );
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // workerd does not answer the peer's close frame by itself here:
    // without this the client ends with 1006 after its own timeout.
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
  }
}
