import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { startUpstashBridge, type UpstashBridge } from "../../../dev/upstash-bridge.ts";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/**
 * An Upstash bridge over the machine's Redis, a direct client to check what it wrote, and a key
 * namespace for this test file; `close()` deletes the namespace's keys.
 */
export interface BridgeFixture {
  bridge: UpstashBridge;
  direct: Redis;
  token: string;
  /** e.g. `test:bridge:1a2b3c4d:` */
  ns: string;
  close(): Promise<void>;
}

export async function startBridgeFixture(label: string): Promise<BridgeFixture> {
  const token = randomBytes(16).toString("hex");
  const ns = `test:${label}:${randomBytes(4).toString("hex")}:`;
  const bridge = await startUpstashBridge({
    port: 0,
    token,
    redisUrl: REDIS_URL,
    onError: () => {},
  });
  const direct = new Redis(REDIS_URL);
  return {
    bridge,
    direct,
    token,
    ns,
    async close() {
      const keys = await direct.keys(`${ns}*`);
      if (keys.length > 0) await direct.del(...keys);
      direct.disconnect();
      await bridge.close();
    },
  };
}
