/**
 * The hibernatable sockets of one actor and their parsed attachments. The runtime's list
 * (`ctx.getWebSockets()`) is the truth; the parsed attachments are a cache rebuilt on wake.
 */
import { type Connection, parseConnection } from "../core/connection.ts";
import { type Disconnect, Disconnects } from "../protocol/errors.ts";
import { meter } from "./meter.ts";

/** The exact ping frame the runtime answers without waking the actor (docs/protocol.md). */
export const AUTO_PING = '{"type":"ping"}';
export const AUTO_PONG = '{"type":"pong"}';

export class SocketSet {
  private readonly ctx: DurableObjectState;
  private readonly parsed = new WeakMap<WebSocket, Connection>();
  private readonly label: string;

  constructor(ctx: DurableObjectState, label: string) {
    this.ctx = ctx;
    this.label = label;
  }

  accept(ws: WebSocket, connection: Connection): void {
    this.ctx.acceptWebSocket(ws, [connection.connectionId]);
    ws.serializeAttachment(connection);
    this.parsed.set(ws, connection);
  }

  /** Open sockets; `getWebSockets()` may still list CLOSING ones (workerd does). */
  open(except?: WebSocket, tag?: string): WebSocket[] {
    return this.ctx
      .getWebSockets(tag)
      .filter((ws) => ws !== except && ws.readyState === WebSocket.OPEN);
  }

  /** Open sockets with their connections; sockets whose attachment cannot be read are closed. */
  entries(except?: WebSocket, tag?: string): { ws: WebSocket; connection: Connection }[] {
    const result: { ws: WebSocket; connection: Connection }[] = [];
    for (const ws of this.open(except, tag)) {
      const connection = this.connectionOf(ws);
      if (connection) result.push({ ws, connection });
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
    }
  }

  /** Write a frame, counted in the isolate's meter (workers/meter.ts). */
  static send(ws: WebSocket, frame: string): void {
    try {
      ws.send(frame);
      meter.frameSent(frame);
    } catch {
      // The socket closed between our check and the send; its close event cleans up.
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
