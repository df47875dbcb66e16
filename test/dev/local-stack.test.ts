import { randomBytes } from "node:crypto";
import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../dev/local-stack.ts";
import { withNeonClient } from "../../src/mirrors/neon.ts";
import { TEST_DATABASE_URL } from "./helpers/postgres.ts";
import { writeThrowawayWorker } from "./helpers/throwaway-worker.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `test:stack:${randomBytes(4).toString("hex")}:`;
const worker = writeThrowawayWorker(
  [
    "JWT_SECRET=from-dev-vars-0123456789",
    "API_KEY=from-dev-vars",
    "ONLY_IN_DEV_VARS='keeps $dollar and \\n as typed'",
    `REDIS_KEY_PREFIX=${prefix}`,
  ].join("\n"),
);
const dataDir = join(worker.dir, "data");

async function workerEnv(stack: LocalStack): Promise<Record<string, string>> {
  return (await (await fetch(`${stack.url}/env`)).json()) as Record<string, string>;
}

function start(options: Parameters<typeof startLocalStack>[0] = {}): Promise<LocalStack> {
  return startLocalStack({
    configPath: worker.configPath,
    dataDir,
    port: 0,
    redisUrl: REDIS_URL,
    env: {},
    ...options,
  });
}

afterAll(async () => {
  const direct = new Redis(REDIS_URL);
  const keys = await direct.keys(`${prefix}*`);
  if (keys.length > 0) await direct.del(...keys);
  direct.disconnect();
  rmSync(worker.dir, { recursive: true, force: true });
});

describe("the local stack with embedded Postgres and the Upstash bridge", () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await start({
      env: {
        API_KEY: "from-process-env",
        PRESENCE_GRACE_MS: "123",
        NOT_A_SETTING: "must not reach the worker",
        DATABASE_URL: "",
      },
    });
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it("passes .dev.vars, with process-env settings winning over it and over wrangler.toml", async () => {
    const env = await workerEnv(stack);
    expect(env.JWT_SECRET).toBe("from-dev-vars-0123456789");
    expect(env.API_KEY).toBe("from-process-env");
    expect(env.PRESENCE_GRACE_MS).toBe("123");
    expect(env.FROM_TOML).toBe("toml");
    expect(env.ONLY_IN_DEV_VARS).toBe("keeps $dollar and \\n as typed");
    expect(env).not.toHaveProperty("NOT_A_SETTING");
    expect(env).not.toHaveProperty("PATH");
  });

  it("points the Worker at the embedded Postgres, the Neon proxy and the bridge", async () => {
    const env = await workerEnv(stack);
    expect(stack.postgres.embedded).toBe(true);
    expect(env.DATABASE_URL).toBe(stack.postgres.url);
    expect(env.NEON_WS_PROXY).toBe(stack.postgres.neonWsProxy);
    expect(stack.redis.mode).toBe("bridge");
    expect(env.UPSTASH_REDIS_REST_URL).toBe(stack.redis.restUrl);
    expect(env.UPSTASH_REDIS_REST_TOKEN).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(env).toEqual({ ...stack.workerVars, FROM_TOML: "toml" });
  });

  it("writes the env file for this user only", () => {
    expect(statSync(stack.envFile).mode & 0o777).toBe(0o600);
  });

  it("runs both mirrors inside workerd against the stack", async () => {
    const user = `w${randomBytes(3).toString("hex")}`;
    const result = await (
      await fetch(`${stack.url}/mirror?user=${user}`, { method: "POST" })
    ).json();
    expect(result).toEqual({ redis: "written", postgres: { applied: true, userRows: 1 } });

    const direct = new Redis(REDIS_URL);
    expect((await direct.smembers(`${prefix}user_connections:${user}`)).sort()).toEqual([
      "w1",
      "w2",
    ]);
    direct.disconnect();
    const rows = await withNeonClient(
      { databaseUrl: stack.postgres.url, neonWsProxy: stack.postgres.neonWsProxy ?? undefined },
      async (client) =>
        (
          await client.query(
            "select connection_count, version from realtime_presence where user_id = $1",
            [user],
          )
        ).rows,
    );
    expect(rows).toEqual([{ connection_count: 2, version: "1" }]);
  });

  it("takes the Neon proxy away and brings it back on the same port", async () => {
    const mirror = async () =>
      (await (
        await fetch(`${stack.url}/mirror?user=f${randomBytes(3).toString("hex")}`, {
          method: "POST",
        })
      ).json()) as Record<string, unknown>;
    await stack.faults.stopPostgresProxy();
    await stack.faults.stopPostgresProxy(); // idempotent
    expect(await mirror()).toMatchObject({ redis: "written", error: /postgres mirror/ });
    await stack.faults.startPostgresProxy();
    await stack.faults.startPostgresProxy(); // idempotent
    expect(await mirror()).toEqual({ redis: "written", postgres: { applied: true, userRows: 1 } });
  });
});

describe("the local stack's other modes", () => {
  it("turns the Redis mirror off when no Redis answers, and stops everything", async () => {
    const lines: string[] = [];
    const stack = await start({ redisUrl: "redis://127.0.0.1:1", log: (line) => lines.push(line) });
    try {
      expect(stack.redis.mode).toBe("off");
      const env = await workerEnv(stack);
      expect(env).not.toHaveProperty("UPSTASH_REDIS_REST_URL");
      expect(env).not.toHaveProperty("UPSTASH_REDIS_REST_TOKEN");
      expect(lines.join("\n")).toMatch(/Redis mirror is OFF/);
    } finally {
      await stack.stop();
    }
    await expect(fetch(`${stack.url}/env`)).rejects.toThrow();
    expect(existsSync(`${join(dataDir, "pglite")}.lock`)).toBe(false);
  }, 90_000);

  it("uses a DATABASE_URL from the environment through a proxy allowed for it alone", async () => {
    const database = `t_${randomBytes(5).toString("hex")}`;
    const admin = { databaseUrl: TEST_DATABASE_URL, neonWsProxy: undefined };
    const url = new URL(TEST_DATABASE_URL);
    const proxyFor = async <T>(fn: (stackUrl: string, proxy: string) => Promise<T>) => {
      const { startNeonProxy } = await import("../../dev/neon-proxy.ts");
      const proxy = await startNeonProxy({
        port: 0,
        allowedTargets: [`${url.hostname}:${url.port || 5432}`],
      });
      try {
        return await fn(TEST_DATABASE_URL, proxy.wsProxy);
      } finally {
        await proxy.close();
      }
    };
    await proxyFor((databaseUrl, neonWsProxy) =>
      withNeonClient({ ...admin, databaseUrl, neonWsProxy }, (c) =>
        c.query(`create database ${database}`),
      ),
    );
    const databaseUrl = new URL(TEST_DATABASE_URL);
    databaseUrl.pathname = `/${database}`;
    const stack = await start({ env: { DATABASE_URL: databaseUrl.toString() } });
    try {
      expect(stack.postgres.embedded).toBe(false);
      const env = await workerEnv(stack);
      expect(env.DATABASE_URL).toBe(databaseUrl.toString());
      expect(env.NEON_WS_PROXY).toBe(stack.postgres.neonWsProxy);
      const result = await (await fetch(`${stack.url}/mirror?user=ext`, { method: "POST" })).json();
      expect(result).toMatchObject({ postgres: { applied: true } });
    } finally {
      await stack.stop();
      await proxyFor((adminUrl, neonWsProxy) =>
        withNeonClient({ databaseUrl: adminUrl, neonWsProxy }, (c) =>
          c.query(`drop database if exists ${database} with (force)`),
        ),
      );
    }
  }, 90_000);
});
