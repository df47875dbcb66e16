import { describe, expect, it } from "vitest";
import {
  ConfigError,
  loadConfig,
  parseConfig,
  type RawEnv,
  WRAPPED_ENV,
} from "../../../src/core/config.ts";
import { TEST_JWT_SECRET } from "../../helpers/secrets.ts";

const base: RawEnv = { JWT_SECRET: TEST_JWT_SECRET };
const POSTGRES = "postgres://postgres@127.0.0.1:5432/test";

/** The ConfigError that parsing `env` (on top of a valid secret) throws. */
function configError(env: RawEnv, withBase = true): ConfigError {
  try {
    parseConfig(withBase ? { ...base, ...env } : env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe("parseConfig: defaults", () => {
  it("fills in every default from docs/protocol.md with only a secret set", () => {
    const config = parseConfig(base);
    expect(config).toMatchObject({
      apiKey: null,
      allowQueryToken: true,
      allowedOrigins: null,
      maxConnectionsPerUser: 20,
      maxFrameBytes: 65_536,
      rateLimit: { perSecond: 20, burst: 40 },
      userBudget: { perSecond: 100, burst: 200 },
      newTargetsPerMinute: 60,
      apiRateLimit: { perSecond: 1_000, burst: 2_000 },
      heartbeatIntervalMs: 25_000,
      presenceGraceMs: 5_000,
      mailbox: { max: 1_000, notificationsMax: 1_000, ttlSeconds: 7 * 24 * 3600 },
      roomHistory: { max: 1_000, ttlSeconds: 7 * 24 * 3600 },
      presenceShards: 16,
      groupPrefixes: ["consultation_", "group_", "team_"],
      publicGroupPrefixes: [],
      redis: null,
      postgres: null,
    });
    expect(config.jwt).toEqual({
      secret: new TextEncoder().encode(TEST_JWT_SECRET),
      jwksUrl: null,
      issuer: null,
      audience: null,
      userClaim: null,
    });
  });

  it("treats empty and blank settings as unset", () => {
    const config = parseConfig({
      ...base,
      MAX_CONNECTIONS_PER_USER: "",
      JWT_ISSUER: "  ",
      API_KEY: "",
    });
    expect(config.maxConnectionsPerUser).toBe(20);
    expect(config.jwt.issuer).toBeNull();
    expect(config.apiKey).toBeNull();
  });

  it("turns off ?token= with ALLOW_QUERY_TOKEN=false", () => {
    expect(parseConfig({ ...base, ALLOW_QUERY_TOKEN: "false" }).allowQueryToken).toBe(false);
  });

  it("bounds the work an actor queues under overload, and reads each bound", () => {
    expect(parseConfig(base)).toMatchObject({
      overload: { maxInflight: 64, maxWaitMs: 2_000, retryAfterMs: 1_000 },
      roomFanoutWindow: 512,
      roomPresenceMaxMembers: 100,
      fanoutMaxCalls: 500,
      benchMeter: false,
    });
    const set = parseConfig({
      ...base,
      ACTOR_MAX_INFLIGHT: "8",
      DELIVERY_MAX_WAIT_MS: "500",
      OVERLOAD_RETRY_AFTER_MS: "250",
      ROOM_FANOUT_WINDOW: "32",
      ROOM_PRESENCE_MAX_MEMBERS: "7",
    });
    expect(set.overload).toEqual({ maxInflight: 8, maxWaitMs: 500, retryAfterMs: 250 });
    expect(set.roomFanoutWindow).toBe(32);
    expect(set.roomPresenceMaxMembers).toBe(7);
    expect(configError({ ROOM_PRESENCE_MAX_MEMBERS: "-1" }).setting).toBe(
      "ROOM_PRESENCE_MAX_MEMBERS",
    );
    expect(configError({ ACTOR_MAX_INFLIGHT: "0" }).setting).toBe("ACTOR_MAX_INFLIGHT");
    expect(configError({ ROOM_FANOUT_WINDOW: "0" }).setting).toBe("ROOM_FANOUT_WINDOW");
    expect(parseConfig({ ...base, FANOUT_MAX_CALLS_PER_MESSAGE: "4" }).fanoutMaxCalls).toBe(4);
    // One call per actor could never shrink a list: a tree needs at least two.
    expect(configError({ FANOUT_MAX_CALLS_PER_MESSAGE: "1" }).setting).toBe(
      "FANOUT_MAX_CALLS_PER_MESSAGE",
    );
    expect(configError({ BENCH_METER: "maybe" }).setting).toBe("BENCH_METER");
  });

  it("reads numbers given as numbers, as wrangler vars may be", () => {
    expect(parseConfig({ ...base, MAX_CONNECTIONS_PER_USER: 5 }).maxConnectionsPerUser).toBe(5);
  });

  it("defaults the burst to twice the rate", () => {
    expect(parseConfig({ ...base, RATE_LIMIT_PER_SECOND: "7" }).rateLimit).toEqual({
      perSecond: 7,
      burst: 14,
    });
    expect(
      parseConfig({ ...base, RATE_LIMIT_PER_SECOND: "7", RATE_LIMIT_BURST: "9" }).rateLimit,
    ).toEqual({
      perSecond: 7,
      burst: 9,
    });
  });

  it("accepts a JWKS URL instead of a secret", () => {
    const config = parseConfig({ JWT_JWKS_URL: "https://auth.example.com/.well-known/jwks.json" });
    expect(config.jwt.secret).toBeNull();
    expect(config.jwt.jwksUrl?.href).toBe("https://auth.example.com/.well-known/jwks.json");
  });

  it("lists allowed origins, and * allows any", () => {
    expect(
      parseConfig({ ...base, ALLOWED_ORIGINS: "https://a.example.com, http://localhost:5173" })
        .allowedOrigins,
    ).toEqual(["https://a.example.com", "http://localhost:5173"]);
    expect(
      parseConfig({ ...base, ALLOWED_ORIGINS: "https://a.example.com,*" }).allowedOrigins,
    ).toBeNull();
  });

  it("configures Redis when both URL and token are set, without a trailing slash", () => {
    const config = parseConfig({
      ...base,
      UPSTASH_REDIS_REST_URL: "https://eu1-redis.upstash.io/",
      UPSTASH_REDIS_REST_TOKEN: "tok",
      REDIS_KEY_PREFIX: "rt:",
    });
    expect(config.redis).toEqual({
      url: "https://eu1-redis.upstash.io",
      token: "tok",
      keyPrefix: "rt:",
    });
  });

  it("configures Postgres with the default users table", () => {
    expect(parseConfig({ ...base, DATABASE_URL: POSTGRES }).postgres).toEqual({
      url: POSTGRES,
      wsProxy: null,
      sessions: 8,
      users: {
        table: "users",
        idColumn: "id",
        onlineColumn: "is_online",
        lastSeenColumn: "last_seen",
        managed: true,
      },
    });
  });

  it("points at an existing application's table, schema-qualified", () => {
    const users = parseConfig({
      ...base,
      DATABASE_URL: "postgresql://app@db/app",
      USERS_TABLE: "accounts.app_user",
      USERS_ID_COLUMN: "uuid",
      USERS_ONLINE_COLUMN: "online",
      USERS_LAST_SEEN_COLUMN: "seen_at",
      USERS_MANAGED: "false",
    }).postgres?.users;
    expect(users).toEqual({
      table: "accounts.app_user",
      idColumn: "uuid",
      onlineColumn: "online",
      lastSeenColumn: "seen_at",
      managed: false,
    });
  });

  it('reads USERS_LAST_SEEN_COLUMN "none" as a table without a last-seen column', () => {
    const config = parseConfig({ ...base, DATABASE_URL: POSTGRES, USERS_LAST_SEEN_COLUMN: "none" });
    expect(config.postgres?.users.lastSeenColumn).toBe("");
  });

  it("reads the local Neon proxy setting", () => {
    const config = parseConfig({
      ...base,
      DATABASE_URL: POSTGRES,
      NEON_WS_PROXY: "127.0.0.1:5488/v1",
    });
    expect(config.postgres?.wsProxy).toBe("127.0.0.1:5488/v1");
  });
});

describe("parseConfig: a bad setting fails with its name", () => {
  it("requires JWT_SECRET when there is no JWKS URL", () => {
    expect(configError({}, false).setting).toBe("JWT_SECRET");
  });

  it("refuses a JWT_SECRET shorter than 32 bytes without echoing it (RFC 7518 §3.2)", () => {
    const secret = "x".repeat(31);
    const error = configError({ JWT_SECRET: secret });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.setting).toBe("JWT_SECRET");
    expect(error.message).toBe(
      "invalid configuration: JWT_SECRET must be at least 32 bytes (RFC 7518 §3.2)",
    );
    expect(parseConfig({ JWT_SECRET: "x".repeat(32) }).jwt.secret?.byteLength).toBe(32);
  });

  it("counts JWT_SECRET in UTF-8 bytes, not characters", () => {
    // 16 characters of 2 bytes each: 32 bytes, enough; 15 of them plus one ASCII: 31, not.
    expect(parseConfig({ JWT_SECRET: "é".repeat(16) }).jwt.secret?.byteLength).toBe(32);
    expect(configError({ JWT_SECRET: `${"é".repeat(15)}x` }).setting).toBe("JWT_SECRET");
  });

  it("refuses an API_KEY shorter than 32 characters without echoing it", () => {
    const key = "k".repeat(31);
    const error = configError({ API_KEY: key });
    expect(error.setting).toBe("API_KEY");
    expect(error.message).toBe("invalid configuration: API_KEY must be at least 32 characters");
    expect(parseConfig({ ...base, API_KEY: "k".repeat(32) }).apiKey).toBe("k".repeat(32));
  });

  it.each<[string, RawEnv]>([
    ["MAX_CONNECTIONS_PER_USER", { MAX_CONNECTIONS_PER_USER: "twenty" }],
    ["MAX_CONNECTIONS_PER_USER", { MAX_CONNECTIONS_PER_USER: "2.5" }],
    ["MAX_CONNECTIONS_PER_USER", { MAX_CONNECTIONS_PER_USER: "0" }],
    ["MAX_CONNECTIONS_PER_USER", { MAX_CONNECTIONS_PER_USER: "-3" }],
    ["MAX_FRAME_BYTES", { MAX_FRAME_BYTES: "100" }],
    ["RATE_LIMIT_PER_SECOND", { RATE_LIMIT_PER_SECOND: "0" }],
    ["RATE_LIMIT_BURST", { RATE_LIMIT_BURST: "1e3" }],
    ["HEARTBEAT_INTERVAL_MS", { HEARTBEAT_INTERVAL_MS: "10" }],
    ["MAILBOX_TTL_SECONDS", { MAILBOX_TTL_SECONDS: "59" }],
    ["ROOM_HISTORY_MAX", { ROOM_HISTORY_MAX: "0" }],
    ["ROOM_HISTORY_TTL_SECONDS", { ROOM_HISTORY_TTL_SECONDS: "ten" }],
    ["PRESENCE_SHARDS", { PRESENCE_SHARDS: "2048" }],
    ["JWT_JWKS_URL", { JWT_JWKS_URL: "not a url" }],
    ["JWT_USER_CLAIM", { JWT_USER_CLAIM: "user id" }],
    ["GROUP_PREFIXES", { GROUP_PREFIXES: "group_,bad prefix" }],
    ["PUBLIC_GROUP_PREFIXES", { PUBLIC_GROUP_PREFIXES: "lobby_" }],
    ["PUBLIC_GROUP_PREFIXES", { GROUP_PREFIXES: "room_", PUBLIC_GROUP_PREFIXES: "group_" }],
    ["ALLOWED_ORIGINS", { ALLOWED_ORIGINS: "app.example.com" }],
    ["ALLOWED_ORIGINS", { ALLOWED_ORIGINS: "https://app.example.com/" }],
    ["ALLOWED_ORIGINS", { ALLOWED_ORIGINS: "https://ok.example.com,ftp://files.example.com" }],
    [
      "UPSTASH_REDIS_REST_URL",
      { UPSTASH_REDIS_REST_URL: "eu1-redis", UPSTASH_REDIS_REST_TOKEN: "t" },
    ],
    ["UPSTASH_REDIS_REST_TOKEN", { UPSTASH_REDIS_REST_URL: "https://eu1-redis.upstash.io" }],
    ["REDIS_KEY_PREFIX", { REDIS_KEY_PREFIX: "rt prefix" }],
    ["DATABASE_URL", { DATABASE_URL: "mysql://root@db/app" }],
    ["POSTGRES_SESSIONS", { DATABASE_URL: "postgres://app@db/app", POSTGRES_SESSIONS: "0" }],
    ["NEON_WS_PROXY", { DATABASE_URL: POSTGRES, NEON_WS_PROXY: "ws://proxy?x=1" }],
    ["USERS_TABLE", { DATABASE_URL: POSTGRES, USERS_TABLE: "users; drop table x" }],
    ["USERS_TABLE", { DATABASE_URL: POSTGRES, USERS_TABLE: '"users"' }],
    ["USERS_TABLE", { DATABASE_URL: POSTGRES, USERS_TABLE: "a.b.c" }],
    ["USERS_ID_COLUMN", { DATABASE_URL: POSTGRES, USERS_ID_COLUMN: "id) --" }],
    ["USERS_ONLINE_COLUMN", { DATABASE_URL: POSTGRES, USERS_ONLINE_COLUMN: "1online" }],
    ["USERS_LAST_SEEN_COLUMN", { DATABASE_URL: POSTGRES, USERS_LAST_SEEN_COLUMN: "last seen" }],
    ["USERS_MANAGED", { DATABASE_URL: POSTGRES, USERS_MANAGED: "maybe" }],
    ["ALLOW_QUERY_TOKEN", { ALLOW_QUERY_TOKEN: "sometimes" }],
  ])("names %s for %j", (setting, env) => {
    const error = configError(env);
    expect(error.setting).toBe(setting);
    expect(error.message).toContain(setting);
  });

  it("accepts each spelling of a boolean", () => {
    for (const [raw, value] of [
      ["TRUE", true],
      ["1", true],
      ["yes", true],
      ["False", false],
      ["0", false],
      ["no", false],
    ] as const) {
      expect(
        parseConfig({ ...base, DATABASE_URL: POSTGRES, USERS_MANAGED: raw }).postgres?.users
          .managed,
      ).toBe(value);
    }
  });
});

describe("loadConfig", () => {
  it("parses once per environment object", () => {
    const env = { ...base };
    const first = loadConfig(env);
    expect(loadConfig(env)).toBe(first);
  });

  it("parses another environment object on its own", () => {
    const a = loadConfig({ ...base, MAX_CONNECTIONS_PER_USER: "3" });
    const b = loadConfig({ ...base, MAX_CONNECTIONS_PER_USER: "4" });
    expect(a).not.toBe(b);
    expect([a.maxConnectionsPerUser, b.maxConnectionsPerUser]).toEqual([3, 4]);
  });

  it("parses once for every wrapper of one environment (the bench meter wraps it per actor)", () => {
    const env = { ...base };
    const wrap = () =>
      new Proxy(env, {
        get: (target, property) =>
          property === WRAPPED_ENV ? target : Reflect.get(target, property),
      });
    const first = loadConfig(wrap());
    expect(loadConfig(wrap())).toBe(first);
    expect(loadConfig(env)).toBe(first);
  });

  it("does not cache a failure: a bad environment throws every time", () => {
    const env = { JWT_SECRET: "short" };
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(ConfigError);
  });
});

describe("parseConfig: presence webhooks", () => {
  const SECRET = "whsec-0123456789abcdef0123456789abcdef";
  const URL_ = "https://app.example/hooks/realtime";

  it("is off without WEBHOOK_URL and WEBHOOK_SECRET, and has its defaults with both", () => {
    expect(parseConfig(base).webhook).toBeNull();
    expect(parseConfig({ ...base, WEBHOOK_URL: URL_, WEBHOOK_SECRET: SECRET }).webhook).toEqual({
      url: URL_,
      secret: SECRET,
      events: ["user.online", "user.offline"],
      maxAgeMs: 86_400_000,
    });
  });

  it("refuses one without the other, naming the missing setting", () => {
    expect(configError({ WEBHOOK_URL: URL_ }).setting).toBe("WEBHOOK_SECRET");
    expect(configError({ WEBHOOK_SECRET: SECRET }).setting).toBe("WEBHOOK_URL");
  });

  it("refuses a secret shorter than 32 characters and a URL that is not http(s)", () => {
    const short = configError({ WEBHOOK_URL: URL_, WEBHOOK_SECRET: "x".repeat(31) });
    expect(short.setting).toBe("WEBHOOK_SECRET");
    expect(short.message).toContain("32");
    expect(configError({ WEBHOOK_URL: "ftp://x.test/", WEBHOOK_SECRET: SECRET }).setting).toBe(
      "WEBHOOK_URL",
    );
  });

  it("accepts the room events and refuses unknown ones, naming WEBHOOK_EVENTS", () => {
    const config = parseConfig({
      ...base,
      WEBHOOK_URL: URL_,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_EVENTS: "user.online,room.occupied,room.vacated,room.occupied",
    });
    expect(config.webhook?.events).toEqual(["user.online", "room.occupied", "room.vacated"]);
    const unknown = configError({
      WEBHOOK_URL: URL_,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_EVENTS: "user.away",
    });
    expect(unknown.setting).toBe("WEBHOOK_EVENTS");
    expect(unknown.message).toContain("room.vacated");
  });

  it("reads WEBHOOK_EVENTS and WEBHOOK_MAX_AGE_SECONDS", () => {
    const config = parseConfig({
      ...base,
      WEBHOOK_URL: URL_,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_EVENTS: "user.offline",
      WEBHOOK_MAX_AGE_SECONDS: "3600",
    });
    expect(config.webhook).toMatchObject({ events: ["user.offline"], maxAgeMs: 3_600_000 });
  });
});
