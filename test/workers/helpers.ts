/** Sockets opened through the Worker's real fetch handler inside workerd. */
import { exports } from "cloudflare:workers";
import { FrameQueue } from "../helpers/frames.ts";
import { mintToken, type TokenOptions } from "../helpers/tokens.ts";

export interface TestSocket {
  ws: WebSocket;
  frames: FrameQueue;
  send(frame: unknown): void;
  /** Resolves with connection_established. */
  established: Promise<import("../helpers/frames.ts").Frame>;
}

export async function upgrade(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("Upgrade", "websocket");
  return exports.default.fetch(new Request(`http://gateway.test${path}`, { ...init, headers }));
}

export function wrapSocket(ws: WebSocket): TestSocket {
  const frames = new FrameQueue();
  ws.accept();
  ws.addEventListener("message", (event) => frames.push(String(event.data)));
  ws.addEventListener("close", (event) => frames.close(event.code, event.reason));
  return {
    ws,
    frames,
    send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    established: frames.next("connection_established"),
  };
}

export async function connectAs(userId: string, options: TokenOptions = {}): Promise<TestSocket> {
  const token = await mintToken(userId, options);
  const response = await upgrade(`/ws/user/?token=${token}`);
  if (response.status !== 101 || !response.webSocket) {
    throw new Error(`upgrade failed: ${response.status} ${await response.text()}`);
  }
  const socket = wrapSocket(response.webSocket);
  await socket.established;
  return socket;
}

let counter = 0;
/** A user id unique within the test file, so tests do not share actors. */
export function uniqueUser(label = "u"): string {
  counter += 1;
  return `${label}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

let requests = 0;
/** Send a command with a fresh id and resolve with the reply carrying it. */
export async function reply(socket: TestSocket, type: string, data: Record<string, unknown>) {
  requests += 1;
  const id = `r-${requests}`;
  socket.send({ type, data, id });
  return socket.frames.next((f) => f.id === id);
}

export const join = (s: TestSocket, group_name: string, extra: Record<string, unknown> = {}) =>
  reply(s, "join_group", { group_name, ...extra });
