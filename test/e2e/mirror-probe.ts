/**
 * What the end-to-end tests read besides sockets: the mirrors themselves (the run's Redis keys
 * with ioredis, its Postgres rows with the Neon driver through a proxy of the test's own, so a
 * test still sees Postgres while it has cut the gateway's proxy) and the gateway's HTTP answers.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { type NeonProxy, startNeonProxy } from "../../dev/neon-proxy.ts";
import { quoteIdentifier, quoteTableName } from "../../src/mirrors/identifiers.ts";
import { withNeonClient } from "../../src/mirrors/neon.ts";
import { redisKeys } from "../../src/mirrors/redis.ts";
import { TEST_API_KEY } from "../helpers/secrets.ts";

export const ADMIN_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

function proxyFor(databaseUrl: string): Promise<NeonProxy> {
  const url = new URL(databaseUrl);
  return startNeonProxy({ port: 0, allowedTargets: [`${url.hostname}:${url.port || 5432}`] });
}

async function adminQuery(sql: string): Promise<void> {
  const proxy = await proxyFor(ADMIN_DATABASE_URL);
  try {
    await withNeonClient({ databaseUrl: ADMIN_DATABASE_URL, neonWsProxy: proxy.wsProxy }, (c) =>
      c.query(sql),
    );
  } finally {
    await proxy.close();
  }
}

/** A fresh database beside the machine's test database; `drop()` removes it, sessions and all. */
export async function createDatabase(
  label: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `gw_${label}_${randomBytes(4).toString("hex")}`;
  await adminQuery(`create database "${name}"`);
  const url = Object.assign(new URL(ADMIN_DATABASE_URL), { pathname: `/${name}` }).toString();
  return { url, drop: () => adminQuery(`drop database if exists "${name}" with (force)`) };
}

export interface RedisView {
  /** `user_connections:{id}`, sorted; [] when the key does not exist. */
  members: string[];
  /** Its TTL in seconds (-2: no key, -1: no expiry). */
  ttl: number;
  /** Whether `online_users` holds the user. */
  online: boolean;
}

export interface PresenceRow {
  is_online: boolean;
  connection_count: number;
  last_seen: Date | null;
  version: number;
}

export interface UserRow {
  is_online: boolean;
  last_seen: Date | null;
}

export interface UsersTable {
  /** Default "users". */
  table?: string;
  /** Default "id". */
  idColumn?: string;
}

