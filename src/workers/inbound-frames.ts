/**
 * One frame from a socket, as every actor that holds sockets handles it: rate limit (sustained
 * abuse closes with 1008), decode into a typed command or a typed error, take its cost from the
 * user's budget (UserHub only), dispatch to the command's handler, and answer failures with an
 * `error` frame echoing the request id.
 */

import { RANDOM_IDS } from "../app/context.ts";
import {
  type CommandBudget,
  type CommandContext,
  dispatch,
  type HandlerTable,
  type HoldingActor,
  NO_BUDGET,
} from "../app/socket/index.ts";
import type { Config } from "../core/config.ts";
import type { Connection } from "../core/connection.ts";
import type { NewTargets } from "../core/new-targets.ts";
import { TokenBucket } from "../core/ratelimit.ts";
import type { UserBudget } from "../core/user-budget.ts";
import { decodeFrame, encodeError, encodeFrame } from "../protocol/codec.ts";
import { Disconnects, GatewayError, toGatewayError } from "../protocol/errors.ts";
import { meter } from "./meter.ts";
import { SocketSet } from "./socket-set.ts";

export class InboundFrames {
  private readonly config: Config;
  private readonly handlers: HandlerTable;
  private readonly label: string;
  /** Per-connection rate buckets; lost on hibernation, which only forgives a client. */
  private readonly buckets = new Map<string, TokenBucket>();
  /** The user's budget, shared by all their sockets here; null where sockets are of many users. */
  private readonly userBudget: UserBudget | null;
  private readonly budget: CommandBudget;

  /** `budget`: given by an actor whose sockets all belong to one user (UserHub). */
  constructor(
    config: Config,
    handlers: HandlerTable,
    label: string,
    budget?: { user: UserBudget; targets: NewTargets },
  ) {
    this.config = config;
    this.handlers = handlers;
    this.label = label;
    this.userBudget = budget?.user ?? null;
    this.budget =
      budget === undefined
        ? NO_BUDGET
        : {
            chargeReached: (users) => budget.user.charge(users, Date.now()),
            admitTarget: (userId) => {
              const admitted = budget.targets.admit(userId, Date.now());
              if (!admitted.ok) {
                throw new GatewayError(
                  "rate_limited",
                  "too many new direct-message targets this minute",
                  { retryAfterMs: admitted.retryAfterMs, details: { target_user_id: userId } },
                );
              }
            },
          };
  }

  async handle(
    ws: WebSocket,
    connection: Connection,
    raw: string | ArrayBuffer,
    holder: HoldingActor,
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
      if (taken.abusive) SocketSet.close(ws, Disconnects.abuse);
      return;
    }
    const decoded = decodeFrame(raw, this.config.maxFrameBytes);
    meter.frameReceived(decoded.ok ? decoded.command.type : null);
    if (!decoded.ok) {
      this.userBudget?.charge(1, now);
      SocketSet.send(ws, encodeError(decoded.error, decoded.id));
      return;
    }
    const { command } = decoded;
    const admitted = this.userBudget?.admitCommand(command, now);
    if (admitted !== undefined && !admitted.ok) {
      const error = new GatewayError("rate_limited", "over this user's budget", {
        retryAfterMs: admitted.retryAfterMs,
      });
      SocketSet.send(ws, encodeError(error, command.id));
      return;
    }
    const ctx: CommandContext = {
      connection,
      config: this.config,
      holder,
      budget: this.budget,
      now: Date.now,
      ids: RANDOM_IDS,
      requestId: command.id,
      send: (frame) => SocketSet.send(ws, frame),
      close: (disconnect) => SocketSet.close(ws, disconnect),
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
