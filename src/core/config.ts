/**
 * Configuration: parsed once from the environment (wrangler vars and secrets, or process.env
 * for the Node-side tools) into typed values. A bad setting fails with its name.
 */
import * as v from "valibot";
import type { OverloadConfig } from "./overload.ts";

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly setting: string;
  constructor(setting: string, message: string) {
    super(`invalid configuration: ${setting} ${message}`);
    this.setting = setting;
  }
}

export interface UsersTableConfig {
  /** Table holding the application's users, optionally schema-qualified. Default `users`. */
  table: string;
  idColumn: string;
  onlineColumn: string;
  /** Empty when the table has no last-seen column. */
  lastSeenColumn: string;
  /** true: upsert rows on first connect; false: only update rows the application created. */
  managed: boolean;
}

export interface Config {
  jwt: {
    secret: Uint8Array | null;
    jwksUrl: URL | null;
    issuer: string | null;
    audience: string | null;
    /** Claim holding the user id; null means `user_id`, then `sub`. */
    userClaim: string | null;
  };
  apiKey: string | null;
  /**
   * ALLOW_QUERY_TOKEN: accept `?token=` on upgrades (seed clients send it; URLs end up in logs).
   * Default true; when false only the subprotocol and Authorization forms are accepted.
   */
  allowQueryToken: boolean;
  /** Origins allowed to open sockets; null allows any (and requests without Origin always pass). */
  allowedOrigins: string[] | null;
  maxConnectionsPerUser: number;
  /** Largest accepted frame in bytes. Default 65,536. */
  maxFrameBytes: number;
  rateLimit: { perSecond: number; burst: number };
  /**
   * Each user's budget across all their sockets, in cost units (docs/protocol.md, "Budgets"): a
   * frame costs 1, each user id asked for in get_status 1, each user a message reaches 1.
   * USER_BUDGET_PER_SECOND (default 100 units/s) refills it up to USER_BUDGET_BURST (default 200).
   */
  userBudget: { perSecond: number; burst: number };
  /** Distinct direct-message targets a user may add per minute (NEW_TARGETS_PER_MINUTE). Default 60. */
  newTargetsPerMinute: number;
  /**
   * HTTP API requests per second per caller (the API key, or each staff user), counted in each
   * Worker isolate (API_RATE_LIMIT_PER_SECOND, default 1,000; API_RATE_LIMIT_BURST, default 2,000).
   */
  apiRateLimit: { perSecond: number; burst: number };
  /** How often clients should ping, in milliseconds. Default 25,000. */
  heartbeatIntervalMs: number;
  /** Delay before a user whose last socket closed is marked offline, in milliseconds. Default 5,000. */
  presenceGraceMs: number;
  /** MAILBOX_MAX (1,000) counts every message but notifications, which MAILBOX_NOTIFICATIONS_MAX (1,000) counts. */
  mailbox: { max: number; notificationsMax: number; ttlSeconds: number };
  /**
   * A room's history (docs/protocol.md, "Rooms"): ROOM_HISTORY_MAX messages (default 1,000), none older
   * than ROOM_HISTORY_TTL_SECONDS (seconds, default 604,800 = 7 days).
   */
  roomHistory: { max: number; ttlSeconds: number };
  presenceShards: number;
  /** Bounds on queued work under overload (see src/core/overload.ts for units and defaults). */
  overload: OverloadConfig;
  /**
   * ROOM_FANOUT_WINDOW: member deliveries one RoomHub keeps in flight across all the messages
   * it is fanning out. Default 512.
   */
  roomFanoutWindow: number;
  /**
   * ROOM_PRESENCE_MAX_MEMBERS: above this many members a room sends counts-only presence
   * (`room_presence`) instead of per-user `status_changed`. Default 100.
   */
  roomPresenceMaxMembers: number;
  /**
   * FANOUT_MAX_CALLS_PER_MESSAGE: calls one actor makes for one message at most; more
   * recipients go through fan-out shards (src/core/fanout-tree.ts). Default 500.
   */
  fanoutMaxCalls: number;
  /** BENCH_METER: count actor calls and rows written for the bench (never in production). */
  benchMeter: boolean;
  groupPrefixes: string[];
  publicGroupPrefixes: string[];
  redis: { url: string; token: string; keyPrefix: string } | null;
  postgres: {
    url: string;
    wsProxy: string | null;
    users: UsersTableConfig;
    /** POSTGRES_SESSIONS: PostgresQueue actors, so at most this many sessions at once. */
    sessions: number;
  } | null;
  /** Presence webhooks (WEBHOOK_URL and WEBHOOK_SECRET, both or neither); null when off. */
  webhook: WebhookConfig | null;
}

