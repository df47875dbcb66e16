// What the gateway leans on besides its own runtime, set up the same way for `npm run dev`
// (wrangler dev, local-stack.ts) and `npm start` (workerd serve, workerd-server.ts): Postgres (the
// given DATABASE_URL, else embedded PGlite), the Neon WebSocket proxy in front of it, the
// migrations, and the Redis mirror (a configured Upstash, else the local bridge over a Redis that
// answers, else off).

import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { migrate } from "../scripts/migrate.ts";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";
import { type NeonProxy, startNeonProxy } from "./neon-proxy.ts";
import { redactUrl } from "./redact.ts";
import { redisAnswers } from "./redis-probe.ts";
import { startUpstashBridge } from "./upstash-bridge.ts";
import type { WorkerVars } from "./worker-env.ts";

export type RedisMirrorMode =
  /** The local bridge over REDIS_URL. */
  | "bridge"
  /** UPSTASH_REDIS_REST_URL was configured: a real Upstash (or another bridge). */
  | "upstash"
  /** No Redis answered: the Worker runs without the Redis mirror. */
  | "off";

/** What `npm run dev` and `npm start` both take besides their runtime's own options. */
export interface StackConfigOptions {
  /** Settings as in .dev.vars. Default: `.dev.vars` beside the wrangler config, if present. */
  devVars?: WorkerVars;
  /** Where configuration overrides come from (CONFIG_VARIABLES only). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Worker vars that win over everything (tests: short grace periods and the like). */
  vars?: WorkerVars;
  /** Redis behind the bridge. Default: REDIS_URL from env or .dev.vars, else 127.0.0.1:6379. */
  redisUrl?: string;
  /** Progress and notices of the stack. Default: silent. Never receives secrets. */
  log?: (line: string) => void;
  /** How long the runtime may take to be ready, in milliseconds. Default 60000. */
  readyTimeoutMs?: number;
}

export interface StackServicesOptions {
  /** Embedded Postgres keeps its data in `<dataDir>/pglite`. */
  dataDir: string;
  /** The configuration (.dev.vars overridden by the environment). */
  settings: WorkerVars;
  /** Redis behind the bridge, used when no UPSTASH_REDIS_REST_URL is configured. */
  redisUrl: string;
  /** Ports of the helpers; 0 (the default) picks free ones. */
  ports?: { postgres?: number; neonProxy?: number; upstashBridge?: number };
  /** Progress and notices. Never receives secrets. */
  log: (line: string) => void;
}

export interface StackServices {
  postgres: {
    /** DATABASE_URL as the Worker gets it (may hold a password: do not print it). */
    url: string;
    embedded: boolean;
    /** NEON_WS_PROXY as the Worker gets it; null for a real Neon database. */
    neonWsProxy: string | null;
  };
  redis: { mode: RedisMirrorMode; restUrl: string | null; redisUrl: string | null };
  /** `settings` with what the services provide (DATABASE_URL, NEON_WS_PROXY, UPSTASH_*). */
  workerVars: WorkerVars;
  faults: StackFaults;
  /** Stops the helpers in reverse order of start. Idempotent. */
  close(): Promise<void>;
}

export interface StackFaults {
  /**
   * Stops the Neon WebSocket proxy: open Postgres sessions are cut and new ones refused, so the
   * Worker cannot reach Postgres while the database itself keeps running. Idempotent. Throws
   * when the stack runs no proxy (a real Neon host, or NEON_WS_PROXY configured).
   */
  stopPostgresProxy(): Promise<void>;
  /** Starts the proxy again on the same port, so NEON_WS_PROXY stays valid. Idempotent. */
  startPostgresProxy(): Promise<void>;
}

export class LocalStackError extends Error {
  override readonly name = "LocalStackError";
}

/** Real Neon is reached through Neon's own WebSocket proxy; no local proxy in between. */
function isNeonHost(databaseUrl: string): boolean {
  return /\.neon\.tech$/i.test(new URL(databaseUrl).hostname);
}

function proxyTarget(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  if (!/^postgres(ql)?:$/.test(url.protocol)) {
    throw new LocalStackError(
      `DATABASE_URL must be a postgres:// URL, got ${redactUrl(databaseUrl)}`,
    );
  }
  return `${url.hostname}:${url.port || 5432}`;
}

