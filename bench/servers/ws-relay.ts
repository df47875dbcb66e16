// The minimal Node `ws` relay: the practical ceiling on this machine. One process, in-memory
// routing (user -> sockets, group -> sockets), each fan-out serialized once. It speaks the
// gateway's frames for auth, ping, send_message, join_group/leave_group, group_message,
// broadcast and the HTTP API's group send and broadcast. No mailbox, presence or limits.
//   JWT_SECRET=... API_KEY=... PORT=0 node bench/servers/ws-relay.ts   -> prints READY <port>
import { createServer } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer } from "ws";
import {
  announceReady,
  exitOnSignal,
  httpApi,
  isRecord,
  mayJoin,
  type Principal,
  readEnv,
  tokenOf,
  verifyToken,
} from "./reference-common.ts";

interface Connection {
  readonly id: string;
  readonly ws: WebSocket;
  readonly principal: Principal;
  readonly groups: Set<string>;
}

const env = readEnv();
const users = new Map<string, Set<Connection>>();
const groups = new Map<string, Set<Connection>>();
const all = new Set<Connection>();

function frame(type: string, data: unknown, id?: string): string {
  return JSON.stringify(
    id === undefined ? { type, data, ts: new Date().toISOString() } : { type, data, id },
  );
}

function fanOut(connections: Iterable<Connection>, text: string): number {
  // Encode once: ws would turn the string into a new Buffer for every socket.
  const payload = Buffer.from(text);
  let count = 0;
  for (const connection of connections) {
    if (connection.ws.readyState !== WebSocket.OPEN) continue;
    connection.ws.send(payload, { binary: false });
    count++;
  }
  return count;
}

function sendToUser(userId: string, text: string): number {
  const set = users.get(userId);
  return set ? fanOut(set, text) : 0;
}

function countUsers(connections: Iterable<Connection>): number {
  const ids = new Set<string>();
  for (const connection of connections) ids.add(connection.principal.userId);
  return ids.size;
}

const sends = {
  sendToGroup(group: string, messageType: string, data: unknown): number {
    const members = groups.get(group);
    if (!members) return 0;
    const sentAt = new Date().toISOString();
    fanOut(
      members,
      frame("group_message", {
        message_id: crypto.randomUUID(),
        group_name: group,
        from_user_id: null,
        message_type: messageType,
        data,
        sent_at: sentAt,
      }),
    );
    return countUsers(members);
  },
  broadcast(message: string, messageType: string, fromUserId: string | null = null): number {
    const text = frame("system_broadcast", {
      message_id: crypto.randomUUID(),
      message,
      message_type: messageType,
      from_user_id: fromUserId,
      sent_at: new Date().toISOString(),
    });
    fanOut(all, text);
    return users.size;
  },
};

