/**
 * When the tokens of an actor's sockets expire, for its "token expiries" deadline: each socket
 * whose token expired (tolerance included) is told why and closed with 4001.
 *
 * The earliest expiry is kept rather than counted on every change: a socket's end leaves it as
 * it is, so ending N sockets does not walk the others N times. At worst the alarm comes early
 * once, and `expire` counts again.
 */
import { CLOCK_TOLERANCE_SECONDS } from "../core/auth.ts";
import type { Connection } from "../core/connection.ts";
import { encodeError } from "../protocol/codec.ts";
import { Disconnects, GatewayError } from "../protocol/errors.ts";
import { SocketSet } from "./socket-set.ts";

export class TokenExpiries {
  private readonly sockets: SocketSet;
  private readonly gone: (ws: WebSocket) => Promise<void>;
  /** No open socket's token expires before this (ms; null: no socket), undefined until counted. */
  private earliest: number | null | undefined;

  constructor(sockets: SocketSet, gone: (ws: WebSocket) => Promise<void>) {
    this.sockets = sockets;
    this.gone = gone;
  }

  /** A socket was accepted. */
  added(connection: Connection): void {
    if (this.earliest === undefined) return;
    const at = expiryOf(connection);
    this.earliest = this.earliest === null ? at : Math.min(this.earliest, at);
  }

  /** A connection's token changed (a refresh): count again when next asked. */
  recount(): void {
    this.earliest = undefined;
  }

  /** The earliest expiry of an open socket (ms since epoch), or null when none. */
  next(): number | null {
    if (this.earliest !== undefined) return this.earliest;
    let next: number | null = null;
    for (const { connection } of this.sockets.entries()) {
      const at = expiryOf(connection);
      next = next === null ? at : Math.min(next, at);
    }
    this.earliest = next;
    return next;
  }

  /** Tell each socket whose token expired why, then close it. */
  async expire(now: number): Promise<void> {
    this.earliest = undefined;
    for (const { ws, connection } of this.sockets.entries()) {
      if (connection.expiresAt + CLOCK_TOLERANCE_SECONDS <= now / 1000) {
        SocketSet.send(ws, encodeError(new GatewayError("token_expired", "token expired")));
        SocketSet.close(ws, Disconnects.tokenExpired);
        await this.gone(ws);
      }
    }
  }
}

/** When a connection's token expires, tolerance included (ms since epoch). */
function expiryOf(connection: Connection): number {
  return (connection.expiresAt + CLOCK_TOLERANCE_SECONDS) * 1000;
}