/** The event types a webhook can carry. */
export type WebhookEventType = "user.online" | "user.offline" | "room.occupied" | "room.vacated";
const WEBHOOK_EVENT_TYPES: readonly WebhookEventType[] = [
  "user.online",
  "user.offline",
  "room.occupied",
  "room.vacated",
];

export interface WebhookConfig {
  url: string;
  /** HMAC-SHA256 key of the Realtime-Signature header; at least MIN_WEBHOOK_SECRET_CHARS. */
  secret: string;
  /** WEBHOOK_EVENTS: the types sent. Default user.online,user.offline. */
  events: WebhookEventType[];
  /** WEBHOOK_MAX_AGE_SECONDS: an event still undelivered after this long is dropped. Default 86,400. */
  maxAgeMs: number;
}

/** What the parser reads: any record of strings (numbers and booleans from wrangler vars too). */
export type RawEnv = Record<string, unknown>;

/** Shortest JWT_SECRET, in UTF-8 bytes: 32 (256 bits, RFC 7518 §3.2 for HS256). */
export const MIN_SECRET_BYTES = 32;
/** Shortest API_KEY, in characters: 32. */
export const MIN_API_KEY_CHARS = 32;
/** Shortest WEBHOOK_SECRET, in characters: 32, like API_KEY. */
export const MIN_WEBHOOK_SECRET_CHARS = 32;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const QUALIFIED_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;

function read(env: RawEnv, name: string): string | null {
  const value = env[name];
  if (value === undefined || value === null) return null;
  const text = String(value).trim();
  return text === "" ? null : text;
}

function parse<T>(name: string, schema: v.GenericSchema<string, T>, raw: string): T {
  const result = v.safeParse(schema, raw);
  if (!result.success) throw new ConfigError(name, result.issues[0].message);
  return result.output;
}

function integer(env: RawEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === null) return fallback;
  const schema = v.pipe(
    v.string(),
    v.regex(/^-?\d+$/, `must be an integer, got "${raw.slice(0, 32)}"`),
    v.transform(Number),
    v.number(),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  );
  return parse(name, schema, raw);
}

function boolean(env: RawEnv, name: string, fallback: boolean): boolean {
  const raw = read(env, name);
  if (raw === null) return fallback;
  const schema = v.pipe(
    v.string(),
    v.toLowerCase(),
    v.picklist(["true", "false", "1", "0", "yes", "no"], "must be true or false"),
    v.transform((s) => s === "true" || s === "1" || s === "yes"),
  );
  return parse(name, schema, raw);
}

