/**
 * Starts the whole local stack for the end-to-end tests: a fresh database in the machine's
 * Postgres, the Neon proxy, the Upstash bridge over the machine's Redis (keys under a unique
 * prefix), migrations and `wrangler dev` on a free port; stops and removes it all afterwards.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import type { TestProject } from "vitest/node";
import { type LocalStack, startLocalStack } from "../../dev/local-stack.ts";
import { startNeonProxy } from "../../dev/neon-proxy.ts";
import { withNeonClient } from "../../src/mirrors/neon.ts";
import { E2E_VARS } from "../helpers/e2e-config.ts";

declare module "vitest" {
  export interface ProvidedContext {
    gatewayUrl: string;
    /** The e2e run's own database, reached directly (no proxy) by tests through `pg`-style helpers. */
    databaseUrl: string;
    redisUrl: string;
    redisKeyPrefix: string;
    /** Everything wrangler and the Worker print, appended as it comes (the fuzz test reads it). */
    gatewayLogFile: string;
  }
}

const ADMIN_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

async function admin(sql: string): Promise<void> {
  const url = new URL(ADMIN_DATABASE_URL);
  const proxy = await startNeonProxy({
    port: 0,
    allowedTargets: [`${url.hostname}:${url.port || 5432}`],
  });
  try {
    await withNeonClient(
      { databaseUrl: ADMIN_DATABASE_URL, neonWsProxy: proxy.wsProxy },
      (client) => client.query(sql),
    );
  } finally {
    await proxy.close();
  }
}

/** The run's Redis keys, so repeated runs leave nothing behind. */
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } catch (err) {
    console.warn(`could not delete ${prefix}* keys: ${String(err)}`);
  } finally {
    redis.disconnect();
  }
}

export default async function setup(project: TestProject) {
  const run = randomBytes(4).toString("hex");
  const database = `gw_e2e_${run}`;
  const dir = mkdtempSync(join(tmpdir(), "gateway-e2e-"));
  await admin(`CREATE DATABASE "${database}"`);
  const databaseUrl = Object.assign(new URL(ADMIN_DATABASE_URL), {
    pathname: `/${database}`,
  }).toString();
  const redisKeyPrefix = `e2e:${run}:`;
  let stack: LocalStack | undefined;
  let output = "";
  const gatewayLogFile = join(dir, "wrangler.log");
  const gatewayLog = createWriteStream(gatewayLogFile, { flags: "a" });
  try {
    stack = await startLocalStack({
      dataDir: dir,
      port: 0,
      // DATABASE_URL as a setting (not an override) so the stack proxies and migrates it.
      devVars: { DATABASE_URL: databaseUrl },
      env: {},
      redisUrl: REDIS_URL,
      log: (line) => {
        if (process.env.E2E_LOG) console.log(`[stack] ${line}`);
      },
      vars: { ...E2E_VARS, REDIS_KEY_PREFIX: redisKeyPrefix },
      onWranglerOutput: (line) => {
        output += `${line}\n`;
        gatewayLog.write(`${line}\n`);
        if (process.env.E2E_LOG) console.log(`[wrangler] ${line}`);
      },
    });
  } catch (err) {
    await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => undefined);
    throw new Error(`local stack did not start: ${String(err)}\n${output}`);
  }
  if (stack.redis.mode === "off")
    throw new Error(`no Redis at ${REDIS_URL}: the e2e tests need one`);
  project.provide("gatewayUrl", stack.url);
  project.provide("databaseUrl", databaseUrl);
  project.provide("redisUrl", REDIS_URL);
  project.provide("redisKeyPrefix", redisKeyPrefix);
  project.provide("gatewayLogFile", gatewayLogFile);
  return async () => {
    await stack?.stop();
    gatewayLog.end();
    await deleteKeys(REDIS_URL, redisKeyPrefix);
    await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch((err: unknown) => {
      console.warn(`could not drop ${database}: ${String(err)}`);
    });
    rmSync(dir, { recursive: true, force: true });
  };
}
