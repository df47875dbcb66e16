import { Redis as UpstashRedis } from "@upstash/redis";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startUpstashBridge, type UpstashBridge } from "../../dev/upstash-bridge.ts";
import { type BridgeFixture, REDIS_URL, startBridgeFixture } from "./helpers/bridge.ts";
import { startRedisServer } from "./helpers/redis-server.ts";

let fixture: BridgeFixture;
let bridge: UpstashBridge;
let direct: Redis;
let token: string;
let ns: string;

beforeAll(async () => {
  fixture = await startBridgeFixture("bridge");
  ({ bridge, direct, token, ns: ns } = fixture);
});
afterAll(() => fixture?.close());

afterEach(() => {
  vi.restoreAllMocks();
});

function upstash(): UpstashRedis {
  return new UpstashRedis({ url: bridge.url, token, enableTelemetry: false });
}

async function post(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(bridge.url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

describe("the Upstash bridge driven by @upstash/redis", () => {
  it("serves every command shape the presence mirror sends", async () => {
    const redis = upstash();
    const key = `${ns}user_connections:42`;
    const online = `${ns}online_users`;

    expect(await redis.del(key)).toBe(0);
    expect(await redis.sadd(key, "c1", "c2", "c3")).toBe(3);
    expect(await redis.expire(key, 86_400)).toBe(1);
    expect(await redis.sadd(online, "42")).toBe(1);
    expect(await redis.srem(key, "c2")).toBe(1);
    expect((await redis.smembers(key)).sort()).toEqual(["c1", "c3"]);
    expect(await redis.sismember(online, "42")).toBe(1);
    expect(await redis.scard(key)).toBe(2);
    expect(await redis.exists(key)).toBe(1);
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(86_400);

    expect((await direct.smembers(key)).sort()).toEqual(["c1", "c3"]);
    expect(await direct.sismember(online, "42")).toBe(1);
  });

  it("answers auto-pipelined calls made in the same tick through /pipeline", async () => {
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    const redis = upstash();
    const key = `${ns}auto`;
    // The client batches writes and reads into separate pipelines (SMEMBERS is never batched).
    const writes = await Promise.all([
      redis.sadd(key, "x", "y", "z"),
      redis.srem(key, "z"),
      redis.expire(key, 60),
    ]);
    expect(writes).toEqual([3, 1, 1]);
    const reads = await Promise.all([redis.scard(key), redis.sismember(key, "x"), redis.ttl(key)]);
    expect(reads.slice(0, 2)).toEqual([2, 1]);
    expect(reads[2]).toBeGreaterThan(0);
    const urls = fetchSpy.mock.calls.map(([input]) => String(input));
    expect(urls).toEqual([`${bridge.url}/pipeline`, `${bridge.url}/pipeline`]);
  });

  it("runs multi() as one transaction and decodes its results", async () => {
    const redis = upstash();
    const key = `${ns}multi`;
    await direct.sadd(key, "stale");
    const results = await redis
      .multi()
      .del(key)
      .sadd(key, "a", "b")
      .expire(key, 100)
      .smembers(key)
      .exec();
    expect(results.slice(0, 3)).toEqual([1, 2, 1]);
    expect((results[3] as string[]).sort()).toEqual(["a", "b"]);
  });

  it("round-trips non-ASCII strings and JSON-looking members unchanged", async () => {
    const redis = new UpstashRedis({
      url: bridge.url,
      token,
      enableTelemetry: false,
      automaticDeserialization: false,
    });
    const key = `${ns}unicode`;
    await redis.sadd(key, "é✓ 日本", "123", '{"a":1}');
    expect((await redis.smembers(key)).sort()).toEqual(["123", '{"a":1}', "é✓ 日本"].sort());
  });

  it("surfaces a Redis error reply as an UpstashError", async () => {
    const redis = upstash();
    const key = `${ns}string`;
    await direct.set(key, "v");
    await expect(redis.sadd(key, "m")).rejects.toThrow(/WRONGTYPE/);
  });
});

describe("the Upstash bridge over raw HTTP", () => {
  it("base64-encodes every string recursively and leaves integers, nil and OK plain", async () => {
    const hash = `${ns}hash`;
    const headers = { "upstash-encoding": "base64" };
    expect((await post("/", ["SET", `${ns}plain`, "v"], headers)).body).toEqual({ result: "OK" });
    expect((await post("/", ["HSET", hash, "f", "é"], headers)).body).toEqual({ result: 1 });
    expect((await post("/", ["HGETALL", hash], headers)).body).toEqual({
      result: [b64("f"), b64("é")],
    });
    expect((await post("/", ["GET", `${ns}missing`], headers)).body).toEqual({ result: null });
    expect((await post("/", ["PING"], headers)).body).toEqual({ result: b64("PONG") });

    await direct.sadd(`${ns}scan`, "m1");
    const scan = await post("/", ["SSCAN", `${ns}scan`, 0], headers);
    expect(scan.body).toEqual({ result: [b64("0"), [b64("m1")]] });
  });

  it("sends UTF-8 text when base64 is not requested", async () => {
    const hash = `${ns}hash-text`;
    await post("/", ["HSET", hash, "f", "é"]);
    expect((await post("/", ["HGETALL", hash])).body).toEqual({ result: ["f", "é"] });
    expect((await post("/", ["PING"])).body).toEqual({ result: "PONG" });
  });

  it("turns JSON numbers and booleans into Redis strings", async () => {
    const key = `${ns}args`;
    expect((await post("/", ["SADD", key, 7, 1.5, true, false])).body).toEqual({ result: 4 });
    expect((await direct.smembers(key)).sort()).toEqual(["1.5", "7", "false", "true"]);
  });

  it("answers a failed single command with 400 and the Redis error", async () => {
    const key = `${ns}wrongtype`;
    await direct.set(key, "v");
    const res = await post("/", ["SADD", key, "m"]);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: expect.stringMatching(/^WRONGTYPE/) });
  });

  it("reports pipeline errors per item with status 200", async () => {
    const key = `${ns}pipe-string`;
    const res = await post("/pipeline", [
      ["SET", key, "v"],
      ["SADD", key, "m"],
      ["GET", key],
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { result: "OK" },
      { error: expect.stringMatching(/^WRONGTYPE/) },
      { result: "v" },
    ]);
  });

  it("applies nothing from a transaction Redis refuses while queueing", async () => {
    const key = `${ns}aborted`;
    const res = await post("/multi-exec", [
      ["SET", key, "v"],
      ["NOSUCHCOMMAND", key],
    ]);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: expect.stringMatching(/^EXECABORT/) });
    expect(await direct.exists(key)).toBe(0);
  });

  it("keeps a transaction's other writes when one command fails at run time, like EXEC", async () => {
    const key = `${ns}tx-string`;
    const res = await post("/multi-exec", [
      ["SET", key, "v"],
      ["SADD", key, "m"],
      ["APPEND", key, "w"],
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { result: "OK" },
      { error: expect.stringMatching(/^WRONGTYPE/) },
      { result: 2 },
    ]);
    expect(await direct.get(key)).toBe("vw");
  });

  it("never lets a reader see a half-written set during multi-exec", async () => {
    const key = `${ns}atomic`;
    const reader = new Redis(REDIS_URL);
    let writing = true;
    const seen = new Set<string>();
    const readLoop = (async () => {
      while (writing) {
        const members = await reader.smembers(key);
        seen.add(members.sort().join(","));
      }
    })();
    const writes = Array.from({ length: 150 }, (_, i) =>
      post("/multi-exec", [
        ["DEL", key],
        ["SADD", key, `a${i}`],
        ["SADD", key, `b${i}`],
        ["SADD", key, `c${i}`],
      ]),
    );
    for (const res of await Promise.all(writes)) expect(res.status).toBe(200);
    writing = false;
    await readLoop;
    reader.disconnect();
    seen.delete("");
    for (const set of seen) expect(set).toMatch(/^a(\d+),b\1,c\1$/);
    expect(seen.size).toBeGreaterThan(0);
  });

  it("wraps multi-exec in MULTI … EXEC sent from a single connection", async () => {
    const key = `${ns}monitored`;
    const monitor = await direct.duplicate().monitor();
    const seen: { args: string[]; source: string }[] = [];
    monitor.on("monitor", (_time: string, [name = "", ...rest]: string[], source: string) => {
      const command = name.toUpperCase();
      if (command === "MULTI" || command === "EXEC" || rest[0] === key) {
        seen.push({ args: [command, ...rest], source });
      }
    });
    const res = await post("/multi-exec", [
      ["DEL", key],
      ["SADD", key, "m"],
    ]);
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    monitor.disconnect();

    const start = seen.findIndex(({ args }) => args[0] === "MULTI");
    const block = seen.slice(start, start + 4);
    expect(block.map(({ args }) => args[0])).toEqual(["MULTI", "DEL", "SADD", "EXEC"]);
    expect(new Set(block.map(({ source }) => source)).size).toBe(1);
  });

  it("echoes the Upstash-Sync-Token header", async () => {
    const res = await post("/", ["PING"], { "upstash-sync-token": "sync-123" });
    expect(res.headers.get("upstash-sync-token")).toBe("sync-123");
  });

  it("refuses a missing, wrong or differently sized token with 401", async () => {
    for (const authorization of [undefined, `Bearer ${token}x`, "Bearer short", token]) {
      const res = await fetch(`${bridge.url}/`, {
        method: "POST",
        headers: authorization ? { authorization } : {},
        body: JSON.stringify(["PING"]),
      });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: "Unauthorized" });
    }
  });

  it("refuses malformed bodies, unknown paths and connection-state commands", async () => {
    expect((await post("/", "not json")).status).toBe(400);
    expect((await post("/", [])).status).toBe(400);
    expect((await post("/", ["SADD", "k", { a: 1 }])).status).toBe(400);
    expect((await post("/pipeline", [["PING"], "PING"])).status).toBe(400);
    expect((await post("/", ["SUBSCRIBE", "ch"])).body).toEqual({
      error: expect.stringMatching(/not supported/),
    });
    expect((await post("/", ["multi"])).status).toBe(400);
    expect((await post("/nope", ["PING"])).status).toBe(404);
    const get = await fetch(`${bridge.url}/`, { headers: { authorization: `Bearer ${token}` } });
    expect(get.status).toBe(405);
  });
});