export interface MirrorProbe {
  /** NEON_WS_PROXY of the probe's own proxy (for mirror instances a test builds). */
  neonWsProxy: string;
  databaseUrl: string;
  redis: Redis;
  redisView(userId: string): Promise<RedisView>;
  presence(userId: string): Promise<PresenceRow | null>;
  user(userId: string, table?: UsersTable): Promise<UserRow | null>;
  sql<Row = Record<string, unknown>>(text: string, params?: unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

export async function openMirrorProbe(options: {
  databaseUrl: string;
  redisUrl: string;
  redisKeyPrefix: string;
}): Promise<MirrorProbe> {
  const proxy = await proxyFor(options.databaseUrl);
  // No offline queue: a read while a test has stopped this Redis fails at once instead of hanging.
  const redis = new Redis(options.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    lazyConnect: true,
  });
  redis.on("error", () => {});
  await redis.connect();
  const connection = { databaseUrl: options.databaseUrl, neonWsProxy: proxy.wsProxy };
  const sql = async <Row>(text: string, params: unknown[] = []): Promise<Row[]> =>
    withNeonClient(connection, async (client) => (await client.query(text, params)).rows as Row[]);

  return {
    neonWsProxy: proxy.wsProxy,
    databaseUrl: options.databaseUrl,
    redis,
    sql,
    async redisView(userId) {
      const keys = redisKeys(options.redisKeyPrefix, userId);
      const [members, ttl, online] = await Promise.all([
        redis.smembers(keys.connections),
        redis.ttl(keys.connections),
        redis.sismember(keys.online, userId),
      ]);
      return { members: members.sort(), ttl, online: online === 1 };
    },
    async presence(userId) {
      const [row] = await sql<PresenceRow & { version: string }>(
        `select is_online, connection_count, last_seen, version
         from realtime_presence where user_id = $1`,
        [userId],
      );
      return row ? { ...row, version: Number(row.version) } : null;
    },
    async user(userId, table = {}) {
      const name = quoteTableName(table.table ?? "users", "table");
      const id = quoteIdentifier(table.idColumn ?? "id", "idColumn");
      const [row] = await sql<UserRow>(
        `select is_online, last_seen from ${name} where ${id}::text = $1`,
        [userId],
      );
      return row ?? null;
    },
    async close() {
      redis.disconnect();
      await proxy.close();
    },
  };
}

// --- the gateway over HTTP ------------------------------------------------------------------

export interface Health {
  status: "ok" | "degraded";
  redis: "ok" | "off" | "behind";
  postgres: "ok" | "off" | "behind";
  behind?: Partial<Record<"redis" | "postgres", { users: number; oldest_change_age_ms: number }>>;
}

export async function health(gateway: string): Promise<Health> {
  const response = await fetch(`${gateway}/health`);
  if (response.status !== 200) throw new Error(`/health answered ${response.status}`);
  return (await response.json()) as Health;
}

/** A call to the HTTP API with the test API key. */
export async function api<T = any>(
  gateway: string,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${gateway}/api/v1${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${TEST_API_KEY}`,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

export interface UserStatus {
  user_id: string;
  is_online: boolean;
  connection_count: number;
  last_seen: string | null;
}

/** The actor's own view of a user (GET /api/v1/users/{id}/status). */
export async function actorStatus(gateway: string, userId: string): Promise<UserStatus> {
  const { status, body } = await api<UserStatus>(
    gateway,
    "GET",
    `/users/${encodeURIComponent(userId)}/status`,
  );
  if (status !== 200)
    throw new Error(`status of ${userId}: HTTP ${status} ${JSON.stringify(body)}`);
  return body;
}

// --- convergence ----------------------------------------------------------------------------

export type MirrorName = "redis" | "postgres";

/**
 * How the mirrors differ from the truth for one user, [] when they agree. The truth is what the
 * test's sockets say (`connectionIds`: the ids of the user's open sockets) together with the
 * actor's status, which must agree with the sockets on the count.
 */
export async function differences(
  gateway: string,
  probe: MirrorProbe,
  userId: string,
  connectionIds: readonly string[],
  options: { mirrors?: readonly MirrorName[]; usersTable?: UsersTable } = {},
): Promise<string[]> {
  const mirrors = options.mirrors ?? ["redis", "postgres"];
  const truth = await actorStatus(gateway, userId);
  const ids = [...connectionIds].sort();
  const found: string[] = [];
  const differ = (what: string, actual: unknown, expected: unknown) => {
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      found.push(
        `${userId} ${what}: ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`,
      );
    }
  };
  differ("actor connection_count", truth.connection_count, ids.length);
  if (mirrors.includes("redis")) {
    const view = await probe.redisView(userId);
    differ("redis user_connections", view.members, ids);
    differ("redis online_users", view.online, truth.is_online);
    if (ids.length > 0 && !(view.ttl > 0 && view.ttl <= 86_400)) {
      found.push(`${userId} redis TTL ${view.ttl} outside (0, 86400]`);
    }
  }
  if (mirrors.includes("postgres")) {
    const row = await probe.presence(userId);
    differ("realtime_presence", row && [row.is_online, row.connection_count], [
      truth.is_online,
      ids.length,
    ]);
    const user = await probe.user(userId, options.usersTable);
    differ("users.is_online", user?.is_online, truth.is_online);
    if (!truth.is_online && user?.last_seen == null) found.push(`${userId} users.last_seen unset`);
  }
  return found;
}

/** Resolves true when every user's mirrors agree with the truth; throws the differences. */
export async function converged(
  gateway: string,
  probe: MirrorProbe,
  users: ReadonlyMap<string, readonly string[]>,
  options: { mirrors?: readonly MirrorName[]; usersTable?: UsersTable } = {},
): Promise<true> {
  const found: string[] = [];
  for (const [userId, ids] of users) {
    found.push(...(await differences(gateway, probe, userId, ids, options)));
  }
  if (found.length > 0) throw new Error(found.join("; "));
  return true;
}
