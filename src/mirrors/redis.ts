// The Redis presence mirror over Upstash's REST API (@upstash/redis): plain fetch, so it works
// in workerd without sockets and in Node against dev/upstash-bridge.ts.

import { Redis } from "@upstash/redis";
import { MirrorWriteError, type PresenceSnapshot, type RedisMirror } from "./types.ts";

export interface UpstashRedisMirrorOptions {
  /** UPSTASH_REDIS_REST_URL */
  url: string;
  /** UPSTASH_REDIS_REST_TOKEN */
  token: string;
  /** REDIS_KEY_PREFIX, prepended to every key. Default "". */
  keyPrefix?: string;
  /** Lifetime of `user_connections:{id}`, in seconds, renewed while online. Default 86400. */
  ttlSeconds?: number;
  /**
   * Network retries inside one write, before the outbox's own backoff takes over. Default 1:
   * a long in-call retry chain would only delay the alarm.
   */
  retries?: number;
}

/** Keys as docs/protocol.md names them, under the configured prefix. */
export function redisKeys(prefix: string, userId: string) {
  return {
    connections: `${prefix}user_connections:${userId}`,
    online: `${prefix}online_users`,
  };
}

export class UpstashRedisMirror implements RedisMirror {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #ttlSeconds: number;

  constructor(options: UpstashRedisMirrorOptions) {
    if (!options.url || !options.token) {
      throw new TypeError("UpstashRedisMirror: url and token are required");
    }
    this.#prefix = options.keyPrefix ?? "";
    this.#ttlSeconds = options.ttlSeconds ?? 86_400;
    this.#redis = new Redis({
      url: options.url,
      token: options.token,
      // Replies are only counts here; raw strings keep ids like "42" from turning into numbers.
      automaticDeserialization: false,
      enableTelemetry: false,
      retry: { retries: options.retries ?? 1, backoff: (attempt) => 100 * 2 ** attempt },
    });
  }

  async write(snapshot: PresenceSnapshot): Promise<void> {
    const keys = redisKeys(this.#prefix, snapshot.userId);
    // Redis has no empty sets: no connections (offline, or online inside the grace period)
    // means no key.
    const tx = this.#redis.multi().del(keys.connections);
    const [first, ...rest] = snapshot.connectionIds;
    if (first !== undefined) {
      tx.sadd(keys.connections, first, ...rest).expire(keys.connections, this.#ttlSeconds);
    }
    if (snapshot.isOnline) tx.sadd(keys.online, snapshot.userId);
    else tx.srem(keys.online, snapshot.userId);
    try {
      // exec() throws if any command in the transaction failed.
      await tx.exec();
    } catch (err) {
      throw new MirrorWriteError("redis", err);
    }
  }

  refresh(snapshot: PresenceSnapshot): Promise<void> {
    return this.write(snapshot);
  }
}
