/**
 * The Worker entry: wires the app and re-exports the actors, nothing else.
 */
import { env } from "cloudflare:workers";
import { loadConfig } from "./core/config.ts";
import { createApp } from "./http/app.ts";
import { appFromEnv } from "./workers/actors-from-env.ts";

// Parse configuration at start-up, so a bad setting fails loudly with its name before the
// first request rather than on it.
const config = loadConfig(env);
console.log(
  `realtime gateway: redis mirror ${config.redis ? "on" : "off (UPSTASH_REDIS_REST_URL unset)"}, ` +
    `postgres mirror ${config.postgres ? "on" : "off (DATABASE_URL unset)"}`,
);

export { MirrorMonitor } from "./workers/mirror-monitor.ts";
export { PostgresQueue } from "./workers/postgres-queue.ts";
export { PresenceShard } from "./workers/presence-shard.ts";
export { RealtimeService } from "./workers/realtime-service.ts";
export { RoomHub } from "./workers/room-hub.ts";
export { UserHub } from "./workers/user-hub.ts";
export default createApp((env) => appFromEnv(env));
