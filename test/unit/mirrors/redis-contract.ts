import { describe, expect, it } from "vitest";
import type { RedisMirror } from "../../../src/mirrors/types.ts";
import { offline, snapshot } from "./snapshots.ts";

/** Reads what a Redis mirror left behind, in whatever store backs it. */
export interface RedisProbe {
  members(userId: string): Promise<string[]>;
  /** Seconds left, or -2 when there is no key (as Redis TTL answers). */
  ttl(userId: string): Promise<number>;
  onlineUsers(): Promise<string[]>;
  /** Deletes the user's key behind the mirror's back, like an eviction. */
  evict(userId: string): Promise<void>;
}

/** The behaviour every RedisMirror must have; run against the real one and the twin. */
export function redisMirrorContract(
  name: string,
  setup: () => { mirror: RedisMirror; probe: RedisProbe },
) {
  describe(`${name}: the Redis presence contract`, () => {
    let n = 0;
    const uid = () => `u${Date.now().toString(36)}${n++}`;

    it("writes the connection set exactly, with a TTL of at most a day, and marks the user online", async () => {
      const { mirror, probe } = setup();
      const user = uid();
      await mirror.write(snapshot(user, 1, { connectionIds: ["c1", "c2", "c3"] }));
      expect((await probe.members(user)).sort()).toEqual(["c1", "c2", "c3"]);
      const ttl = await probe.ttl(user);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(86_400);
      expect(await probe.onlineUsers()).toContain(user);
    });

    it("replaces the whole set, so a closed connection does not linger", async () => {
      const { mirror, probe } = setup();
      const user = uid();
      await mirror.write(snapshot(user, 1, { connectionIds: ["c1", "c2", "c3"] }));
      await mirror.write(snapshot(user, 2, { connectionIds: ["c2", "c4"] }));
      expect((await probe.members(user)).sort()).toEqual(["c2", "c4"]);
    });

    it("deletes the key and leaves online_users when the user goes offline", async () => {
      const { mirror, probe } = setup();
      const [user, other] = [uid(), uid()];
      await mirror.write(snapshot(user, 1, { connectionIds: ["c1"] }));
      await mirror.write(snapshot(other, 1, { connectionIds: ["d1"] }));
      await mirror.write(offline(user, 2, "2026-11-25T10:00:00.000Z"));
      expect(await probe.members(user)).toEqual([]);
      expect(await probe.ttl(user)).toBe(-2);
      const online = await probe.onlineUsers();
      expect(online).not.toContain(user);
      expect(online).toContain(other);
      expect(await probe.members(other)).toEqual(["d1"]);
    });

    it("keeps a user online without a key while the grace period runs", async () => {
      const { mirror, probe } = setup();
      const user = uid();
      await mirror.write(snapshot(user, 1, { connectionIds: ["c1"] }));
      await mirror.write(snapshot(user, 2, { isOnline: true, connectionIds: [] }));
      expect(await probe.ttl(user)).toBe(-2);
      expect(await probe.onlineUsers()).toContain(user);
    });

    it("brings an evicted set back on refresh", async () => {
      const { mirror, probe } = setup();
      const user = uid();
      const state = snapshot(user, 1, { connectionIds: ["c1", "c2"] });
      await mirror.write(state);
      await probe.evict(user);
      await mirror.refresh(state);
      expect((await probe.members(user)).sort()).toEqual(["c1", "c2"]);
      expect(await probe.ttl(user)).toBeGreaterThan(86_000);
    });

    it("keeps numeric-looking ids as the same strings", async () => {
      const { mirror, probe } = setup();
      const user = `${Date.now()}${n++}`;
      await mirror.write(snapshot(user, 1, { connectionIds: ["007", "1e3"] }));
      expect((await probe.members(user)).sort()).toEqual(["007", "1e3"]);
      expect(await probe.onlineUsers()).toContain(user);
    });
  });
}
