/**
 * `GET /health`: the gateway serves (200) and says, per mirror, `off` (not configured), `ok`, or
 * `behind` with how many users' latest changes are unwritten and how old the oldest one is,
 * and `dead_letters`: notifications Postgres refused for their content (absent when none).
 * It never names hosts, URLs or tokens.
 *
 * Unauthenticated, so it is answered from a cache of HEALTH_CACHE_MS per isolate: a flood of
 * /health calls asks the MirrorMonitor actor at most once per isolate per window, and calls
 * that arrive while that one question is open wait for its answer instead of asking again.
 */
import type { Context } from "hono";
import type { AppEnv } from "./types.ts";

type MirrorHealth = "ok" | "off" | "behind";

interface HealthBody {
  status: "ok" | "degraded";
  redis: MirrorHealth;
  postgres: MirrorHealth;
  /**
   * Presence webhooks, only when configured: `behind` while the receiver fails; it does not
   * make the status degraded.
   */
  webhook?: MirrorHealth;
  /** Webhook events dropped unsent (older than WEBHOOK_MAX_AGE_SECONDS); absent when none. */
  webhook_dropped?: number;
  behind?: Record<string, { users: number; oldest_change_age_ms: number }>;
  dead_letters?: number;
}

/** How long one answer serves every /health call of an isolate, in milliseconds: 2,000. */
export const HEALTH_CACHE_MS = 2_000;

async function measure(c: Context<AppEnv>, now: number): Promise<HealthBody> {
  const config = c.get("config");
  const monitor = c.env.MIRROR_MONITOR.getByName("global");
  const [lag, deadLetters, webhookDropped] = await Promise.all([
    monitor.lag(),
    monitor.deadLetters(),
    config.webhook === null ? 0 : monitor.webhookDropped(),
  ]);
  const behind: Record<string, { users: number; oldest_change_age_ms: number }> = {};
  const stateOf = (name: "redis" | "postgres" | "webhook", configured: boolean): MirrorHealth => {
    if (!configured) return "off";
    const entry = lag[name];
    if (!entry || entry.users === 0) return "ok";
    behind[name] = {
      users: entry.users,
      oldest_change_age_ms: entry.oldestSince === null ? 0 : Math.max(0, now - entry.oldestSince),
    };
    return "behind";
  };
  const redis = stateOf("redis", config.redis !== null);
  const postgres = stateOf("postgres", config.postgres !== null);
  const webhook = stateOf("webhook", config.webhook !== null);
  // A failing webhook receiver is the application's outage, not the gateway's: it shows as
  // `behind` but leaves the status ok (the events wait in the actors' outboxes).
  const degraded = redis === "behind" || postgres === "behind";
  return {
    status: degraded ? "degraded" : "ok",
    redis,
    postgres,
    ...(config.webhook !== null ? { webhook } : {}),
    ...(Object.keys(behind).length > 0 ? { behind } : {}),
    ...(webhookDropped > 0 ? { webhook_dropped: webhookDropped } : {}),
    // Rows Postgres refused (parked in their users' actors): not a lag, so not `degraded`.
    ...(deadLetters > 0 ? { dead_letters: deadLetters } : {}),
  };
}

/** A /health handler with its own cache; `now` is the clock (ms), for tests. */
export function createHealth(options: { cacheMs?: number; now?: () => number } = {}) {
  const cacheMs = options.cacheMs ?? HEALTH_CACHE_MS;
  const clock = options.now ?? Date.now;
  // Keyed by the env object: one per isolate in Workers, so one cache per configuration.
  let cached: { env: object; at: number; body: Promise<HealthBody> } | null = null;
  return async function health(c: Context<AppEnv>): Promise<Response> {
    const now = clock();
    if (cached === null || cached.env !== c.env || now - cached.at >= cacheMs) {
      const entry = { env: c.env, at: now, body: measure(c, now) };
      cached = entry;
      // A failed question is not kept: the next call asks again.
      entry.body.catch(() => {
        if (cached === entry) cached = null;
      });
    }
    return c.json(await cached.body);
  };
}

export const health = createHealth();
