// Drives any server that speaks the gateway's frames (docs/protocol.md): the gateway itself, the
// minimal Durable Object relay and the minimal Node ws relay.
import WebSocket from "ws";
import type {
  BenchSocket,
  ConnectRequest,
  Delivery,
  ServerAdapter,
  ServerCapabilities,
} from "./adapter.ts";
import { NotSupportedError } from "./adapter.ts";
import { HttpApi } from "./http-api.ts";
import type { BenchUser } from "./tokens.ts";

export interface GatewayAdapterOptions {
  /** `http://127.0.0.1:PORT` */
  readonly httpBase: string;
  /** API key for the HTTP API; absent when the server has no HTTP API. */
  readonly apiKey?: string;
  readonly capabilities: ServerCapabilities;
}

const CLOSE_TIMEOUT_MS = 3_000;
const JOIN_TIMEOUT_MS = 10_000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** Turns one server frame into what a scenario cares about; `null` for frames it ignores. */
function deliveryOf(type: unknown, data: Record<string, unknown>): Delivery | null {
  switch (type) {
    case "user_message":
      return { kind: "dm", body: text(data.message), fromUserId: text(data.from_user_id) };
    case "group_message": {
      // From the HTTP API the body is in `data.data.body`; from a member socket, `data.message`.
      const inner = data.data;
      const body = isRecord(inner) ? text(inner.body) : text(data.message);
      return { kind: "group", body, group: text(data.group_name) };
    }
    case "system_broadcast":
      return { kind: "broadcast", body: text(data.message) };
    case "message_sent":
      return { kind: "ack" };
    case "error":
      return { kind: "error", code: text(data.code), message: text(data.message) };
    default:
      return null;
  }
}

class GatewaySocket implements BenchSocket {
  readonly user: BenchUser;
  firstReplyMs = Number.NaN;
  readonly #ws: WebSocket;
  readonly #joins = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();
  #closing = false;
  #nextId = 0;

  constructor(user: BenchUser, ws: WebSocket) {
    this.user = user;
    this.#ws = ws;
  }

  static open(url: string, request: ConnectRequest): Promise<GatewaySocket> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      // No permessage-deflate: every server is measured without compression, and zlib on
      // thousands of client sockets would make the driver the bottleneck.
      const ws = new WebSocket(url, {
        perMessageDeflate: false,
        handshakeTimeout: request.timeoutMs,
      });
      const socket = new GatewaySocket(request.user, ws);
      let settled = false;
      const timer = setTimeout(
        () => fail(new Error(`no first frame within ${request.timeoutMs} ms`)),
        request.timeoutMs,
      );
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.terminate();
        reject(error);
      };
      ws.on("unexpected-response", (_req, res) =>
        fail(new Error(`upgrade refused: HTTP ${res.statusCode}`)),
      );
      ws.on("error", (error) => fail(error));
      ws.on("message", (raw, isBinary) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          socket.firstReplyMs = performance.now() - started;
          resolve(socket);
        }
        socket.#onFrame(isBinary ? "" : raw.toString(), request.onDelivery);
      });
      ws.on("close", (code, reason) => {
        if (!settled) fail(new Error(`closed before the first frame: ${code}`));
        else if (!socket.#closing)
          request.onDelivery({ kind: "closed", code, reason: reason.toString() });
        for (const join of socket.#joins.values()) join.reject(new Error(`socket closed: ${code}`));
        socket.#joins.clear();
      });
    });
  }

  #onFrame(raw: string, onDelivery: (delivery: Delivery) => void): void {
    let frame: unknown;
    try {
      frame = JSON.parse(raw);
    } catch {
      onDelivery({ kind: "error", code: "bench_bad_frame", message: raw.slice(0, 100) });
      return;
    }
    if (!isRecord(frame)) return;
    const data = isRecord(frame.data) ? frame.data : {};
    const id = typeof frame.id === "string" ? frame.id : undefined;
    const join = id === undefined ? undefined : this.#joins.get(id);
    if (join && id !== undefined) {
      this.#joins.delete(id);
      if (frame.type === "group_joined") join.resolve();
      else
        join.reject(
          new Error(`join refused: ${text(data.code) || String(frame.type)} ${text(data.message)}`),
        );
      return;
    }
    const delivery = deliveryOf(frame.type, data);
    if (delivery) onDelivery(delivery);
  }

  sendDirect(targetUserId: string, body: string): void {
    this.#ws.send(
      JSON.stringify({
        type: "send_message",
        data: { target_user_id: targetUserId, message: body },
      }),
    );
  }

  joinGroup(group: string): Promise<void> {
    const id = `join-${++this.#nextId}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#joins.delete(id);
        reject(new Error(`join ${group}: no answer within ${JOIN_TIMEOUT_MS} ms`));
      }, JOIN_TIMEOUT_MS);
      this.#joins.set(id, {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#ws.send(JSON.stringify({ type: "join_group", data: { group_name: group }, id }));
    });
  }

  close(): Promise<void> {
    this.#closing = true;
    if (this.#ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#ws.terminate();
        resolve();
      }, CLOSE_TIMEOUT_MS);
      this.#ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      this.#ws.close(1000, "bench done");
    });
  }
}

export class GatewayProtocolAdapter implements ServerAdapter {
  readonly protocol = "gateway frames (ws)";
  readonly capabilities: ServerCapabilities;
  readonly #wsBase: string;
  readonly #api: HttpApi | undefined;

  constructor(options: GatewayAdapterOptions) {
    this.capabilities = options.capabilities;
    this.#wsBase = options.httpBase.replace(/^http/, "ws").replace(/\/$/, "");
    this.#api =
      options.apiKey === undefined ? undefined : new HttpApi(options.httpBase, options.apiKey);
  }

  connect(request: ConnectRequest): Promise<BenchSocket> {
    return GatewaySocket.open(
      `${this.#wsBase}/ws/user/?token=${encodeURIComponent(request.token)}`,
      request,
    );
  }

  /** Only where the server has room sockets (`roomSockets`: the gateway). */
  get connectRoom():
    | ((request: ConnectRequest, group: string) => Promise<BenchSocket>)
    | undefined {
    if (!this.capabilities.roomSockets) return undefined;
    return (request, group) =>
      GatewaySocket.open(
        `${this.#wsBase}/ws/group/${encodeURIComponent(group)}/?token=${encodeURIComponent(request.token)}`,
        request,
      );
  }

  sendToGroup(group: string, body: string): Promise<void> {
    if (!this.#api || !this.capabilities.groups)
      throw new NotSupportedError("no server-side group send");
    return this.#api.sendToGroup(group, body);
  }

  broadcast(body: string): Promise<number> {
    if (!this.#api || !this.capabilities.broadcast)
      throw new NotSupportedError("no server-side broadcast");
    return this.#api.broadcast(body);
  }
}
