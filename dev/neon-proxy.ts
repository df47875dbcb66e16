// The WebSocket-to-TCP relay that lets @neondatabase/serverless reach an ordinary Postgres in
// development, as Neon documents for local use (their `wsproxy`). The driver opens
// `ws://HOST:PORT/v1?address=pghost:pgport` and then speaks raw Postgres wire protocol in binary
// frames: no subprotocol, no SSL request (useSecureWebSocket=false, pipelineTLS=false). We copy
// bytes both ways and close one side when the other ends. Development tool only.
//
// Only configured targets are reachable: an open relay to any host:port would let anything that
// can reach this port pivot into the local network.
//
// Run on its own: NEON_PROXY_TARGETS=127.0.0.1:5432 node dev/neon-proxy.ts
// (NEON_PROXY_HOST and NEON_PROXY_PORT are optional; default 127.0.0.1:5488).

import { createServer, type IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import { listen } from "./listen.ts";

export interface NeonProxyOptions {
  /** Interface to bind. Default "127.0.0.1". */
  host?: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** `host:port` strings the proxy may connect to, compared exactly (e.g. "127.0.0.1:5432"). */
  allowedTargets: readonly string[];
  /** Where relay failures are reported. Default: ignored (a dropped client is normal). */
  onError?: (message: string) => void;
}

export interface NeonProxy {
  port: number;
  /** The value for NEON_WS_PROXY, e.g. "127.0.0.1:5488/v1". */
  wsProxy: string;
  close(): Promise<void>;
}

/** Above this many bytes not yet flushed to the client socket we stop reading from Postgres. */
const HIGH_WATER_BYTES = 1024 * 1024;

/** Splits "host:port" / "[::1]:port"; undefined when it is not a valid target. */
export function parseTarget(address: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(address);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: match[1] ?? match[2] ?? "", port };
}

function refuse(socket: Duplex, status: 400 | 403 | 404, reason: string): void {
  socket.on("error", () => {});
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`,
  );
}

/** Copies bytes between one client WebSocket and one Postgres TCP connection. */
function relay(
  ws: WebSocket,
  target: { host: string; port: number },
  onError: (m: string) => void,
) {
  const tcp: Socket = connect({ host: target.host, port: target.port });
  tcp.setNoDelay(true);
  let finished = false;
  const finish = (why?: string) => {
    if (finished) return;
    finished = true;
    if (why) onError(`neon-proxy: ${why}`);
    tcp.destroy();
    // 1000 when Postgres ended the session normally, 1011 when the relay itself failed.
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
      ws.close(why ? 1011 : 1000);
    }
  };

  // Node queues writes made before the TCP connection is established, so frames that arrive
  // early (the driver sends its startup message right after `open`) are not lost.
  ws.on("message", (data: RawData) => {
    const chunks = Array.isArray(data) ? data : [Buffer.isBuffer(data) ? data : Buffer.from(data)];
    let ok = true;
    for (const chunk of chunks) ok = tcp.write(chunk) && ok;
    if (!ok) {
      ws.pause();
      tcp.once("drain", () => ws.resume());
    }
  });
  // Backpressure towards the client: stop reading Postgres while too much is unsent.
  let unsent = 0;
  tcp.on("data", (chunk: Buffer) => {
    if (ws.readyState !== ws.OPEN) return;
    unsent += chunk.length;
    ws.send(chunk, { binary: true }, () => {
      unsent -= chunk.length;
      if (tcp.isPaused() && unsent < HIGH_WATER_BYTES / 2) tcp.resume();
    });
    if (unsent > HIGH_WATER_BYTES) tcp.pause();
  });

  ws.on("close", () => {
    finished = true;
    tcp.end();
    // end() leaves a half-open socket if Postgres never answers the FIN; do not keep it around.
    tcp.setTimeout(5_000, () => tcp.destroy());
  });
  ws.on("error", (err) => finish(`client socket error: ${err.message}`));
  tcp.on("error", (err) => finish(`${target.host}:${target.port}: ${err.message}`));
  tcp.on("end", () => finish());
  tcp.on("close", () => finish());
}

export async function startNeonProxy(options: NeonProxyOptions): Promise<NeonProxy> {
  const allowed = new Set(options.allowedTargets);
  for (const target of allowed) {
    if (!parseTarget(target)) throw new TypeError(`startNeonProxy: bad target "${target}"`);
  }
  const host = options.host ?? "127.0.0.1";
  const onError = options.onError ?? (() => {});

  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  wss.on("error", (err) => onError(`neon-proxy: ${err.message}`));

  const server = createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain" }).end("WebSocket upgrade required");
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => {});
    const url = new URL(req.url ?? "/", "http://proxy");
    if (url.pathname !== "/v1") return refuse(socket, 404, "Not Found");
    const address = url.searchParams.get("address") ?? "";
    const target = parseTarget(address);
    if (!target) return refuse(socket, 400, "Bad address");
    if (!allowed.has(address)) return refuse(socket, 403, "Target not allowed");
    wss.handleUpgrade(req, socket, head, (ws) => relay(ws, target, onError));
  });

  const { port, urlHost } = await listen(server, options.port, host);

  return {
    port,
    wsProxy: `${urlHost}:${port}/v1`,
    async close() {
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

if (import.meta.main) {
  const targets = (process.env.NEON_PROXY_TARGETS ?? "127.0.0.1:5432")
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  const proxy = await startNeonProxy({
    host: process.env.NEON_PROXY_HOST ?? "127.0.0.1",
    port: Number(process.env.NEON_PROXY_PORT ?? 5488),
    allowedTargets: targets,
    onError: (message) => console.error(message),
  });
  console.log(`neon-proxy: NEON_WS_PROXY=${proxy.wsProxy} → ${targets.join(", ")}`);
  const stop = () => void proxy.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
