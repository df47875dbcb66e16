import { describe, expect, it } from "vitest";
import { CachedStore } from "../../../src/core/cached-store.ts";
import { PresenceKeeper } from "../../../src/core/presence-keeper.ts";
import { UserProfileStore } from "../../../src/core/user-profile.ts";
import { aliceKeeper, GRACE, onlineAndFlushed, REFRESH, T0 } from "../helpers/presence-user.ts";

describe("PresenceKeeper", () => {
  describe("flips", () => {
    it("flips online with the first connection and not with the second", async () => {
      const alice = aliceKeeper();
      expect(await alice.open("c1")).toBe("online");
      expect(await alice.open("c2")).toBeNull();
      expect(await alice.keeper.presence()).toMatchObject({ isOnline: true, version: T0 + 1 });
    });

    it("flips offline only once the grace period after the last close is over", async () => {
      const alice = await onlineAndFlushed();
      alice.clock.now = T0 + 1_000;
      expect(await alice.close("c1")).toBeNull();
      expect(await alice.alarmAt(T0 + 1_000 + GRACE - 1)).toBeNull();
      expect((await alice.keeper.presence()).isOnline).toBe(true);
      expect(await alice.alarmAt(T0 + 1_000 + GRACE)).toBe("offline");
      expect(await alice.keeper.presence()).toMatchObject({
        isOnline: false,
        lastSeen: new Date(T0 + 1_000 + GRACE).toISOString(),
        offlineAt: null,
      });
    });

    it("flips offline at once with a grace of 0", async () => {
      const alice = await onlineAndFlushed({ graceMs: 0 });
      expect(await alice.close("c1")).toBe("offline");
      expect((await alice.keeper.presence()).isOnline).toBe(false);
    });

    it("flips nothing when the user reconnects inside the grace period", async () => {
      const alice = await onlineAndFlushed();
      await alice.close("c1");
      alice.clock.now = T0 + 2_000;
      expect(await alice.open("c2")).toBeNull();
      expect(await alice.alarmAt(T0 + GRACE + 1)).toBeNull();
      expect(await alice.keeper.presence()).toMatchObject({ isOnline: true, offlineAt: null });
    });

    it("advances the version on every change the mirrors must see", async () => {
      const alice = await onlineAndFlushed();
      const versions = [(await alice.keeper.presence()).version];
      await alice.open("c2");
      versions.push((await alice.keeper.presence()).version);
      await alice.close("c2");
      versions.push((await alice.keeper.presence()).version);
      await alice.close("c1");
      versions.push((await alice.keeper.presence()).version);
      await alice.alarmAt(T0 + GRACE);
      versions.push((await alice.keeper.presence()).version);
      // The clock stands at T0 until the alarm: each change is one past the last.
      expect(versions).toEqual([T0, T0 + 1, T0 + 2, T0 + 3, T0 + GRACE]);
    });
  });

  describe("storage commits", () => {
    /** The stored values as text: equal text, nothing was written. */
    const stored = (alice: ReturnType<typeof aliceKeeper>) =>
      JSON.stringify([...alice.storage.map].sort(([a], [b]) => a.localeCompare(b)));

    it("stores nothing for another socket of an online user once the shard has it", async () => {
      const alice = aliceKeeper({ targets: ["shard"] });
      await alice.openNow("c1", ["shard"]);
      const before = stored(alice);
      expect(await alice.openNow("c2", ["shard"])).toBeNull();
      expect(stored(alice)).toBe(before);
      expect(await alice.keeper.presence()).toMatchObject({ version: T0 + 1 });
      expect(alice.writesTo("shard").at(-1)).toMatchObject({
        version: T0 + 1,
        connectionIds: ["c1", "c2"],
      });
    });

    it("stores a flip, and a mirror newly queued, but not another change to a queued one", async () => {
      const alice = aliceKeeper({ targets: ["redis", "shard"], coalesceMs: { redis: 50 } });
      await alice.openNow("c1", ["shard"]);
      expect(alice.storage.map.get("presence")).toMatchObject({ isOnline: true });
      expect(alice.storage.map.get("outbox")).toHaveProperty("redis");
      const before = stored(alice);
      await alice.openNow("c2", ["shard"]);
      expect(stored(alice)).toBe(before);
      // The coalesced write 50 ms later has both sockets; then the outbox is stored empty.
      await alice.alarmAt(T0 + 50);
      expect(alice.writesTo("redis")).toEqual([
        expect.objectContaining({ connectionIds: ["c1", "c2"], version: T0 + 1 }),
      ]);
      expect(alice.storage.map.get("outbox")).toEqual({});
    });

    it("goes on above the versions mirrors saw after a restart lost the unstored ones", async () => {
      const alice = aliceKeeper({ targets: ["shard"] });
      await alice.openNow("c1", ["shard"]);
      await alice.openNow("c2", ["shard"]);
      const seen = Math.max(...alice.writesTo("shard").map((w) => w.version));
      // A new instance over the same storage (eviction), a moment later: c2 is gone.
      const store = new CachedStore(alice.storage);
      const restarted = new PresenceKeeper({
        storage: store,
        profile: new UserProfileStore(store),
        mirrors: { shard: async () => {} },
        connectionIds: () => ["c1"],
        graceMs: GRACE,
        refreshMs: REFRESH,
        now: () => T0 + 1_000,
      });
      await restarted.connectionsChanged(["shard"]);
      expect((await restarted.presence()).version).toBeGreaterThan(seen);
    });
  });

  describe("nextWakeAt", () => {
    it("is null for a user never seen", async () => {
      expect(await aliceKeeper().keeper.nextWakeAt()).toBeNull();
    });

    it("is now while the outbox has something due", async () => {
      const alice = aliceKeeper();
      await alice.open("c1");
      expect(await alice.keeper.nextWakeAt()).toBe(T0);
    });

    it("is the refresh time of an online user with nothing to flush", async () => {
      const alice = await onlineAndFlushed();
      expect(await alice.keeper.nextWakeAt()).toBe(T0 + REFRESH);
    });

    it("is the end of the grace period while an offline flip is pending", async () => {
      const alice = await onlineAndFlushed();
      alice.clock.now = T0 + 1_000;
      await alice.close("c1");
      await alice.alarmAt(T0 + 1_000); // flush the count change
      expect(await alice.keeper.nextWakeAt()).toBe(T0 + 1_000 + GRACE);
    });

    it("is null once the user is offline and the mirrors have it", async () => {
      const alice = await onlineAndFlushed();
      await alice.close("c1");
      await alice.alarmAt(T0 + GRACE);
      expect(await alice.keeper.nextWakeAt()).toBeNull();
    });
  });

  describe("the periodic refresh", () => {
    it("re-queues redis only, every refresh interval while online", async () => {
      const alice = await onlineAndFlushed();
      await alice.nextAlarm();
      expect(alice.clock.now).toBe(T0 + REFRESH);
      expect(alice.writesTo("redis")).toHaveLength(2);
      expect(alice.writesTo("postgres")).toHaveLength(1);
      expect(await alice.keeper.nextWakeAt()).toBe(T0 + 2 * REFRESH);
      await alice.nextAlarm();
      expect(alice.writesTo("redis")).toHaveLength(3);
    });

    it("stops once the user is offline", async () => {
      const alice = await onlineAndFlushed({ graceMs: 0 });
      await alice.close("c1");
      await alice.alarmAt(T0 + 1);
      const redisWrites = alice.writesTo("redis").length;
      await alice.alarmAt(T0 + 10 * REFRESH);
      expect(alice.writesTo("redis")).toHaveLength(redisWrites);
    });
  });

  describe("a lost close event", () => {
    it("starts the grace period at the next alarm and flips offline after it", async () => {
      const alice = await onlineAndFlushed();
      alice.ids.length = 0; // the socket is gone, but connectionsChanged never ran
      expect(await alice.alarmAt(T0 + 60_000)).toBeNull();
      expect((await alice.keeper.presence()).offlineAt).toBe(T0 + 60_000 + GRACE);
      expect(await alice.nextAlarm()).toBe("offline");
      expect(alice.clock.now).toBe(T0 + 60_000 + GRACE);
      expect(alice.writesTo("postgres").at(-1)).toMatchObject({ isOnline: false });
    });

    it("flips offline at the next alarm with a grace of 0", async () => {
      const alice = await onlineAndFlushed({ graceMs: 0 });
      alice.ids.length = 0;
      expect(await alice.alarmAt(T0 + 60_000)).toBe("offline");
      expect(alice.writesTo("redis").at(-1)).toMatchObject({ isOnline: false, connectionCount: 0 });
    });
  });
});
