import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { PresenceSnapshot } from "../../../src/core/presence.ts";
import { type MirrorTarget, PresenceKeeper } from "../../../src/core/presence-keeper.ts";
import { type Deferred, deferred } from "../helpers/deferred.ts";
import { memoryStorage } from "../helpers/storage.ts";

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);
const GRACE = 5_000;
const REFRESH = 240_000;

interface Options {
  graceMs?: number;
  /**
   * Writers settle in the same microtask run instead of after a turn of the event loop each, as
   * network writes do. Only the test of concurrent flush lanes wants this.
   */
  instantWrites?: boolean;
  targets?: MirrorTarget[];
  coalesceMs?: Partial<Record<MirrorTarget, number>>;
  reportLag?: (target: MirrorTarget, userId: string, since: number | null) => Promise<void>;
}

interface HeldWrite {
  /** Settles when the writer was called (the snapshot is taken by then). */
  started: Promise<void>;
  release(): void;
}

const networkTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * One user's PresenceKeeper over in-memory storage, with fake mirror writers that record every
 * snapshot they took, fail while their target is in `down`, and can be held in flight.
 */
function aliceKeeper(options: Options = {}) {
  const clock = { now: T0 };
  const ids: string[] = [];
  const storage = memoryStorage();
  const written = new Map<MirrorTarget, PresenceSnapshot[]>();
  const down = new Set<MirrorTarget>();
  const held = new Map<MirrorTarget, { started: Deferred<void>; released: Deferred<void> }>();
  const lag: [MirrorTarget, string, number | null][] = [];
  /** What the health monitor believes: target → behind since, as MirrorMonitor keeps it. */
  const monitor = new Map<MirrorTarget, number>();
  const logs: string[] = [];
  const mirrors: Partial<Record<MirrorTarget, (s: PresenceSnapshot) => Promise<void>>> = {};
  for (const target of options.targets ?? ["redis", "postgres"]) {
    written.set(target, []);
    mirrors[target] = async (snapshot) => {
      const hold = held.get(target);
      if (hold) {
        held.delete(target);
        hold.started.resolve();
        await hold.released.promise;
      }
      if (!options.instantWrites) await networkTurn();
      if (down.has(target)) throw new Error(`${target} is down`);
      written.get(target)?.push(snapshot);
    };
  }
  const keeper = new PresenceKeeper({
    storage,
    mirrors,
    reportLag:
      options.reportLag ??
      (async (target, userId, since) => {
        lag.push([target, userId, since]);
        if (since === null) monitor.delete(target);
        else monitor.set(target, since);
      }),
    connectionIds: () => [...ids],
    graceMs: options.graceMs ?? GRACE,
    refreshMs: REFRESH,
    ...(options.coalesceMs ? { coalesceMs: options.coalesceMs } : {}),
    now: () => clock.now,
    log: (message) => logs.push(message),
  });
  const user = {
    keeper,
    storage,
    clock,
    ids,
    down,
    lag,
    monitor,
    logs,
    writesTo: (target: MirrorTarget) => written.get(target) ?? [],
    /** The next write to `target` waits until released. */
    hold(target: MirrorTarget): HeldWrite {
      const started = deferred();
      const released = deferred();
      held.set(target, { started, released });
      return { started: started.promise, release: () => released.resolve() };
    },
    async open(id: string) {
      ids.push(id);
      return keeper.connectionsChanged();
    },
    async close(id: string) {
      ids.splice(ids.indexOf(id), 1);
      return keeper.connectionsChanged();
    },
    /** Opens a socket and writes `immediate` mirrors within the change, as UserHub.fetch does. */
    async openNow(id: string, immediate: MirrorTarget[]) {
      ids.push(id);
      return keeper.connectionsChanged(immediate);
    },
    /** Moves the clock to `at` and runs the alarm, as the actor does. */
    async alarmAt(at: number) {
      clock.now = at;
      return keeper.onAlarm();
    },
    /** Runs the alarm at the time the keeper asked for. */
    async nextAlarm() {
      const at = await keeper.nextWakeAt();
      if (at === null) throw new Error("no alarm scheduled");
      return user.alarmAt(Math.max(at, clock.now));
    },
  };
  return user;
}

