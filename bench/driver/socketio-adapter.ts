// Drives the Socket.IO reference server (bench/servers/socketio-server.ts). The events carry
// the same payloads as the gateway's frames, so a scenario cannot tell the servers apart.
import { io, type Socket } from "socket.io-client";
import type {
  BenchSocket,
  ConnectRequest,
  Delivery,
  ServerAdapter,
  ServerCapabilities,
} from "./adapter.ts";
import { HttpApi } from "./http-api.ts";
import type { BenchUser } from "./tokens.ts";

const CLOSE_TIMEOUT_MS = 3_000;
const JOIN_TIMEOUT_MS = 10_000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

class SocketIoBenchSocket implements BenchSocket {
  readonly user: BenchUser;
  firstReplyMs = Number.NaN;
  readonly #socket: Socket;
  readonly #onDelivery: (delivery: Delivery) => void;
  #closing = false;

  constructor(user: BenchUser, socket: Socket, onDelivery: (delivery: Delivery) => void) {
    this.user = user;
    this.#socket = socket;
    this.#onDelivery = onDelivery;
  }

  static open(base: string, request: ConnectRequest): Promise<SocketIoBenchSocket> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const socket = io(base, {
        transports: ["websocket"],
        auth: { token: request.token },
        reconnection: false,
        forceNew: true,
        timeout: request.timeoutMs,
        // The client may offer permessage-deflate, but the server disables it, so frames are
        // uncompressed, as for every other server.
        perMessageDeflate: { threshold: 1024 },
      });
      const bench = new SocketIoBenchSocket(request.user, socket, request.onDelivery);
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.disconnect();
        reject(error);
      };
      const timer = setTimeout(
        () => fail(new Error(`no first event within ${request.timeoutMs} ms`)),
        request.timeoutMs,
      );
      socket.on("connect_error", (error) => fail(error));
      socket.on("connection_established", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        bench.firstReplyMs = performance.now() - started;
        resolve(bench);
      });
      socket.on("user_message", (data: unknown) => {
        const d = isRecord(data) ? data : {};
        request.onDelivery({ kind: "dm", body: text(d.message), fromUserId: text(d.from_user_id) });
      });
      socket.on("group_message", (data: unknown) => {
        const d = isRecord(data) ? data : {};
        const inner = d.data;
        request.onDelivery({
          kind: "group",
          body: isRecord(inner) ? text(inner.body) : text(d.message),
          group: text(d.group_name),
        });
      });
      socket.on("system_broadcast", (data: unknown) => {
        const d = isRecord(data) ? data : {};
        request.onDelivery({ kind: "broadcast", body: text(d.message) });
      });
      socket.on("error", (data: unknown) => {
        const d = isRecord(data) ? data : {};
        request.onDelivery({ kind: "error", code: text(d.code), message: text(d.message) });
      });
      socket.on("disconnect", (reason) => {
        if (!settled) fail(new Error(`disconnected before the first event: ${reason}`));
        else if (!bench.#closing) request.onDelivery({ kind: "closed", code: 0, reason });
      });
    });
  }

  sendDirect(targetUserId: string, body: string): void {
    this.#socket.emit(
      "send_message",
      { target_user_id: targetUserId, message: body },
      (reply: unknown) => {
        if (isRecord(reply) && isRecord(reply.error)) {
          this.#onDelivery({
            kind: "error",
            code: text(reply.error.code),
            message: text(reply.error.message),
          });
        } else {
          this.#onDelivery({ kind: "ack" });
        }
      },
    );
  }

  async joinGroup(group: string): Promise<void> {
    const reply: unknown = await this.#socket
      .timeout(JOIN_TIMEOUT_MS)
      .emitWithAck("join_group", { group_name: group });
    if (isRecord(reply) && isRecord(reply.error)) {
      throw new Error(`join refused: ${text(reply.error.code)} ${text(reply.error.message)}`);
    }
  }

  close(): Promise<void> {
    this.#closing = true;
    if (this.#socket.disconnected) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
      // Socket.IO's disconnect() sends its DISCONNECT packet and closes the engine.
      this.#socket.io.engine.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      this.#socket.disconnect();
    });
  }
}

export class SocketIoAdapter implements ServerAdapter {
  readonly protocol = "socket.io 4 (websocket transport)";
  readonly capabilities: ServerCapabilities = { groups: true, broadcast: true };
  readonly #base: string;
  readonly #api: HttpApi;

  constructor(httpBase: string, apiKey: string) {
    this.#base = httpBase;
    this.#api = new HttpApi(httpBase, apiKey);
  }

  connect(request: ConnectRequest): Promise<BenchSocket> {
    return SocketIoBenchSocket.open(this.#base, request);
  }

  sendToGroup(group: string, body: string): Promise<void> {
    return this.#api.sendToGroup(group, body);
  }

  broadcast(body: string): Promise<number> {
    return this.#api.broadcast(body);
  }
}
