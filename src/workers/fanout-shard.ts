/**
 * FanoutShard: delivers one chunk of a large fan-out (a room's members, a presence shard's
 * online users) so no actor makes more than FANOUT_MAX_CALLS_PER_MESSAGE calls for a message.
 * It keeps no state; the tree is planned in src/core/fanout-tree.ts. Shards are named after
 * the actor that started the fan-out and their place in the tree (`fanout:room:g/2/0`).
 */
import { DurableObject } from "cloudflare:workers";
import type { Window } from "../core/bounded.ts";
import { type Config, loadConfig } from "../core/config.ts";
import type { Delivery } from "../core/delivery.ts";
import { type FanoutResult, fanOut } from "../core/fanout-tree.ts";
import { forRpc } from "../protocol/errors.ts";

/** Deliveries one shard keeps in flight. */
const SHARD_CONCURRENCY = 128;

export class FanoutShard extends DurableObject<Env> {
  private readonly config: Config;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = loadConfig(env);
  }

  /** Deliver `delivery` to `userIds` (directly or through shards below this one). */
  async deliver(path: string, userIds: string[], delivery: Delivery): Promise<FanoutResult> {
    try {
      return await fanOutToUsers(this.env, this.config, path, userIds, delivery);
    } catch (err) {
      throw forRpc(err);
    }
  }
}

/**
 * Deliver to users' UserHubs from the actor named `path`: directly when they fit under
 * FANOUT_MAX_CALLS_PER_MESSAGE, else through FanoutShards `path/0`, `path/1`, …. A `window`
 * shared by the caller bounds its direct deliveries across messages.
 */
export function fanOutToUsers(
  env: Env,
  config: Config,
  path: string,
  userIds: readonly string[],
  delivery: Delivery,
  window?: Window,
): Promise<FanoutResult> {
  const direct = async (userId: string) => {
    const result = await env.USER_HUB.getByName(userId).deliver(userId, delivery);
    if (result.status === "delivered" || result.status === "duplicate") return "reached" as const;
    return result.status === "dropped" ? ("dropped" as const) : ("failed" as const);
  };
  return fanOut(
    userIds,
    { maxCalls: config.fanoutMaxCalls, concurrency: window?.size ?? SHARD_CONCURRENCY },
    {
      toUser: (userId) => (window ? window.run(() => direct(userId)) : direct(userId)),
      toShard: (index, chunk) => {
        const name = `${path}/${index}`;
        return env.FANOUT_SHARD.getByName(name).deliver(name, chunk, delivery);
      },
      log: (message) => console.warn(`${path}: ${message}`),
    },
  );
}