async function onlineAndFlushed(options: Options = {}) {
  const alice = aliceKeeper(options);
  await alice.keeper.rememberProfile({
    userId: "alice",
    username: "Alice",
    isStaff: false,
    isSuperuser: false,
  });
  await alice.open("c1");
  await alice.alarmAt(T0);
  return alice;
}

beforeEach(() => {
  // No jitter: backoff delays are exactly 250, 500, 1000 … ms.
  vi.spyOn(Math, "random").mockReturnValue(0.5);
});

afterEach(() => {
  vi.restoreAllMocks();
});

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

  describe("flushing the mirrors", () => {
    it("writes the latest snapshot to every mirror once, however many changes came first", async () => {
      const alice = aliceKeeper();
      await alice.keeper.rememberProfile({
        userId: "alice",
        username: "Alice",
        isStaff: true,
        isSuperuser: false,
      });
      await alice.open("c1");
      await alice.open("c2");
      await alice.close("c1");
      await alice.alarmAt(T0);
      const expected: PresenceSnapshot = {
        userId: "alice",
        isOnline: true,
        connectionIds: ["c2"],
        connectionCount: 1,
        lastSeen: null,
        version: T0 + 2,
        username: "Alice",
        isStaff: true,
        isSuperuser: false,
      };
      expect(alice.writesTo("redis")).toEqual([expected]);
      expect(alice.writesTo("postgres")).toEqual([expected]);
      expect(await alice.keeper.outbox()).toEqual({});
    });

    it("writes the offline flip with last_seen", async () => {
      const alice = await onlineAndFlushed();
      await alice.close("c1");
      await alice.alarmAt(T0 + GRACE);
      expect(alice.writesTo("postgres").at(-1)).toMatchObject({
        isOnline: false,
        connectionCount: 0,
        lastSeen: new Date(T0 + GRACE).toISOString(),
        version: T0 + GRACE,
      });
    });

    it("queues only the configured mirrors", async () => {
      const alice = aliceKeeper({ targets: ["postgres"] });
      await alice.open("c1");
      expect(Object.keys(await alice.keeper.outbox())).toEqual(["postgres"]);
    });

    it("keeps a mirror queued when a change arrives while it is being written", async () => {
      const alice = aliceKeeper({ targets: ["redis"] });
      await alice.open("c1");
      const write = alice.hold("redis");
      const alarm = alice.alarmAt(T0);
      await write.started;
      alice.clock.now = T0 + 10;
      await alice.open("c2");
      write.release();
      await alarm;
      expect(alice.writesTo("redis").map((s) => s.connectionIds)).toEqual([["c1"]]);
      expect(await alice.keeper.nextWakeAt()).toBe(T0 + 10);
      await alice.nextAlarm();
      expect(alice.writesTo("redis").map((s) => s.connectionIds)).toEqual([["c1"], ["c1", "c2"]]);
      expect(await alice.keeper.outbox()).toEqual({});
    });
  });

  describe("a failing mirror", () => {
    it("is retried with backoff 250 ms doubling, while the other mirror is unaffected", async () => {
      const alice = aliceKeeper();
      alice.down.add("redis");
      await alice.open("c1");
      await alice.alarmAt(T0);
      expect(alice.writesTo("postgres")).toHaveLength(1);
      expect(alice.writesTo("redis")).toHaveLength(0);
      expect(await alice.keeper.nextWakeAt()).toBe(T0 + 250);
      await alice.nextAlarm();
      expect(await alice.keeper.nextWakeAt()).toBe(T0 + 250 + 500);
      await alice.nextAlarm();
      expect(await alice.keeper.nextWakeAt()).toBe(T0 + 750 + 1_000);
      expect(alice.writesTo("postgres")).toHaveLength(1);
      expect((await alice.keeper.outbox()).postgres).toBeUndefined();
      expect((await alice.keeper.outbox()).redis).toMatchObject({ attempts: 3 });
    });

    it("is reported to reportLag once when it falls behind and once when it caught up", async () => {
      const alice = aliceKeeper();
      await alice.keeper.rememberProfile({
        userId: "alice",
        username: "Alice",
        isStaff: false,
        isSuperuser: false,
      });
      alice.down.add("redis");
      await alice.open("c1");
      await alice.alarmAt(T0);
      await alice.nextAlarm();
      await alice.nextAlarm();
      expect(alice.lag).toEqual([["redis", "alice", T0]]);

      alice.down.delete("redis");
      await alice.nextAlarm();
      await alice.open("c2");
      await alice.nextAlarm();
      expect(alice.lag).toEqual([
        ["redis", "alice", T0],
        ["redis", "alice", null],
      ]);
      expect(alice.writesTo("redis").at(-1)?.connectionIds).toEqual(["c1", "c2"]);
    });

    it("keeps its backoff when more changes arrive, while the other mirror takes them at once", async () => {
      const alice = aliceKeeper();
      alice.down.add("redis");
      await alice.open("c1");
      await alice.alarmAt(T0);
      await alice.nextAlarm(); // T0 + 250, next redis attempt at T0 + 750
      alice.clock.now = T0 + 300;
      await alice.open("c2");
      expect(await alice.keeper.nextWakeAt()).toBe(T0 + 300);
      await alice.alarmAt(T0 + 300);
      expect(alice.writesTo("postgres").map((s) => s.connectionCount)).toEqual([1, 2]);
      expect((await alice.keeper.outbox()).redis).toMatchObject({
        attempts: 2,
        nextAttemptAt: T0 + 750,
      });
    });

    it("does not stop the flush when reportLag itself fails", async () => {
      const alice = aliceKeeper({
        reportLag: async () => {
          throw new Error("monitor unreachable");
        },
      });
      alice.down.add("redis");
      await alice.open("c1");
      await alice.alarmAt(T0);
      expect(alice.writesTo("postgres")).toHaveLength(1);
      expect(alice.logs.some((line) => line.includes("monitor unreachable"))).toBe(true);
    });

    // BUG (src/core/outbox.ts flushSucceeded + src/core/presence-keeper.ts flush): a write that
    // succeeds while a newer change arrived reports "caught up" but keeps the entry with
    // `reported: true`; when the mirror fails again, `!entry.reported` is false, so the new lag is
    // never reported and /health says the mirror is fine while it is behind.
    it("tells the monitor again when the mirror fails after a catch-up that raced a change", async () => {
      const alice = aliceKeeper({ targets: ["redis"] });
      await alice.keeper.rememberProfile({
        userId: "alice",
        username: "Alice",
        isStaff: false,
        isSuperuser: false,
      });
      alice.down.add("redis");
      await alice.open("c1");
      await alice.alarmAt(T0); // fails: behind since T0
      expect(alice.monitor.get("redis")).toBe(T0);

      alice.down.delete("redis");
      const write = alice.hold("redis");
      const alarm = alice.alarmAt(T0 + 250);
      await write.started;
      alice.clock.now = T0 + 260;
      await alice.open("c2"); // a change while the write is in flight
      write.release();
      await alarm; // the write succeeded; the newer change is still queued

      alice.down.add("redis");
      await alice.nextAlarm(); // fails again: redis is behind
      expect(alice.monitor.has("redis")).toBe(true);
    });
  });

  describe("mirrors written within the change (immediate)", () => {
    const targets: MirrorTarget[] = ["redis", "postgres", "shard"];

    it("writes them with the new state and leaves only the other mirrors queued", async () => {
      const alice = aliceKeeper({ targets });
      expect(await alice.openNow("c1", ["shard"])).toBe("online");
      expect(alice.writesTo("shard")).toEqual([
        expect.objectContaining({ isOnline: true, connectionIds: ["c1"], version: T0 }),
      ]);
      expect(alice.writesTo("redis")).toEqual([]);
      expect(Object.keys(await alice.keeper.outbox()).sort()).toEqual(["postgres", "redis"]);
    });

    it("stores nothing until the mirror answered, while reads already see the change", async () => {
      const alice = aliceKeeper({ targets });
      const held = alice.hold("shard");
      const opening = alice.openNow("c1", ["shard"]);
      await held.started;
      expect(alice.storage.map.has("presence")).toBe(false);
      expect(alice.storage.map.has("outbox")).toBe(false);
      expect(await alice.keeper.presence()).toMatchObject({ isOnline: true, version: T0 });
      held.release();
      await opening;
      expect(alice.storage.map.get("presence")).toMatchObject({ isOnline: true, version: T0 });
      expect(Object.keys(alice.storage.map.get("outbox") as object).sort()).toEqual([
        "postgres",
        "redis",
      ]);
    });

    it("keeps a failed one queued with backoff, for the alarm to retry", async () => {
      const alice = aliceKeeper({ targets });
      alice.down.add("shard");
      await alice.openNow("c1", ["shard"]);
      expect(alice.storage.map.get("outbox")).toMatchObject({
        shard: { attempts: 1, nextAttemptAt: T0 + 250 },
      });
      alice.down.delete("shard");
      await alice.alarmAt(T0 + 250);
      expect(alice.writesTo("shard")).toEqual([expect.objectContaining({ connectionIds: ["c1"] })]);
      expect(await alice.keeper.outbox()).toEqual({});
    });

    it("lets a change made while the mirror is in flight win: the newer state is stored", async () => {
      const alice = aliceKeeper({ targets });
      const held = alice.hold("shard");
      const first = alice.openNow("c1", ["shard"]);
      await held.started;
      await alice.openNow("c2", ["shard"]);
      held.release();
      await first;
      expect(alice.storage.map.get("presence")).toMatchObject({ version: T0 + 1 });
      // The older write landed last; a mirror keeps the highest version it saw (the shard and
      // Postgres refuse older ones), and that is the newest state.
      const newest = alice.writesTo("shard").reduce((a, b) => (b.version > a.version ? b : a));
      expect(newest).toMatchObject({ version: T0 + 1, connectionIds: ["c1", "c2"] });
      expect(await alice.keeper.outbox()).not.toHaveProperty("shard");
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
      const restarted = new PresenceKeeper({
        storage: alice.storage,
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

  describe("concurrent flush lanes", () => {
    // BUG (src/core/presence-keeper.ts flush/update): flush() runs the due targets in parallel
    // (Promise.all) and each lane does a read-modify-write of the single "outbox" key with an await
    // between the read and the write. When two mirror writes settle in the same turn, both lanes
    // read the same outbox and the later put overwrites the earlier one: a cleared target comes
    // back (written again for nothing), a failed target loses its attempts/backoff/reported flag.
    it("leaves nothing queued when both mirrors take the write in the same turn", async () => {
      const alice = aliceKeeper({ instantWrites: true });
      await alice.open("c1");
      await alice.alarmAt(T0);
      expect(alice.writesTo("redis")).toHaveLength(1);
      expect(alice.writesTo("postgres")).toHaveLength(1);
      expect(await alice.keeper.outbox()).toEqual({});
    });

    it("keeps only the failed mirror queued when the other succeeded in the same turn", async () => {
      const alice = aliceKeeper({ instantWrites: true });
      alice.down.add("redis");
      await alice.open("c1");
      await alice.alarmAt(T0);
      expect(await alice.keeper.outbox()).toEqual({
        redis: expect.objectContaining({ attempts: 1, nextAttemptAt: T0 + 250 }),
      });
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
