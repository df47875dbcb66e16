/**
 * One user's PresenceKeeper over in-memory storage, with mirror writers that record, fail and
 * hold their writes on demand: the harness of the presence and mirror-flush tests.
 */
import { afterEach, beforeEach, vi } from "vitest";
import { CachedStore } from "../../../src/core/cached-store.ts";
import type { MirrorTarget } from "../../../src/core/mirror-flusher.ts";
import type { PresenceSnapshot } from "../../../src/core/presence.ts";
import { PresenceKeeper } from "../../../src/core/presence-keeper.ts";
import { UserProfileStore } from "../../../src/core/user-profile.ts";
import { type Deferred, deferred } from "./deferred.ts";
import { memoryStorage } from "./storage.ts";

export const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);
export const GRACE = 5_000;
export const REFRESH = 240_000;

export interface Options {
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
export function aliceKeeper(options: Options = {}) {
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
  const store = new CachedStore(storage);
  const profile = new UserProfileStore(store);
  const keeper = new PresenceKeeper({
    storage: store,
    profile,
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
    profile,
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

/** Alice as her token says: no staff rights. */
export const ALICE = { userId: "alice", username: "Alice", isStaff: false, isSuperuser: false };

export async function onlineAndFlushed(options: Options = {}) {
  const alice = aliceKeeper(options);
  await alice.profile.remember(ALICE);
  await alice.open("c1");
  await alice.alarmAt(T0);
  return alice;
}

// No jitter in any test file that imports this one: backoff delays are exactly 250, 500, 1000 … ms.
beforeEach(() => {
  vi.spyOn(Math, "random").mockReturnValue(0.5);
});
afterEach(() => {
  vi.restoreAllMocks();
});
