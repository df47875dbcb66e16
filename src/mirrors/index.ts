/**
 * The presence mirrors configured for this deployment. A mirror whose settings are absent is
 * off (and said so once at start by the Worker).
 *
 * The Redis mirror is built once per parsed configuration (one per isolate) and shared by every
 * actor in it: it holds only settings, never a connection, so sharing it across requests is
 * safe in workerd. Postgres is reached through the PostgresQueue actors (queuedPostgres), which
 * bound how many sessions the gateway opens; the caller passes that mirror in.
 */
import type { Config } from "../core/config.ts";
import type { MirrorTarget } from "../core/mirror-flusher.ts";
import type { PresenceSnapshot } from "../core/presence.ts";
import { UpstashRedisMirror } from "./redis.ts";
import type { PostgresMirror, RedisMirror } from "./types.ts";

export type MirrorWriters = Partial<
  Record<MirrorTarget, (snapshot: PresenceSnapshot) => Promise<void>>
>;

const redisMirrors = new WeakMap<Config, RedisMirror | null>();

function redisOf(config: Config): RedisMirror | null {
  let mirror = redisMirrors.get(config);
  if (mirror === undefined) {
    mirror = config.redis
      ? new UpstashRedisMirror({
          url: config.redis.url,
          token: config.redis.token,
          keyPrefix: config.redis.keyPrefix,
        })
      : null;
    redisMirrors.set(config, mirror);
  }
  return mirror;
}

/** The presence writers of the external stores: Redis from `config`, and `postgres` if given. */
export function createMirrors(config: Config, postgres: PostgresMirror | null): MirrorWriters {
  const redis = redisOf(config);
  const writers: MirrorWriters = {};
  if (redis) writers.redis = (snapshot) => redis.write(snapshot);
  if (postgres) {
    writers.postgres = async (snapshot) => {
      await postgres.write(snapshot);
    };
  }
  return writers;
}
