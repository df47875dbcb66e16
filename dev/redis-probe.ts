// Whether a Redis answers at a URL, asked once and quickly, so the dev stack can decide to turn
// the Redis mirror off (loudly) instead of starting a bridge that would only answer 500.

import { Redis } from "ioredis";

/** PING with a deadline; true on PONG. Never throws. Default deadline: 1500 ms. */
export async function redisAnswers(url: string, timeoutMs = 1_500): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}
