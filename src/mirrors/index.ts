/**
 * The presence mirrors configured for this deployment. A mirror whose settings are absent is
 * off (and said so once at start by the Worker).
 *
 * Built once per parsed configuration (one per isolate) and shared by every actor in it: the
 * mirrors hold only settings and a small catalog cache, never a connection, so sharing them
 * across requests is safe in workerd.
 */
import type { Config } from "../core/config.ts";
import type { NotificationWriter } from "../core/notification-outbox.ts";
import type { PresenceSnapshot } from "../core/presence.ts";
import type { MirrorTarget } from "../core/presence-keeper.ts";
import { NeonPostgresMirror } from "./postgres.ts";
import { UpstashRedisMirror } from "./redis.ts";
import type { PostgresMirror, RedisMirror } from "./types.ts";

export type MirrorWriters = Partial<
  Record<MirrorTarget, (snapshot: PresenceSnapshot) => Promise<void>>
>;

interface Built {
  redis: RedisMirror | null;
  postgres: PostgresMirror | null;
}

const built = new WeakMap<Config, Built>();

function mirrorsOf(config: Config): Built {
  let mirrors = built.get(config);
  if (mirrors === undefined) {
    mirrors = {
      redis: config.redis
        ? new UpstashRedisMirror({
            url: config.redis.url,
            token: config.redis.token,
            keyPrefix: config.redis.keyPrefix,
          })
        : null,
      postgres: config.postgres
        ? new NeonPostgresMirror({
            databaseUrl: config.postgres.url,
            neonWsProxy: config.postgres.wsProxy ?? undefined,
            users: config.postgres.users,
          })
        : null,
    };
    built.set(config, mirrors);
  }
  return mirrors;
}

export function createMirrors(config: Config): MirrorWriters {
  const { redis, postgres } = mirrorsOf(config);
  const writers: MirrorWriters = {};
  if (redis) writers.redis = (snapshot) => redis.write(snapshot);
  if (postgres) {
    writers.postgres = async (snapshot) => {
      await postgres.write(snapshot);
    };
  }
  return writers;
}

/** Whether a user exists in the application's user table; null when Postgres is off. */
export function createUserDirectory(config: Config): ((userId: string) => Promise<boolean>) | null {
  const { postgres } = mirrorsOf(config);
  return postgres ? (userId) => postgres.userExists(userId) : null;
}

/** Records notifications in Postgres; null when Postgres is off. */
export function createNotificationWriter(config: Config): NotificationWriter | null {
  const { postgres } = mirrorsOf(config);
  return postgres ? (records) => postgres.recordNotifications(records) : null;
}