describe("the Upstash bridge when its Redis goes away", () => {
  it("answers 500 at once while Redis is down and recovers by itself", async () => {
    const server = await startRedisServer();
    const own = await startUpstashBridge({
      port: 0,
      token,
      redisUrl: server.url,
      onError: () => {},
    });
    const call = async (path: string, body: unknown) => {
      const res = await fetch(own.url + path, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as unknown };
    };
    try {
      expect(await call("/", ["SADD", "k", "m"])).toEqual({ status: 200, body: { result: 1 } });

      await server.stop();
      for (const [path, body] of [
        ["/", ["PING"]],
        ["/pipeline", [["PING"], ["PING"]]],
        ["/multi-exec", [["PING"]]],
      ] as const) {
        const started = performance.now();
        const res = await call(path, body);
        expect(res.status).toBe(500);
        expect(res.body).toEqual({ error: expect.stringMatching(/Redis unavailable/) });
        expect(performance.now() - started).toBeLessThan(1_000);
      }

      await server.start();
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await call("/multi-exec", [["SADD", "k", "again"]])).status;
      }
      expect(status).toBe(200);
      expect(await call("/", ["SCARD", "k"])).toEqual({ status: 200, body: { result: 1 } });
    } finally {
      await own.close();
      await server.stop();
    }
  });
});
