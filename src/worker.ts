/**
 * The Worker entry: wires the app and re-exports the actors, nothing else.
 */
import { env } from "cloudflare:workers";
import { loadConfig } from "./core/config.ts";
import { createApp } from "./http/app.ts";
import { appFromEnv } from "./workers/actors-from-env.ts";
import { metered, meteredFetch } from "./workers/bench-meter.ts";
import { FanoutShard as FanoutShardActor } from "./workers/fanout-shard.ts";
import { MirrorMonitor as MirrorMonitorActor } from "./workers/mirror-monitor.ts";
import { PostgresQueue as PostgresQueueActor } from "./workers/postgres-queue.ts";
import { PresenceShard as PresenceShardActor } from "./workers/presence-shard.ts";
import { RoomHub as RoomHubActor } from "./workers/room-hub.ts";
import { UserHub as UserHubActor } from "./workers/user-hub.ts";

// Parse configuration at start-up, so a bad setting fails loudly with its name before the
// first request rather than on it.
const config = loadConfig(env);
console.log(
  `realtime gateway: redis mirror ${config.redis ? "on" : "off (UPSTASH_REDIS_REST_URL unset)"}, ` +
    `postgres mirror ${config.postgres ? "on" : "off (DATABASE_URL unset)"}` +
    (config.benchMeter ? ", BENCH_METER on (calls and rows counted)" : ""),
);

// With BENCH_METER (the bench only) every actor counts its calls and rows written.
const meter = config.benchMeter;
export class FanoutShard extends metered(FanoutShardActor, meter) {}
export class MirrorMonitor extends metered(MirrorMonitorActor, meter) {}
export class PostgresQueue extends metered(PostgresQueueActor, meter) {}
export class PresenceShard extends metered(PresenceShardActor, meter) {}
export class RoomHub extends metered(RoomHubActor, meter) {}
export class UserHub extends metered(UserHubActor, meter) {}
export { RealtimeService } from "./workers/realtime-service.ts";
export default meteredFetch(
  createApp((env) => appFromEnv(env)),
  meter,
);
