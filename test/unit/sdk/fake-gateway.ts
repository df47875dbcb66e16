/**
 * A scriptable stand-in for the gateway: a real Node `ws` server on a free port that a test
 * drives frame by frame, plus a harness that builds SDK clients against it and closes
 * everything after each test.
 */
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import type { ConnectionEstablished } from "../../../src/protocol/messages.ts";
import {
  type ClientEvents,
  type ClientOptions,
  createClient,
  type RealtimeClient,
} from "../../../src/sdk/client.ts";
import { type Frame, FrameQueue } from "../../helpers/frames.ts";

const PING = '{"type":"ping"}';
const PONG = '{"type":"pong"}';

/** One socket the client opened, seen from the server side. */
export class Peer {
  readonly ws: WebSocket;
  /** Frames the client sent, except the exact heartbeat pings (counted in `pings`). */
  readonly frames = new FrameQueue();
  readonly token: string | null;
  readonly via: "protocol" | "query" | null;
  pings = 0;
  /** Answer heartbeat pings with the exact pong, as the gateway's runtime does. */
  answerPings = true;

  constructor(ws: WebSocket, request: IncomingMessage) {
    this.ws = ws;
    const url = new URL(request.url ?? "/", "http://localhost");
    const protocols = (request.headers["sec-websocket-protocol"] ?? "")
      .split(",")
      .map((p) => p.trim());
    if (protocols[0] === "bearer" && protocols[1]) {
      this.token = protocols[1];
      this.via = "protocol";
    } else {
      this.token = url.searchParams.get("token");
      this.via = this.token === null ? null : "query";
    }
    ws.on("message", (raw) => {
      const text = raw.toString();
      if (text === PING) {
        this.pings += 1;
        if (this.answerPings) ws.send(PONG);
        return;
      }
      this.frames.push(text);
    });
    ws.on("close", (code, reason) => this.frames.close(code, reason.toString()));
  }

  send(frame: Record<string, unknown>): void {
    this.ws.send(JSON.stringify({ ts: new Date().toISOString(), ...frame }));
  }

  establish(data: Partial<ConnectionEstablished> = {}): void {
    this.send({
      type: "connection_established",
      data: {
        connection_id: `conn-${Math.random().toString(36).slice(2, 8)}`,
        user_id: "u1",
        username: "ann",
        is_online: true,
        connection_count: 1,
        last_seq: 0,
        heartbeat_interval_ms: 60_000,
        ...data,
      },
    });
  }

  /** A mailbox frame with this seq (a user_message unless `type` says otherwise). */
  mail(seq: number, type = "user_message"): void {
    this.send({
      type,
      seq,
      data: {
        message_id: `m${seq}`,
        from_user_id: "u2",
        from_username: "bob",
        message: `message ${seq}`,
        message_type: "chat_message",
        sent_at: new Date().toISOString(),
      },
    });
  }

  reply(request: Frame, type: string, data: unknown): void {
    this.send({ type, data, id: request.id });
  }

  /** Waits for the next frame of `type` the client sent. */
  next(type: string, timeoutMs?: number): Promise<Frame> {
    return this.frames.next(type, timeoutMs);
  }

  close(code: number, reason = ""): Promise<{ code: number; reason: string }> {
    this.ws.close(code, reason);
    return this.frames.waitClosed();
  }
}

export interface GatewayScript {
  /** Called for every new socket; by default it sends `connection_established`. */
  onConnect?: (peer: Peer, index: number) => void;
}

export class FakeGateway {
  readonly server: WebSocketServer;
  readonly peers: Peer[] = [];
  script: GatewayScript = {};
  private waiters: (() => void)[] = [];

  private constructor(server: WebSocketServer) {
    this.server = server;
    server.on("connection", (ws, request) => {
      const peer = new Peer(ws, request);
      const index = this.peers.push(peer) - 1;
      (this.script.onConnect ?? ((p) => p.establish()))(peer, index);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async start(): Promise<FakeGateway> {
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise<void>((resolve) => server.once("listening", resolve));
    return new FakeGateway(server);
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `ws://127.0.0.1:${port}/ws/user/`;
  }

  /** The `index`-th socket (0 for the first), once the client has opened it. */
  async peer(index: number, timeoutMs = 5_000): Promise<Peer> {
    const deadline = Date.now() + timeoutMs;
    while (!this.peers[index]) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no connection #${index} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.peers[index] as Peer;
  }

  async close(): Promise<void> {
    for (const client of this.server.clients) client.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Fast reconnects, so tests spend milliseconds, not seconds, backing off. */
export const FAST_BACKOFF = { minDelayMs: 10, maxDelayMs: 40, growFactor: 2 };

/**
 * Per test: a fresh gateway, and `client()` to build SDK clients against it that are closed
 * afterwards.
 */
export function gatewayPerTest() {
  let gateway: FakeGateway | undefined;
  const clients: RealtimeClient[] = [];
  beforeEach(async () => {
    gateway = await FakeGateway.start();
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await gateway?.close();
  });
  const current = () => {
    if (!gateway) throw new Error("gatewayPerTest: no gateway outside a test");
    return gateway;
  };
  return {
    get gateway() {
      return current();
    },
    client(options: Partial<ClientOptions> = {}): RealtimeClient {
      const client = createClient({
        url: current().url,
        token: "test-token",
        backoff: FAST_BACKOFF,
        ...options,
      });
      clients.push(client);
      return client;
    },
  };
}

/** Every value of a client event, in order, from now on. */
export function record<K extends keyof ClientEvents>(
  client: RealtimeClient,
  event: K,
): ClientEvents[K][] {
  const seen: ClientEvents[K][] = [];
  client.onEvent(event, (value) => seen.push(value));
  return seen;
}

/** The next value of a client event that matches. */
export function nextEvent<K extends keyof ClientEvents>(
  client: RealtimeClient,
  event: K,
  match: (value: ClientEvents[K]) => boolean = () => true,
  timeoutMs = 5_000,
): Promise<ClientEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching ${event} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = client.onEvent(event, (value) => {
      if (!match(value)) return;
      clearTimeout(timer);
      off();
      resolve(value);
    });
  });
}

/** Resolves when the client reaches `state`. */
export function reaches(
  client: RealtimeClient,
  state: RealtimeClient["state"],
  timeoutMs?: number,
) {
  if (client.state === state) return Promise.resolve();
  return nextEvent(client, "state", (e) => e.state === state, timeoutMs).then(() => undefined);
}
