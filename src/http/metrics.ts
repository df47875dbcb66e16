/**
 * `GET /metrics`: the Prometheus scrape (docs/operations.md). Authenticated like the HTTP API
 * (the API key, compared in constant time, or a staff JWT). It asks every PresenceShard for its
 * counter totals and online figures and the MirrorMonitor for the mirrors' lag, all in
 * parallel, and renders them; nothing is cached, so each figure is as fresh as its source.
 */
import type { Context } from "hono";
import { EXPOSITION_CONTENT_TYPE, type MirrorFigures, renderMetrics } from "../core/exposition.ts";
import { addTotals, type SeriesTotals } from "../core/metrics.ts";
import { shardName } from "../core/sharding.ts";
import { GATEWAY_VERSION, PROTOCOL_VERSION } from "../core/version.ts";
import { authenticateApiCaller } from "./api/auth.ts";
import { ApiRateLimiter } from "./api/rate-limit.ts";
import type { AppEnv } from "./types.ts";

/** Scrapes count against the caller's API rate (API_RATE_LIMIT_PER_SECOND), as API calls do. */
const limiter = new ApiRateLimiter();

export async function metrics(c: Context<AppEnv>): Promise<Response> {
  const config = c.get("config");
  const caller = await authenticateApiCaller(c.req.header("Authorization") ?? null, config);
  limiter.take(caller, config.apiRateLimit, Date.now());
  const now = Date.now();
  const [shards, lag] = await Promise.all([
    Promise.all(
      Array.from({ length: config.presenceShards }, (_, index) =>
        c.env.PRESENCE_SHARD.getByName(shardName(index)).metrics(),
      ),
    ),
    c.env.MIRROR_MONITOR.getByName("global").lag(),
  ]);
  const totals: SeriesTotals = {};
  let connections = 0;
  let usersOnline = 0;
  for (const shard of shards) {
    addTotals(totals, shard.totals);
    connections += shard.connections;
    usersOnline += shard.usersOnline;
  }
  const configured = {
    redis: config.redis !== null,
    postgres: config.postgres !== null,
    webhook: config.webhook !== null,
  };
  const mirrors: Record<string, MirrorFigures> = {};
  for (const [mirror, on] of Object.entries(configured)) {
    if (!on) continue;
    const entry = lag[mirror];
    mirrors[mirror] = {
      pending: entry?.users ?? 0,
      lagSeconds: entry?.oldestSince == null ? 0 : Math.max(0, (now - entry.oldestSince) / 1000),
    };
  }
  const body = renderMetrics({
    totals,
    connections,
    usersOnline,
    mirrors,
    build: { version: GATEWAY_VERSION, protocol: PROTOCOL_VERSION },
  });
  return new Response(body, {
    headers: { "content-type": EXPOSITION_CONTENT_TYPE, "cache-control": "no-store" },
  });
}
