import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startUpstashBridge, type UpstashBridge } from "../../../dev/upstash-bridge.ts";
import { MemoryRedisMirror } from "../../../src/mirrors/memory.ts";
import { redisKeys, UpstashRedisMirror } from "../../../src/mirrors/redis.ts";
import { MirrorWriteError } from "../../../src/mirrors/types.ts";
import { type BridgeFixture, startBridgeFixture } from "../../dev/helpers/bridge.ts";
import { redisMirrorContract } from "./redis-contract.ts";
import { snapshot } from "./snapshots.ts";

let fixture: BridgeFixture;
let bridge: UpstashBridge;
let direct: Redis;
let token: string;
let prefix: string;

beforeAll(async () => {
  fixture = await startBridgeFixture("mirror");
  ({ bridge, direct, token, ns: prefix } = fixture);
});
afterAll(() => fixture?.close());

redisMirrorContract("UpstashRedisMirror through the bridge", () => ({
  mirror: new UpstashRedisMirror({ url: bridge.url, token, keyPrefix: prefix }),
  probe: {
    members: (id) => direct.smembers(redisKeys(prefix, id).connections),
    ttl: (id) => direct.ttl(redisKeys(prefix, id).connections),
    onlineUsers: () => direct.smembers(`${prefix}online_users`),
    evict: async (id) => void (await direct.del(redisKeys(prefix, id).connections)),
  },
}));

let clock = Date.parse("2026-11-25T10:00:00Z");
const memory = new MemoryRedisMirror({ now: () => clock });
redisMirrorContract("MemoryRedisMirror", () => ({
  mirror: memory,
  probe: {
    members: async (id) => memory.members(id),
    ttl: async (id) => {
      const expires = memory.expiresAt.get(id);
      return expires === undefined ? -2 : Math.ceil((expires - clock) / 1000);
    },
    onlineUsers: async () => [...memory.online],
    evict: async (id) => {
      memory.connections.delete(id);
      memory.expiresAt.delete(id);
    },
  },
}));

describe("UpstashRedisMirror", () => {
  it("uses the documented key names under REDIS_KEY_PREFIX", async () => {
    const mirror = new UpstashRedisMirror({ url: bridge.url, token, keyPrefix: prefix });
    await mirror.write(snapshot("key-names", 1, { connectionIds: ["c1"] }));
    expect(await direct.smembers(`${prefix}user_connections:key-names`)).toEqual(["c1"]);
    expect(await direct.sismember(`${prefix}online_users`, "key-names")).toBe(1);
  });

  it("sends each change as a single multi-exec request", async () => {
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    try {
      const mirror = new UpstashRedisMirror({ url: bridge.url, token, keyPrefix: prefix });
      await mirror.write(snapshot("one-request", 1, { connectionIds: ["c1", "c2"] }));
      expect(fetchSpy.mock.calls.map(([url]) => String(url))).toEqual([`${bridge.url}/multi-exec`]);
      const body = JSON.parse(String(fetchSpy.mock.calls[0]?.[1]?.body));
      expect(body.map((command: string[]) => command[0]?.toLowerCase())).toEqual([
        "del",
        "sadd",
        "expire",
        "sadd",
      ]);
    } finally {
      fetchSpy.mockRestore();
    }
  });

  it("fails with a temporary MirrorWriteError when Redis cannot be reached", async () => {
    const deadBridge = await startUpstashBridge({
      port: 0,
      token,
      redisUrl: "redis://127.0.0.1:1",
      onError: () => {},
    });
    try {
      const mirror = new UpstashRedisMirror({ url: deadBridge.url, token, retries: 0 });
      const failure = await mirror.write(snapshot("down", 1)).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(MirrorWriteError);
      expect(failure).toMatchObject({ mirror: "redis", temporary: true });
    } finally {
      await deadBridge.close();
    }
  });

  it("fails with a MirrorWriteError when the token is wrong", async () => {
    const mirror = new UpstashRedisMirror({ url: bridge.url, token: "wrong", retries: 0 });
    await expect(mirror.write(snapshot("badtoken", 1))).rejects.toBeInstanceOf(MirrorWriteError);
  });

  it("refuses to be built without a url or token", () => {
    expect(() => new UpstashRedisMirror({ url: "", token })).toThrow(TypeError);
  });
});

describe("MemoryRedisMirror", () => {
  it("forgets a set once its TTL has passed", async () => {
    const twin = new MemoryRedisMirror({ now: () => clock, ttlSeconds: 10 });
    await twin.write(snapshot("ttl", 1, { connectionIds: ["c1"] }));
    clock += 11_000;
    expect(twin.members("ttl")).toEqual([]);
  });

  it("throws like the real mirror while broken", async () => {
    const twin = new MemoryRedisMirror();
    twin.failure = new Error("down");
    await expect(twin.write(snapshot("x", 1))).rejects.toBeInstanceOf(MirrorWriteError);
  });
});