export async function startStackServices(options: StackServicesOptions): Promise<StackServices> {
  const { dataDir, settings, redisUrl, log } = options;
  // Started pieces, stopped in reverse order on failure or close().
  const started: { name: string; close: () => Promise<unknown> }[] = [];
  const close = async () => {
    for (const piece of started.reverse()) {
      await piece.close().catch((err: unknown) => {
        log(`stopping ${piece.name} failed: ${err instanceof Error ? err.message : String(err)}`);
      });
    }
    started.length = 0;
  };

  try {
    // Postgres: the given DATABASE_URL, else embedded PGlite under dataDir.
    let databaseUrl = settings.DATABASE_URL;
    let neonWsProxy: string | null = settings.NEON_WS_PROXY ?? null;
    const embedded = databaseUrl === undefined;
    if (databaseUrl === undefined) {
      const pg = await startEmbeddedPostgres({
        dataDir: join(dataDir, "pglite"),
        port: options.ports?.postgres ?? 0,
      });
      started.push({ name: "embedded Postgres", close: pg.close });
      databaseUrl = pg.url;
      neonWsProxy = null;
      log(`postgres: embedded PGlite at ${pg.url} (data in ${join(dataDir, "pglite")})`);
    } else {
      log(`postgres: ${redactUrl(databaseUrl)}`);
    }
    // The running proxy, if the stack runs one; replaced when a fault test restarts it.
    let proxy: NeonProxy | null = null;
    let restartProxy: (() => Promise<NeonProxy>) | null = null;
    if (neonWsProxy === null && !isNeonHost(databaseUrl)) {
      const target = proxyTarget(databaseUrl);
      const startProxy = (port: number) =>
        startNeonProxy({ port, allowedTargets: [target], onError: (message) => log(message) });
      const first = await startProxy(options.ports?.neonProxy ?? 0);
      proxy = first;
      restartProxy = () => startProxy(first.port);
      started.push({
        name: "Neon proxy",
        close: async () => {
          await proxy?.close();
          proxy = null;
        },
      });
      neonWsProxy = first.wsProxy;
      log(`postgres: Neon WebSocket proxy on ${first.wsProxy} → ${target}`);
    }
    const faults: StackFaults = {
      async stopPostgresProxy() {
        if (restartProxy === null) throw new LocalStackError("this stack runs no Neon proxy");
        const running = proxy;
        proxy = null;
        await running?.close();
      },
      async startPostgresProxy() {
        if (restartProxy === null) throw new LocalStackError("this stack runs no Neon proxy");
        proxy ??= await restartProxy();
      },
    };

    const migrations = await migrate(databaseUrl, {
      neonWsProxy: neonWsProxy ?? undefined,
      usersTable: settings.USERS_TABLE,
      log: (line) => log(`migrate: ${line}`),
    });
    log(
      `migrate: ${migrations.applied.length} applied, ${migrations.unchanged.length} already applied, ${migrations.skipped.length} skipped`,
    );

    // Redis: a configured Upstash as is; else the bridge over a Redis that answers; else off.
    let redis: StackServices["redis"];
    const stackVars: WorkerVars = { DATABASE_URL: databaseUrl };
    if (neonWsProxy !== null) stackVars.NEON_WS_PROXY = neonWsProxy;
    if (settings.UPSTASH_REDIS_REST_URL) {
      redis = { mode: "upstash", restUrl: settings.UPSTASH_REDIS_REST_URL, redisUrl: null };
      log(`redis: Upstash REST at ${redactUrl(settings.UPSTASH_REDIS_REST_URL)}`);
    } else if (await redisAnswers(redisUrl)) {
      // A fresh token per run: the bridge is reachable by anything on this machine.
      const token = randomBytes(24).toString("base64url");
      const bridge = await startUpstashBridge({
        port: options.ports?.upstashBridge ?? 0,
        token,
        redisUrl,
        onError: (message) => log(message),
      });
      started.push({ name: "Upstash bridge", close: bridge.close });
      stackVars.UPSTASH_REDIS_REST_URL = bridge.url;
      stackVars.UPSTASH_REDIS_REST_TOKEN = token;
      redis = { mode: "bridge", restUrl: bridge.url, redisUrl };
      log(`redis: Upstash bridge on ${bridge.url} → ${redactUrl(redisUrl)}`);
    } else {
      redis = { mode: "off", restUrl: null, redisUrl: null };
      log(
        `redis: NO REDIS ANSWERED at ${redactUrl(redisUrl)}: the Redis mirror is OFF for this run ` +
          "(start redis-server or set REDIS_URL / UPSTASH_REDIS_REST_URL, then restart)",
      );
    }

    const workerVars: WorkerVars = { ...settings, ...stackVars };
    if (redis.mode === "off") {
      delete workerVars.UPSTASH_REDIS_REST_URL;
      delete workerVars.UPSTASH_REDIS_REST_TOKEN;
    }
    if (neonWsProxy === null) delete workerVars.NEON_WS_PROXY;
    return {
      postgres: { url: databaseUrl, embedded, neonWsProxy },
      redis,
      workerVars,
      faults,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
