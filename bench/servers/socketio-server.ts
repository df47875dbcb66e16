// Socket.IO 4 with @socket.io/redis-adapter on the local Redis: the common alternative.
// Every room emit goes through the adapter (published to Redis for other nodes, delivered
// locally), as in a multi-node deployment. Events carry the gateway's payloads; the HTTP API
// for server-side sends is the gateway's.
//   JWT_SECRET=... API_KEY=... REDIS_URL=redis://127.0.0.1:6379 PORT=0 node bench/servers/socketio-server.ts
import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import {
  announceReady,
  exitOnSignal,
  httpApi,
  isRecord,
  mayJoin,
  type Principal,
  readEnv,
  verifyToken,
} from "./reference-common.ts";

const env = readEnv();
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
// One channel prefix per server instance, so concurrent runs on the same Redis never mix.
const channelPrefix = process.env.SOCKETIO_KEY ?? `bench-socket.io-${process.pid}`;
const pub = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
const sub = pub.duplicate();
await Promise.all([pub.connect(), sub.connect()]);

const userRoom = (userId: string) => `user:${userId}`;
const now = () => new Date().toISOString();

const sends = {
  sendToGroup(group: string, messageType: string, data: unknown): number {
    io.to(group).emit("group_message", {
      message_id: crypto.randomUUID(),
      group_name: group,
      from_user_id: null,
      message_type: messageType,
      data,
      sent_at: now(),
    });
    // Local count only: asking every node would be a Redis round trip per send.
    return io.of("/").adapter.rooms.get(group)?.size ?? 0;
  },
  broadcast(message: string, messageType: string): number {
    io.emit("system_broadcast", {
      message_id: crypto.randomUUID(),
      message,
      message_type: messageType,
      from_user_id: null,
      sent_at: now(),
    });
    return io.of("/").sockets.size;
  },
};

const httpServer = createServer(httpApi(env, sends));
const io = new Server(httpServer, {
  transports: ["websocket"],
  serveClient: false,
  perMessageDeflate: false,
  maxHttpBufferSize: 64 * 1024,
  adapter: createAdapter(pub, sub, { key: channelPrefix }),
});

io.use((socket, next) => {
  const token: unknown = socket.handshake.auth.token;
  if (typeof token !== "string") {
    next(new Error("unauthorized: missing token"));
    return;
  }
  verifyToken(token, env.secret).then(
    (principal) => {
      socket.data.principal = principal;
      next();
    },
    () => next(new Error("unauthorized: invalid token")),
  );
});

type Ack = (reply: unknown) => void;

io.on("connection", (socket) => {
  const principal = socket.data.principal as Principal;
  socket.join(userRoom(principal.userId));
  socket.emit("connection_established", {
    connection_id: socket.id,
    user_id: principal.userId,
    username: principal.username,
    is_online: true,
    connection_count: io.of("/").adapter.rooms.get(userRoom(principal.userId))?.size ?? 1,
    last_seq: 0,
    heartbeat_interval_ms: 25_000,
  });
  socket.on("ping_", (_data: unknown, ack?: Ack) => ack?.({ server_time: now() }));
  socket.on("send_message", (data: unknown, ack?: Ack) => {
    const d = isRecord(data) ? data : {};
    const target = d.target_user_id;
    if (
      (typeof target !== "string" && typeof target !== "number") ||
      typeof d.message !== "string"
    ) {
      ack?.({
        error: { code: "validation_failed", message: "target_user_id and message are required" },
      });
      return;
    }
    const messageId = crypto.randomUUID();
    const sentAt = now();
    io.to(userRoom(String(target))).emit("user_message", {
      message_id: messageId,
      from_user_id: principal.userId,
      from_username: principal.username,
      message: d.message,
      message_type: typeof d.message_type === "string" ? d.message_type : "chat_message",
      sent_at: sentAt,
    });
    const recipients = io.of("/").adapter.rooms.get(userRoom(String(target)))?.size ?? 0;
    ack?.({
      message_id: messageId,
      target_user_id: String(target),
      recipients,
      delivered: recipients > 0,
      sent_at: sentAt,
    });
  });
  socket.on("join_group", (data: unknown, ack?: Ack) => {
    const name = isRecord(data) && typeof data.group_name === "string" ? data.group_name : "";
    if (!mayJoin(principal, name)) {
      ack?.({ error: { code: "forbidden", message: `may not join ${name}` } });
      return;
    }
    socket.join(name);
    ack?.({ group_name: name, member_count: io.of("/").adapter.rooms.get(name)?.size ?? 1 });
  });
});

httpServer.listen(env.port, "127.0.0.1", () => {
  const address = httpServer.address();
  announceReady(typeof address === "object" && address ? address.port : env.port);
});
exitOnSignal(async () => {
  await io.close();
  pub.disconnect();
  sub.disconnect();
});
