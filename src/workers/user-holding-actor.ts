/**
 * What command handlers on a user socket may ask of their UserHub (its HoldingActor), wired to
 * the hub's parts and to other actors. Stub calls go through `actorsFromEnv`, so a socket sees
 * the same codes as the HTTP API.
 */

import type { HoldingActor } from "../app/socket/index.ts";
import type { Config } from "../core/config.ts";
import type { Mailbox } from "../core/mailbox.ts";
import { Backlog, inflightLimit } from "../core/overload.ts";
import { actorsFromEnv } from "./actors-from-env.ts";
import type { SocketSet } from "./socket-set.ts";
import type { UserConnections } from "./user-connections.ts";

export interface UserHoldingActorParts {
  env: Env;
  config: Config;
  sockets: SocketSet;
  connections: UserConnections;
  mailbox: Mailbox;
  reschedule: () => Promise<void>;
}

/** One per isolate: the UserHubs in it share a thread, so they share whether it is behind. */
const backlog = new Backlog();

export function userHoldingActor(parts: UserHoldingActorParts): HoldingActor {
  const { env, config, sockets, connections, mailbox } = parts;
  // Direct messages this user's sockets are waiting on: past ACTOR_MAX_INFLIGHT of them, or while
  // the oldest has waited DELIVERY_MAX_WAIT_MS, a send is answered `unavailable` at once instead
  // of queueing behind the others. (Room messages are bounded by their RoomHub.)
  const outbound = inflightLimit(config.overload, "too many messages in flight from this user", {
    backlog,
  });
  return {
    actors: actorsFromEnv(env, config, outbound),
    connectionCount: () => connections.count(),
    saveConnection: (connection) => sockets.save(connection),
    reschedule: parts.reschedule,
    replay: (sinceSeq) => mailbox.replay(sinceSeq, Date.now()),
  };
}
