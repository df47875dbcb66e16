/**
 * The actors as the operations reach them, and the one mapping of their failures. Every stub
 * call made for a caller (an HTTP request, the RealtimeService binding, a command on a socket)
 * goes through `callActor`, so the same failure reads the same everywhere: an overloaded actor
 * is `unavailable` with a retry delay on a socket as over HTTP, never `internal`.
 */

import { type Actors, type AppContext, RANDOM_IDS, SYSTEM_CLOCK } from "../app/context.ts";
import { type Config, loadConfig } from "../core/config.ts";
import type { DeliveryResult } from "../core/delivery.ts";
import { Backlog, type InflightLimit, inflightLimit } from "../core/overload.ts";
import { shardName } from "../core/sharding.ts";
import { GatewayError, isErrorCode, readRpcMessage, toGatewayError } from "../protocol/errors.ts";

/** How long a caller refused for an overloaded actor is asked to wait, in milliseconds: 1,000. */
const DEFAULT_RETRY_AFTER_MS = 1_000;

/**
 * A failed actor call, as the caller should see it. Workers RPC keeps only an error's message,
 * so an actor's GatewayError arrives as a plain Error whose message carries its code
 * (`forRpc`), read back here. A Durable Object the runtime could not reach (its queue too deep:
 * `overloaded`; reset or evicted mid-call: `retryable`) did not run the call, so it is an outage
 * (`unavailable` with a retry delay), not an internal error. Anything else passes through (and
 * becomes `internal` where it is answered).
 */
export function actorFailure(err: unknown, retryAfterMs = DEFAULT_RETRY_AFTER_MS): unknown {
  if (err instanceof GatewayError) return err;
  const carried = readRpcMessage(err);
  if (carried !== null && isErrorCode(carried.code)) return toGatewayError(err);
  if (
    typeof err === "object" &&
    err !== null &&
    (("overloaded" in err && err.overloaded === true) ||
      ("retryable" in err && err.retryable === true))
  ) {
    return new GatewayError("unavailable", "the gateway is busy; retry shortly", {
      cause: err,
      retryAfterMs,
    });
  }
  return err;
}

/** Run one stub call, its failure mapped by `actorFailure`. */
export async function callActor<T>(
  call: () => Promise<T>,
  retryAfterMs = DEFAULT_RETRY_AFTER_MS,
): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw actorFailure(err, retryAfterMs);
  }
}

/**
 * Deliveries this worker isolate awaits for API callers (ACTOR_MAX_INFLIGHT): module scope is
 * one per isolate. Past it a send is answered 503 with Retry-After before it reaches an actor.
 */
let apiDeliveries: InflightLimit | undefined;

function apiDeliveriesOf(config: Config): InflightLimit {
  apiDeliveries ??= inflightLimit(config.overload, "too many messages in flight", {
    backlog: new Backlog(),
  });
  return apiDeliveries;
}

/**
 * The actors behind `env`. `deliveries` bounds the deliveries callers wait for: by default the
 * isolate's bound for API callers; a UserHub passes its own user's bound for its sockets.
 */
export function actorsFromEnv(
  env: Env,
  config: Config = loadConfig(env),
  deliveries: InflightLimit = apiDeliveriesOf(config),
): Actors {
  const { overload } = config;
  // A delivery the caller waits for: bounded here, refused by a target that queued it too long.
  const bounded = <T>(call: (offeredAt: number) => Promise<T>) =>
    deliveries.run(() => callActor(() => call(Date.now()), overload.retryAfterMs));
  return {
    user: (userId) => {
      const stub = env.USER_HUB.getByName(userId);
      return {
        notify: (notification) =>
          bounded<DeliveryResult>((at) => stub.notify(userId, notification, at)),
        deliver: (delivery) => bounded<DeliveryResult>((at) => stub.deliver(userId, delivery, at)),
        exists: () => callActor(() => stub.exists(userId)),
        status: () => callActor(() => stub.status()),
        details: () => callActor(() => stub.details()),
        terminate: (termination) => callActor(() => stub.terminate(userId, termination)),
      };
    },
    shard: (index) => {
      const stub = env.PRESENCE_SHARD.getByName(shardName(index));
      return {
        online: () => callActor(() => stub.online()),
        broadcast: (delivery) => callActor(() => stub.broadcast(delivery)),
      };
    },
    room: (groupName) => {
      // A deployment whose wrangler.toml has no ROOM_HUB binding answers group sends with 503.
      if (!("ROOM_HUB" in env)) return null;
      const stub = env.ROOM_HUB.getByName(`room:${groupName}`);
      return {
        publish: (message) => callActor(() => stub.publish(groupName, message)),
        join: (userId, connectionId, since) =>
          callActor(() => stub.join(groupName, userId, connectionId, since)),
        leave: (userId, connectionId) =>
          callActor(() => stub.leave(groupName, userId, connectionId)),
      };
    },
  };
}

/** What an operation is given in the runtime: the actors behind `env`, the clock, random ids. */
export function appFromEnv(env: Env, config: Config = loadConfig(env)): AppContext {
  return { actors: actorsFromEnv(env, config), clock: SYSTEM_CLOCK, ids: RANDOM_IDS };
}