function list(env: RawEnv, name: string, fallback: string[]): string[] {
  const raw = read(env, name);
  if (raw === null) return fallback;
  return raw
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

function url(env: RawEnv, name: string): URL | null {
  const raw = read(env, name);
  if (raw === null) return null;
  return parse(
    name,
    v.pipe(
      v.string(),
      v.url("must be an absolute URL"),
      v.transform((s) => new URL(s)),
    ),
    raw,
  );
}

function identifier(env: RawEnv, name: string, fallback: string, pattern = IDENTIFIER): string {
  const raw = read(env, name) ?? fallback;
  return parse(name, v.pipe(v.string(), v.regex(pattern, "must be a plain SQL identifier")), raw);
}

function parseWebhook(env: RawEnv): WebhookConfig | null {
  const target = url(env, "WEBHOOK_URL");
  const secret = read(env, "WEBHOOK_SECRET");
  if (target === null && secret === null) return null;
  if (target === null) throw new ConfigError("WEBHOOK_URL", "must be set when WEBHOOK_SECRET is");
  if (secret === null) throw new ConfigError("WEBHOOK_SECRET", "must be set when WEBHOOK_URL is");
  if (target.protocol !== "https:" && target.protocol !== "http:") {
    throw new ConfigError("WEBHOOK_URL", "must be an http(s) URL");
  }
  if (secret.length < MIN_WEBHOOK_SECRET_CHARS) {
    throw new ConfigError(
      "WEBHOOK_SECRET",
      `must be at least ${MIN_WEBHOOK_SECRET_CHARS} characters`,
    );
  }
  const events: WebhookEventType[] = [];
  for (const name of list(env, "WEBHOOK_EVENTS", ["user.online", "user.offline"])) {
    const type = WEBHOOK_EVENT_TYPES.find((known) => known === name);
    if (type === undefined) {
      throw new ConfigError(
        "WEBHOOK_EVENTS",
        `has an unknown event "${name.slice(0, 32)}"; use ${WEBHOOK_EVENT_TYPES.join(", ")}`,
      );
    }
    if (!events.includes(type)) events.push(type);
  }
  if (events.length === 0) throw new ConfigError("WEBHOOK_EVENTS", "must list at least one event");
  return {
    url: target.toString(),
    secret,
    events,
    maxAgeMs: integer(env, "WEBHOOK_MAX_AGE_SECONDS", 86_400, 60, 30 * 86_400) * 1000,
  };
}

export function parseConfig(env: RawEnv): Config {
  const secretText = read(env, "JWT_SECRET");
  const secret = secretText === null ? null : new TextEncoder().encode(secretText);
  // RFC 7518 §3.2: an HS256 key must be at least as long as the hash output, 256 bits.
  if (secret !== null && secret.byteLength < MIN_SECRET_BYTES) {
    throw new ConfigError(
      "JWT_SECRET",
      `must be at least ${MIN_SECRET_BYTES} bytes (RFC 7518 §3.2)`,
    );
  }
  const apiKey = read(env, "API_KEY");
  if (apiKey !== null && apiKey.length < MIN_API_KEY_CHARS) {
    throw new ConfigError("API_KEY", `must be at least ${MIN_API_KEY_CHARS} characters`);
  }
  const jwksUrl = url(env, "JWT_JWKS_URL");
  if (secretText === null && jwksUrl === null) {
    throw new ConfigError("JWT_SECRET", "or JWT_JWKS_URL must be set");
  }
  const userClaim = read(env, "JWT_USER_CLAIM");
  if (userClaim !== null && !/^[A-Za-z0-9_.:-]{1,64}$/.test(userClaim)) {
    throw new ConfigError("JWT_USER_CLAIM", "must be a claim name");
  }

  const groupPrefixes = list(env, "GROUP_PREFIXES", ["consultation_", "group_", "team_"]);
  for (const prefix of groupPrefixes) {
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(prefix)) {
      throw new ConfigError("GROUP_PREFIXES", `has an invalid prefix "${prefix.slice(0, 32)}"`);
    }
  }
  const publicGroupPrefixes = list(env, "PUBLIC_GROUP_PREFIXES", []);
  for (const prefix of publicGroupPrefixes) {
    if (!groupPrefixes.includes(prefix)) {
      throw new ConfigError(
        "PUBLIC_GROUP_PREFIXES",
        `lists "${prefix.slice(0, 32)}", which is not in GROUP_PREFIXES`,
      );
    }
  }

  const allowedOrigins = list(env, "ALLOWED_ORIGINS", []);
  for (const origin of allowedOrigins) {
    if (origin !== "*" && !/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new ConfigError(
        "ALLOWED_ORIGINS",
        `has "${origin.slice(0, 64)}"; use scheme://host[:port]`,
      );
    }
  }

  const redisUrl = url(env, "UPSTASH_REDIS_REST_URL");
  const redisToken = read(env, "UPSTASH_REDIS_REST_TOKEN");
  if (redisUrl !== null && redisToken === null) {
    throw new ConfigError("UPSTASH_REDIS_REST_TOKEN", "must be set when UPSTASH_REDIS_REST_URL is");
  }
  const keyPrefix = read(env, "REDIS_KEY_PREFIX") ?? "";
  if (!/^[A-Za-z0-9_.:-]{0,64}$/.test(keyPrefix)) {
    throw new ConfigError("REDIS_KEY_PREFIX", "must be at most 64 characters of [A-Za-z0-9_.:-]");
  }

  const databaseUrl = read(env, "DATABASE_URL");
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError("DATABASE_URL", "must be a postgres:// URL");
  }
  const wsProxy = read(env, "NEON_WS_PROXY");
  if (wsProxy !== null && !/^[A-Za-z0-9.[\]:-]+(\/[A-Za-z0-9_./-]*)?$/.test(wsProxy)) {
    throw new ConfigError("NEON_WS_PROXY", "must look like host:port/path");
  }
  const lastSeenRaw = read(env, "USERS_LAST_SEEN_COLUMN");

  const perSecond = integer(env, "RATE_LIMIT_PER_SECOND", 20, 1, 100_000);
  const budgetPerSecond = integer(env, "USER_BUDGET_PER_SECOND", 100, 1, 1_000_000);
  const apiPerSecond = integer(env, "API_RATE_LIMIT_PER_SECOND", 1_000, 1, 1_000_000);
  return {
    jwt: {
      secret,
      jwksUrl,
      issuer: read(env, "JWT_ISSUER"),
      audience: read(env, "JWT_AUDIENCE"),
      userClaim,
    },
    apiKey,
    allowQueryToken: boolean(env, "ALLOW_QUERY_TOKEN", true),
    allowedOrigins:
      allowedOrigins.length === 0 || allowedOrigins.includes("*") ? null : allowedOrigins,
    maxConnectionsPerUser: integer(env, "MAX_CONNECTIONS_PER_USER", 20, 1, 10_000),
    maxFrameBytes: integer(env, "MAX_FRAME_BYTES", 64 * 1024, 1024, 1024 * 1024),
    rateLimit: { perSecond, burst: integer(env, "RATE_LIMIT_BURST", perSecond * 2, 1, 1_000_000) },
    userBudget: {
      perSecond: budgetPerSecond,
      burst: integer(env, "USER_BUDGET_BURST", budgetPerSecond * 2, 1, 10_000_000),
    },
    newTargetsPerMinute: integer(env, "NEW_TARGETS_PER_MINUTE", 60, 1, 100_000),
    apiRateLimit: {
      perSecond: apiPerSecond,
      burst: integer(env, "API_RATE_LIMIT_BURST", apiPerSecond * 2, 1, 10_000_000),
    },
    heartbeatIntervalMs: integer(env, "HEARTBEAT_INTERVAL_MS", 25_000, 1_000, 600_000),
    presenceGraceMs: integer(env, "PRESENCE_GRACE_MS", 5_000, 0, 600_000),
    mailbox: {
      max: integer(env, "MAILBOX_MAX", 1_000, 1, 100_000),
      notificationsMax: integer(env, "MAILBOX_NOTIFICATIONS_MAX", 1_000, 1, 100_000),
      ttlSeconds: integer(env, "MAILBOX_TTL_SECONDS", 7 * 24 * 3600, 60, 365 * 24 * 3600),
    },
    roomHistory: {
      max: integer(env, "ROOM_HISTORY_MAX", 1_000, 1, 100_000),
      ttlSeconds: integer(env, "ROOM_HISTORY_TTL_SECONDS", 7 * 24 * 3600, 60, 365 * 24 * 3600),
    },
    presenceShards: integer(env, "PRESENCE_SHARDS", 16, 1, 1024),
    overload: {
      maxInflight: integer(env, "ACTOR_MAX_INFLIGHT", 64, 1, 100_000),
      maxWaitMs: integer(env, "DELIVERY_MAX_WAIT_MS", 2_000, 10, 600_000),
      retryAfterMs: integer(env, "OVERLOAD_RETRY_AFTER_MS", 1_000, 1, 600_000),
    },
    roomFanoutWindow: integer(env, "ROOM_FANOUT_WINDOW", 512, 1, 100_000),
    roomPresenceMaxMembers: integer(env, "ROOM_PRESENCE_MAX_MEMBERS", 100, 0, 100_000),
    fanoutMaxCalls: integer(env, "FANOUT_MAX_CALLS_PER_MESSAGE", 500, 2, 100_000),
    benchMeter: boolean(env, "BENCH_METER", false),
    groupPrefixes,
    publicGroupPrefixes,
    redis:
      redisUrl === null || redisToken === null
        ? null
        : { url: redisUrl.toString().replace(/\/$/, ""), token: redisToken, keyPrefix },
    postgres:
      databaseUrl === null
        ? null
        : {
            url: databaseUrl,
            wsProxy,
            sessions: integer(env, "POSTGRES_SESSIONS", 8, 1, 256),
            users: {
              table: identifier(env, "USERS_TABLE", "users", QUALIFIED_IDENTIFIER),
              idColumn: identifier(env, "USERS_ID_COLUMN", "id"),
              onlineColumn: identifier(env, "USERS_ONLINE_COLUMN", "is_online"),
              // "none" for an application table without a last-seen column.
              lastSeenColumn:
                lastSeenRaw === "none"
                  ? ""
                  : identifier(env, "USERS_LAST_SEEN_COLUMN", "last_seen"),
              managed: boolean(env, "USERS_MANAGED", true),
            },
          },
    webhook: parseWebhook(env),
  };
}

const cache = new WeakMap<object, Config>();

/**
 * A wrapper of the environment (the bench meter's, src/workers/bench-meter.ts) answers this
 * property with the environment it wraps, so wrapping it per actor or per request does not
 * parse the configuration (and build its clients) again each time.
 */
export const WRAPPED_ENV = Symbol.for("realtime-gateway.wrapped-env");

/** Parse once per environment object (one per isolate in Workers). */
export function loadConfig(env: object): Config {
  const key = (env as { [WRAPPED_ENV]?: object })[WRAPPED_ENV] ?? env;
  let config = cache.get(key);
  if (config === undefined) {
    config = parseConfig(env as RawEnv);
    cache.set(key, config);
  }
  return config;
}