function onFrame(connection: Connection, raw: string): void {
  const { ws, principal } = connection;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    ws.send(frame("error", { code: "invalid_json", message: "frame is not JSON" }));
    return;
  }
  if (!isRecord(parsed) || typeof parsed.type !== "string") {
    ws.send(frame("error", { code: "invalid_message", message: "no type" }));
    return;
  }
  const id = typeof parsed.id === "string" ? parsed.id : undefined;
  const data = isRecord(parsed.data) ? parsed.data : {};
  const fail = (code: string, message: string) => ws.send(frame("error", { code, message }, id));
  switch (parsed.type) {
    case "ping":
      ws.send(frame("pong", { server_time: new Date().toISOString() }, id));
      return;
    case "send_message": {
      const target = data.target_user_id;
      if (
        (typeof target !== "string" && typeof target !== "number") ||
        typeof data.message !== "string"
      ) {
        fail("validation_failed", "target_user_id and message are required");
        return;
      }
      const messageId = crypto.randomUUID();
      const sentAt = new Date().toISOString();
      const recipients = sendToUser(
        String(target),
        frame("user_message", {
          message_id: messageId,
          from_user_id: principal.userId,
          from_username: principal.username,
          message: data.message,
          message_type: typeof data.message_type === "string" ? data.message_type : "chat_message",
          sent_at: sentAt,
        }),
      );
      ws.send(
        frame(
          "message_sent",
          {
            message_id: messageId,
            target_user_id: String(target),
            recipients,
            delivered: recipients > 0,
            sent_at: sentAt,
          },
          id,
        ),
      );
      return;
    }
    case "join_group": {
      const name = typeof data.group_name === "string" ? data.group_name : "";
      if (!mayJoin(principal, name)) {
        fail("forbidden", `may not join ${name}`);
        return;
      }
      const members = groups.get(name) ?? new Set<Connection>();
      groups.set(name, members);
      members.add(connection);
      connection.groups.add(name);
      ws.send(frame("group_joined", { group_name: name, member_count: countUsers(members) }, id));
      return;
    }
    case "leave_group": {
      const name = typeof data.group_name === "string" ? data.group_name : "";
      const members = groups.get(name);
      if (!members?.delete(connection)) {
        fail("not_in_group", `not in ${name}`);
        return;
      }
      connection.groups.delete(name);
      if (members.size === 0) groups.delete(name);
      ws.send(frame("group_left", { group_name: name, member_count: countUsers(members) }, id));
      return;
    }
    case "group_message": {
      const name = typeof data.group_name === "string" ? data.group_name : "";
      const members = groups.get(name);
      if (!members?.has(connection)) {
        fail("not_in_group", `not in ${name}`);
        return;
      }
      const messageId = crypto.randomUUID();
      const sentAt = new Date().toISOString();
      fanOut(
        members,
        frame("group_message", {
          message_id: messageId,
          group_name: name,
          from_user_id: principal.userId,
          message_type: typeof data.message_type === "string" ? data.message_type : "group_message",
          message: data.message,
          sent_at: sentAt,
        }),
      );
      const recipients = countUsers(members);
      ws.send(
        frame(
          "message_sent",
          {
            message_id: messageId,
            group_name: name,
            recipients,
            delivered: recipients > 0,
            sent_at: sentAt,
          },
          id,
        ),
      );
      return;
    }
    case "broadcast": {
      if (!principal.staff) {
        fail("forbidden", "staff only");
        return;
      }
      const message = typeof data.message === "string" ? data.message : "";
      const type = typeof data.message_type === "string" ? data.message_type : "system_broadcast";
      const recipients = sends.broadcast(message, type, principal.userId);
      ws.send(
        frame(
          "message_sent",
          {
            message_id: crypto.randomUUID(),
            recipients,
            delivered: recipients > 0,
            sent_at: new Date().toISOString(),
          },
          id,
        ),
      );
      return;
    }
    default:
      fail("unknown_type", `unknown type ${parsed.type}`);
  }
}

function accept(ws: WebSocket, principal: Principal): void {
  const connection: Connection = { id: crypto.randomUUID(), ws, principal, groups: new Set() };
  const mine = users.get(principal.userId) ?? new Set<Connection>();
  users.set(principal.userId, mine);
  mine.add(connection);
  all.add(connection);
  ws.send(
    frame("connection_established", {
      connection_id: connection.id,
      user_id: principal.userId,
      username: principal.username,
      is_online: true,
      connection_count: mine.size,
      last_seq: 0,
      heartbeat_interval_ms: 25_000,
    }),
  );
  ws.on("message", (raw, isBinary) => {
    if (isBinary)
      ws.send(
        frame("error", { code: "invalid_message", message: "binary frames are not accepted" }),
      );
    else onFrame(connection, raw.toString());
  });
  ws.on("close", () => {
    all.delete(connection);
    const set = users.get(principal.userId);
    set?.delete(connection);
    if (set?.size === 0) users.delete(principal.userId);
    for (const name of connection.groups) {
      const members = groups.get(name);
      members?.delete(connection);
      if (members?.size === 0) groups.delete(name);
    }
  });
}

function refuse(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: { code: "unauthorized", message } });
  socket.end(
    `HTTP/1.1 ${status} Unauthorized\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  maxPayload: 64 * 1024,
});
const server = createServer(httpApi(env, sends));
server.on("upgrade", (request, socket, head) => {
  const path = new URL(request.url ?? "/", "http://localhost").pathname;
  if (path !== "/ws/user/" && path !== "/ws/user") {
    socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  const token = tokenOf(request);
  if (!token) {
    refuse(socket, 401, "missing token");
    return;
  }
  // Authenticate before the upgrade: a bad token is a 401, never a 101 and a close.
  verifyToken(token, env.secret).then(
    (principal) => wss.handleUpgrade(request, socket, head, (ws) => accept(ws, principal)),
    () => refuse(socket, 401, "invalid token"),
  );
});
server.listen(env.port, "127.0.0.1", () => {
  const address = server.address();
  announceReady(typeof address === "object" && address ? address.port : env.port);
});
exitOnSignal(
  () =>
    new Promise<void>((resolve) => {
      for (const connection of all) connection.ws.close(1001, "server going away");
      server.close(() => resolve());
    }),
);
