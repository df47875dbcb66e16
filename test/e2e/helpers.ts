/** Real `ws` clients against the gateway started by the global setup. */
import { inject } from "vitest";
import WebSocket from "ws";
import { type Frame, FrameQueue } from "../helpers/frames.ts";
import { mintToken, type TokenOptions } from "../helpers/tokens.ts";

export const gatewayUrl = () => inject("gatewayUrl");
export const wsUrl = (path: string) => gatewayUrl().replace(/^http/, "ws") + path;

export interface Client {
  ws: WebSocket;
  frames: FrameQueue;
  established: Frame;
  send(frame: unknown): void;
  /** Send and wait for the reply carrying the same id. */
  request(type: string, data?: unknown, timeoutMs?: number): Promise<Frame>;
  close(code?: number): Promise<{ code: number; reason: string }>;
}

export class UpgradeRefused extends Error {
  readonly status: number;
  readonly body: string;
  constructor(status: number, body: string) {
    super(`upgrade refused: ${status} ${body}`);
    this.status = status;
    this.body = body;
  }
}

export type TokenPath = "query" | "subprotocol" | "header";

export interface OpenOptions {
  /** The gateway's http(s) URL. Default: the stack of the global setup. */
  gateway?: string;
  path?: string;
  via?: TokenPath;
  origin?: string;
  headers?: Record<string, string>;
}

/** Open a socket with this token; resolves once connection_established arrived. */
export function openSocket(token: string | null, options: OpenOptions = {}): Promise<Client> {
  const via = options.via ?? "query";
  const path = options.path ?? "/ws/user/";
  const target = token && via === "query" ? `${path}?token=${token}` : path;
  const url = options.gateway ? options.gateway.replace(/^http/, "ws") + target : wsUrl(target);
  const headers: Record<string, string> = { ...options.headers };
  if (token && via === "header") headers.Authorization = `Bearer ${token}`;
  if (options.origin) headers.Origin = options.origin;
  const protocols = token && via === "subprotocol" ? ["bearer", token] : undefined;
  const ws = new WebSocket(url, protocols, { headers });
  const frames = new FrameQueue();
  ws.on("message", (data) => frames.push(data.toString()));
  ws.on("close", (code, reason) => frames.close(code, reason.toString()));
  return new Promise((resolve, reject) => {
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => reject(new UpgradeRefused(res.statusCode ?? 0, body)));
    });
    ws.on("error", (err) => reject(err));
    ws.on("open", async () => {
      try {
        const established = await frames.next("connection_established");
        let counter = 0;
        resolve({
          ws,
          frames,
          established,
          send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
          request: (type, data, timeoutMs) => {
            counter += 1;
            const id = `req-${counter}`;
            ws.send(JSON.stringify(data === undefined ? { type, id } : { type, data, id }));
            return frames.next((f) => f.id === id, timeoutMs);
          },
          close: (code = 1000) => {
            ws.close(code);
            return frames.waitClosed();
          },
        });
      } catch (err) {
        reject(err);
      }
    });
  });
}

export async function connectAs(
  userId: string | number,
  token: TokenOptions = {},
  options: OpenOptions = {},
) {
  return openSocket(await mintToken(userId, token), options);
}

export function uniqueUser(label = "e2e"): string {
  return `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
