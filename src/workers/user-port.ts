/**
 * What command handlers on a user socket may ask of their UserHub beyond what the socket host
 * answers (src/workers/socket-host.ts), wired to the hub's parts and to other actors.
 */
import { verifySubscriptionToken } from "../core/auth.ts";
import type { Config } from "../core/config.ts";
import { type Mailbox, mailboxResumption } from "../core/mailbox.ts";
import { Backlog, inflightLimit } from "../core/overload.ts";
import { GatewayError } from "../protocol/errors.ts";
import { actorsFromEnv } from "./actors-from-env.ts";
import type { HolderPort } from "./socket-host.ts";
import type { UserConnections } from "./user-connections.ts";

export interface UserPortParts {
  env: Env;
  config: Config;
  connections: UserConnections;
  mailbox: Mailbox;
}

/** One per isolate: the UserHubs in it share a thread, so they share whether it is behind. */
const backlog = new Backlog();

export function createUserPort(parts: UserPortParts): HolderPort {
  const { env, config, connections, mailbox } = parts;
  const userId = async () => (await connections.presence.profile())?.userId ?? "";
  // Direct messages this user's sockets are waiting on: past ACTOR_MAX_INFLIGHT of them, or while
  // the oldest has waited DELIVERY_MAX_WAIT_MS, a send is answered `unavailable` at once instead
  // of queueing behind the others. (Room messages are bounded by their RoomHub.)
  const outbound = inflightLimit(config.overload, "too many messages in flight from this user", {
    backlog,
  });
  return {
    connectionCount: () => connections.count(),
    actors: actorsFromEnv(env, config, outbound),
    replay: (sinceSeq) => mailboxResumption(mailbox.replay(sinceSeq, Date.now())),
    verifySubscription: async (token, groupName) =>
      verifySubscriptionToken(token, config, await userId(), groupName),
    postConsultation: () => {
      throw new GatewayError(
        "forbidden",
        "consultation_message is only accepted on consultation sockets",
      );
    },
  };
}
