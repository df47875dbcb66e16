/**
 * `GET /health`: the gateway serves (200) and says, per mirror, `off` (not configured), `ok`, or
 * `behind` with how many users' latest changes are unwritten and how old the oldest one is,
 * and `dead_letters`: notifications Postgres refused for their content (absent when none).
 * It never names hosts, URLs or tokens.
 */
import type { Context } from "hono";
import type { AppEnv } from "./types.ts";

type MirrorHealth = "ok" | "off" | "behind";

export async function health(c: Context<AppEnv>): Promise<Response> {
  const config = c.get("config");
  const monitor = c.env.MIRROR_MONITOR.getByName("global");
  const [lag, deadLetters] = await Promise.all([monitor.lag(), monitor.deadLetters()]);
  const now = Date.now();
  const behind: Record<string, { users: number; oldest_change_age_ms: number }> = {};
  const stateOf = (name: "redis" | "postgres", configured: boolean): MirrorHealth => {
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
  const degraded = redis === "behind" || postgres === "behind";
  return c.json({
    status: degraded ? "degraded" : "ok",
    redis,
    postgres,
    ...(degraded ? { behind } : {}),
    // Rows Postgres refused (parked in their users' actors): not a lag, so not `degraded`.
    ...(deadLetters > 0 ? { dead_letters: deadLetters } : {}),
  });
}
