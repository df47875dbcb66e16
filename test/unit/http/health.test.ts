/**
 * `/health` in Node, against a counting twin of the MirrorMonitor: answered from a cache of
 * HEALTH_CACHE_MS, so a flood of calls does not reach the actor each time.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/core/config.ts";
import { createHealth, HEALTH_CACHE_MS, health } from "../../../src/http/health.ts";
import type { AppEnv } from "../../../src/http/types.ts";
import { TEST_JWT_SECRET } from "../../helpers/secrets.ts";

type Lag = Record<string, { users: number; oldestSince: number | null }>;

/** An app serving `handler` at /health, and an env whose MirrorMonitor counts its calls. */
function healthApp(handler: (c: any) => Promise<Response>, settings: Record<string, string> = {}) {
  const config = parseConfig({
    JWT_SECRET: TEST_JWT_SECRET,
    UPSTASH_REDIS_REST_URL: "http://redis.test",
    UPSTASH_REDIS_REST_TOKEN: "token",
    ...settings,
  });
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set("config", config);
    await next();
  });
  app.get("/health", handler);
  const monitor = { calls: 0, lag: {} as Lag, deadLetters: 0, webhookDropped: 0, failNext: false };
  const env = {
    MIRROR_MONITOR: {
      getByName: () => ({
        lag: async () => {
          monitor.calls += 1;
          if (monitor.failNext) {
            monitor.failNext = false;
            throw new Error("monitor unreachable");
          }
          return monitor.lag;
        },
        deadLetters: async () => monitor.deadLetters,
        webhookDropped: async () => monitor.webhookDropped,
      }),
    },
  };
  const get = async () => {
    const response = await app.request("/health", {}, env);
    const text = await response.text();
    return { status: response.status, json: response.ok ? (JSON.parse(text) as any) : text };
  };
  return { get, monitor };
}

describe("/health", () => {
  it("asks the MirrorMonitor once for a flood of calls within a few seconds", async () => {
    const { get, monitor } = healthApp(health);
    // All at once, as a flood arrives: the first asks, the others share its answer.
    const answers = await Promise.all(Array.from({ length: 100 }, () => get()));
    expect(answers.every((a) => a.status === 200 && a.json.status === "ok")).toBe(true);
    expect(monitor.calls).toBe(1);
  });

  it(`asks again once the answer is ${HEALTH_CACHE_MS} ms old, and then says what changed`, async () => {
    let now = 1_000_000;
    const { get, monitor } = healthApp(createHealth({ now: () => now }));
    expect((await get()).json).toEqual({ status: "ok", redis: "ok", postgres: "off" });
    monitor.lag = { redis: { users: 3, oldestSince: now - 500 } };
    now += HEALTH_CACHE_MS - 1;
    expect((await get()).json.status).toBe("ok");
    expect(monitor.calls).toBe(1);
    now += 1;
    expect((await get()).json).toEqual({
      status: "degraded",
      redis: "behind",
      postgres: "off",
      behind: { redis: { users: 3, oldest_change_age_ms: HEALTH_CACHE_MS + 500 } },
    });
    expect(monitor.calls).toBe(2);
  });

  it("does not keep a failed answer: the next call asks again", async () => {
    const { get, monitor } = healthApp(createHealth({ now: () => 0 }));
    monitor.failNext = true;
    expect((await get()).status).toBe(500);
    expect((await get()).status).toBe(200);
    expect(monitor.calls).toBe(2);
  });

  it("says webhook behind and the dropped events when webhooks are on, without degrading", async () => {
    let now = 1_000_000;
    const { get, monitor } = healthApp(createHealth({ now: () => now }), {
      WEBHOOK_URL: "https://app.test/hooks",
      WEBHOOK_SECRET: "whsec-0123456789abcdef0123456789abcdef",
    });
    expect((await get()).json).toEqual({
      status: "ok",
      redis: "ok",
      postgres: "off",
      webhook: "ok",
    });
    monitor.lag = { webhook: { users: 2, oldestSince: now - 700 } };
    monitor.webhookDropped = 5;
    now += HEALTH_CACHE_MS;
    expect((await get()).json).toEqual({
      status: "ok",
      redis: "ok",
      postgres: "off",
      webhook: "behind",
      behind: { webhook: { users: 2, oldest_change_age_ms: HEALTH_CACHE_MS + 700 } },
      webhook_dropped: 5,
    });
  });
});
