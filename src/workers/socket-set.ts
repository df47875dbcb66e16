/**
 * The hibernatable sockets of one actor and their parsed attachments. The runtime's list
 * (`ctx.getWebSockets()`) is the truth; the open sockets with their parsed attachments are a
 * cache built from it on wake and kept by accept, save and forget, so a message to a room's
 * 2,000 sockets walks a Map instead of asking the runtime for 2,000 new socket handles.
 */
import { type Connection, parseConnection } from "../core/connection.ts";
import { type Disconnect, Disconnects } from "../protocol/errors.ts";
import { meter } from "./meter.ts";

/** The exact ping frame the runtime answers without waking the actor (docs/protocol.md). */
export const AUTO_PING = '{"type":"ping"}';
export const AUTO_PONG = '{"type":"pong"}';

/** `getWebSockets()` may still list CLOSING ones (workerd does). */
const isOpen = (ws: WebSocket) => ws.readyState === WebSocket.OPEN;

export class SocketSet {
  private readonly ctx: DurableObjectState;
  private readonly parsed = new WeakMap<WebSocket, Connection>();
  /** The sockets accepted and not yet forgotten, in accept order; null until built after a wake. */
  private live: Map<WebSocket, Connection> | null = null;
  private readonly label: string;

  constructor(ctx: DurableObjectState, label: string) {
    this.ctx = ctx;
    this.label = label;
  }

  accept(ws: WebSocket, connection: Connection): void {
    this.ctx.acceptWebSocket(ws, [connection.connectionId]);
    ws.serializeAttachment(connection);
    this.parsed.set(ws, connection);
    this.live?.set(ws, connection);
  }

  /** The socket ended (closed, failed, expired or terminated): no longer listed. */
  forget(ws: WebSocket): void {
    this.live?.delete(ws);
  }

  /** Open sockets; a socket closing (or closed) whose end was not handled yet is left out. */
  open(except?: WebSocket, tag?: string): WebSocket[] {
    return this.entries(except, tag).map((entry) => entry.ws);
  }

  /** Open sockets with their connections; sockets whose attachment cannot be read are closed. */
  entries(except?: WebSocket, tag?: string): { ws: WebSocket; connection: Connection }[] {
    const result: { ws: WebSocket; connection: Connection }[] = [];
    if (tag !== undefined) {
      // One connection's socket: asked of the runtime, which indexes its tags.
      for (const ws of this.ctx.getWebSockets(tag)) {
        const connection = ws !== except && isOpen(ws) ? this.connectionOf(ws) : null;
        if (connection) result.push({ ws, connection });
      }
      return result;
    }
    for (const [ws, connection] of this.liveSockets()) {
      if (ws !== except && isOpen(ws)) result.push({ ws, connection });
    }
    return result;
  }

  connectionOf(ws: WebSocket): Connection | null {
    const cached = this.parsed.get(ws);
    if (cached) return cached;
    const parsed = parseConnection(ws.deserializeAttachment());
    if (parsed === null) {
      // An attachment we cannot read (older format, corruption): the client reconnects cleanly.
      console.warn(`${this.label}:connectionOf: unreadable attachment, closing socket`);
      SocketSet.close(ws, Disconnects.sessionLost);
      return null;
    }
    this.parsed.set(ws, parsed);
    return parsed;
  }

  /** Persist a changed connection into its socket's attachment. */
  save(connection: Connection): void {
    const [ws] = this.ctx.getWebSockets(connection.connectionId);
    if (ws) {
      ws.serializeAttachment(connection);
      this.parsed.set(ws, connection);
      if (this.live?.has(ws)) this.live.set(ws, connection);
    }
  }

  /** The runtime's open sockets with readable attachments, listed once per wake. */
  private liveSockets(): Map<WebSocket, Connection> {
    if (this.live === null) {
      const live = new Map<WebSocket, Connection>();
      for (const ws of this.ctx.getWebSockets()) {
        const connection = isOpen(ws) ? this.connectionOf(ws) : null;
        if (connection) live.set(ws, connection);
      }
      this.live = live;
    }
    return this.live;
  }

  /** Write a frame, counted in the isolate's meter (workers/meter.ts). */
  static send(ws: WebSocket, frame: string): void {
    if (SocketSet.write(ws, frame)) meter.frameSent(frame);
  }

  /** Write one frame to many sockets, counted once for all of them; how many took it. */
  static sendAll(sockets: Iterable<WebSocket>, frame: string): number {
    let written = 0;
    for (const ws of sockets) if (SocketSet.write(ws, frame)) written++;
    meter.frameSent(frame, written);
    return written;
  }

  private static write(ws: WebSocket, frame: string): boolean {
    try {
      ws.send(frame);
      return true;
    } catch {
      // The socket closed between our check and the send; its close event cleans up.
      return false;
    }
  }

  /** Close a socket through a row of the disconnect table (src/protocol/errors.ts). */
  static close(ws: WebSocket, disconnect: Disconnect): void {
    SocketSet.closeRaw(ws, disconnect.code, disconnect.reason);
  }

  private static closeRaw(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code, reason);
    } catch {
      // Already closed.
    }
  }

  /**
   * Answer a peer's close frame. workerd does not do it by itself:
   * without this the client waits for its own timeout and ends with 1006. 1005 and 1006 are
   * reserved codes that cannot be sent, so those are answered with 1000.
   */
  static reciprocate(ws: WebSocket, code: number, reason: string): void {
    if (code === 1005 || code === 1006) SocketSet.close(ws, Disconnects.normal);
    else SocketSet.closeRaw(ws, code, reason);
  }
}
