/**
 * What command handlers on a user socket may ask of their UserHub beyond what the socket host
 * answers (src/workers/socket-host.ts), wired to the hub's parts and to other actors. Stub calls
 * go through `actorsFromEnv`, so a socket sees the same codes as the HTTP API.
 */
import type { Config } from "../core/config.ts";
import { type Mailbox, mailboxResumption } from "../core/mailbox.ts";
import { Backlog, inflightLimit } from "../core/overload.ts";
import { actorsFromEnv } from "./actors-from-env.ts";
import type { HolderPart } from "./socket-host.ts";
import type { UserConnections } from "./user-connections.ts";

export interface UserHoldingActorParts {
  env: Env;
  config: Config;
  connections: UserConnections;
  mailbox: Mailbox;
}

/** One per isolate: the UserHubs in it share a thread, so they share whether it is behind. */
const backlog = new Backlog();

export function userHoldingActor(parts: UserHoldingActorParts): HolderPart {
  const { env, config, connections, mailbox } = parts;
  // Direct messages this user's sockets are waiting on: past ACTOR_MAX_INFLIGHT of them, or while
  // the oldest has waited DELIVERY_MAX_WAIT_MS, a send is answered `unavailable` at once instead
  // of queueing behind the others. (Room messages are bounded by their RoomHub.)
  const outbound = inflightLimit(config.overload, "too many messages in flight from this user", {
    backlog,
  });
  return {
    actors: actorsFromEnv(env, config, outbound),
    connectionCount: () => connections.count(),
    replay: (sinceSeq) => mailboxResumption(mailbox.replay(sinceSeq, Date.now())),
  };
}
