/**
 * One frame from a socket, as every actor that holds sockets handles it: rate limit (sustained
 * abuse closes with 1008), decode into a typed command or a typed error, dispatch to the
 * command's handler, and answer failures with an `error` frame echoing the request id.
 */
import type { Config } from "../core/config.ts";
import type { Connection } from "../core/connection.ts";
import {
  type CommandContext,
  dispatch,
  type HandlerTable,
  type HubPort,
} from "../core/handlers/index.ts";
import { TokenBucket } from "../core/ratelimit.ts";
import { decodeFrame, encodeError, encodeFrame } from "../protocol/codec.ts";
import { CloseCode, GatewayError, toGatewayError } from "../protocol/errors.ts";
import { SocketSet } from "./socket-set.ts";

export class InboundFrames {
  private readonly config: Config;
  private readonly handlers: HandlerTable;
  private readonly label: string;
  /** Per-connection rate buckets; lost on hibernation, which only forgives a client. */
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(config: Config, handlers: HandlerTable, label: string) {
    this.config = config;
    this.handlers = handlers;
    this.label = label;
  }

  async handle(
    ws: WebSocket,
    connection: Connection,
    raw: string | ArrayBuffer,
    hub: HubPort,
  ): Promise<void> {
    const now = Date.now();
    let bucket = this.buckets.get(connection.connectionId);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.config.rateLimit, now);
      this.buckets.set(connection.connectionId, bucket);
    }
    const taken = bucket.take(now);
    if (!taken.ok) {
      const error = new GatewayError("rate_limited", "too many frames", {
        retryAfterMs: taken.retryAfterMs,
      });
      SocketSet.send(ws, encodeError(error));
      if (taken.abusive) SocketSet.close(ws, CloseCode.policyViolation, "rate limit abuse");
      return;
    }
    const decoded = decodeFrame(raw, this.config.maxFrameBytes);
    if (!decoded.ok) {
      SocketSet.send(ws, encodeError(decoded.error, decoded.id));
      return;
    }
    const { command } = decoded;
    const ctx: CommandContext = {
      connection,
      config: this.config,
      hub,
      now: Date.now,
      requestId: command.id,
      send: (frame) => SocketSet.send(ws, frame),
      close: (code, reason) => SocketSet.close(ws, code, reason),
      reply: (type, data) => SocketSet.send(ws, encodeFrame(type, data, { id: command.id })),
    };
    try {
      await dispatch(this.handlers, ctx, command);
    } catch (err) {
      const error = toGatewayError(err);
      if (error.code === "internal")
        console.error(`${this.label}:webSocketMessage:${command.type}`, err);
      SocketSet.send(ws, encodeError(error, command.id));
    }
  }

  /** The connection ended: drop its bucket. */
  forget(connectionId: string): void {
    this.buckets.delete(connectionId);
  }
}
