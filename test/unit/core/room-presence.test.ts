import { describe, expect, it } from "vitest";
import {
  CALLS_PER_SECOND,
  PRESENCE_WINDOW_MS,
  RoomPresence,
  type RoomPresencePorts,
} from "../../../src/core/room-presence.ts";
import type { StatusChanged } from "../../../src/protocol/messages.ts";

const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);

function flip(userId: string, isOnline: boolean, lastSeen: string | null = null): StatusChanged {
  return {
    user_id: userId,
    is_online: isOnline,
    connection_count: isOnline ? 1 : 0,
    last_seen: lastSeen,
  };
}

/** A room of `members` whose calls are recorded; `clock` drives the window. */
function room(members: string[], maxMembers = 100) {
  const calls: { userId: string; statuses?: StatusChanged[]; count?: number }[] = [];
  const local: unknown[] = [];
  const clock = { now: T0 };
  const wakes: number[] = [];
  const ports: RoomPresencePorts = {
    wakeAt: (at) => void wakes.push(at),
    members: () => members,
    onlineCount: () => members.length,
    pushStatuses: async (userId, statuses) => void calls.push({ userId, statuses }),
    pushCount: async (userId, count) => void calls.push({ userId, count }),
    local: (update) => void local.push(update),
    now: () => clock.now,
  };
  return { presence: new RoomPresence(ports, maxMembers), calls, local, clock, wakes, ports };
}

describe("RoomPresence", () => {
  it("holds flips until the window closes, then calls each member once with all of them", async () => {
    const { presence, calls, clock } = room(["alice", "bob", "carol"]);
    presence.receive(flip("alice", true), clock.now);
    clock.now += 10;
    presence.receive(flip("bob", true), clock.now);
    expect(presence.nextWakeAt()).toBe(T0 + PRESENCE_WINDOW_MS);
    expect(await presence.flush(T0 + PRESENCE_WINDOW_MS - 1)).toBeNull();
    expect(calls).toEqual([]);

    clock.now = T0 + PRESENCE_WINDOW_MS;
    const report = await presence.flush(clock.now);
    expect(report).toEqual({ received: 2, users: 2, calls: 3, countsOnly: false });
    const byUser = Object.fromEntries(
      calls.map((c) => [c.userId, c.statuses?.map((s) => s.user_id)]),
    );
    // Nobody hears their own flip.
    expect(byUser).toEqual({ alice: ["bob"], bob: ["alice"], carol: ["alice", "bob"] });
  });

  it("merges a user's flips in one window into the latest", async () => {
    const { presence, calls, clock } = room(["alice", "bob"]);
    presence.receive(flip("alice", true), clock.now);
    presence.receive(flip("alice", false, "2026-12-05T12:00:00.000Z"), clock.now + 5);
    presence.receive(flip("alice", true, "2026-12-05T12:00:00.000Z"), clock.now + 9);
    clock.now += PRESENCE_WINDOW_MS;
    const report = await presence.flush(clock.now);
    expect(report?.received).toBe(3);
    expect(calls).toEqual([
      { userId: "bob", statuses: [flip("alice", true, "2026-12-05T12:00:00.000Z")] },
    ]);
  });

  it("sends counts only above maxMembers: one call per member per window", async () => {
    const members = Array.from({ length: 5 }, (_, i) => `m${i}`);
    const { presence, calls, local, clock } = room(members, 3);
    for (const userId of ["x", "y", "z"]) presence.receive(flip(userId, false), clock.now);
    clock.now += PRESENCE_WINDOW_MS;
    const report = await presence.flush(clock.now);
    expect(report).toEqual({ received: 3, users: 3, calls: 5, countsOnly: true });
    expect(calls.every((c) => c.count === 5 && c.statuses === undefined)).toBe(true);
    expect(local).toEqual([{ onlineCount: 5 }]);
  });

  it("costs O(M) calls for a storm of M offline flips in a room of M members", async () => {
    const members = Array.from({ length: 2_000 }, (_, i) => `u${i}`);
    const { presence, calls, clock } = room(members);
    let received = 0;
    // Every member leaves (the room forgets them) and flips offline within one window.
    while (members.length > 0) {
      const userId = members.pop() as string;
      presence.receive(flip(userId, false), clock.now);
      received++;
    }
    clock.now += PRESENCE_WINDOW_MS;
    await presence.flush(clock.now);
    expect(received + calls.length).toBe(2_000);
  });

  it("stays O(M) when the storm's flips spread over many windows", async () => {
    const members = Array.from({ length: 2_000 }, (_, i) => `u${i}`);
    const { presence, calls, clock } = room(members);
    let received = 0;
    // 40 flips every 50 ms (800/s, about what one workerd thread handles): 2.5 s of storm.
    while (members.length > 0 || presence.nextWakeAt() !== null) {
      for (let n = 0; n < 40 && members.length > 0; n++) {
        presence.receive(flip(members.pop() as string, false), clock.now);
        received++;
      }
      await presence.flush(clock.now);
      clock.now += 50;
    }
    expect(received).toBe(2_000);
    // Unbatched, the k-th flip reaches the 2,000 - k members left: about 2,000,000 calls.
    expect(calls.length).toBeLessThan(2 * 2_000);
  });

  it("paces windows: after a flush of N calls the next waits N / CALLS_PER_SECOND", async () => {
    const members = Array.from({ length: 500 }, (_, i) => `u${i}`);
    const { presence, calls, clock } = room(members, 1_000);
    presence.receive(flip("x", true), clock.now);
    clock.now += PRESENCE_WINDOW_MS;
    await presence.flush(clock.now);
    expect(calls).toHaveLength(500);
    const flushedAt = clock.now;
    presence.receive(flip("y", true), clock.now);
    expect(presence.nextWakeAt()).toBe(flushedAt + (500 * 1000) / CALLS_PER_SECOND);
  });

  it("a failing member does not stop the others", async () => {
    const { presence, ports, clock } = room(["alice", "bob", "carol"]);
    const told: string[] = [];
    ports.pushStatuses = async (userId) => {
      if (userId === "bob") throw new Error("evicted");
      told.push(userId);
    };
    presence.receive(flip("dave", true), clock.now);
    clock.now += PRESENCE_WINDOW_MS;
    expect((await presence.flush(clock.now))?.calls).toBe(3);
    expect(told.sort()).toEqual(["alice", "carol"]);
  });

  it("a flip arriving during a flush waits for the next window", async () => {
    const { presence, ports, clock } = room(["alice", "bob"]);
    let late = true;
    const push = ports.pushStatuses;
    ports.pushStatuses = async (userId, statuses) => {
      if (late) {
        late = false;
        presence.receive(flip("carol", true), clock.now);
      }
      await push(userId, statuses);
    };
    presence.receive(flip("dave", true), clock.now);
    clock.now += PRESENCE_WINDOW_MS;
    await presence.flush(clock.now);
    expect(presence.nextWakeAt()).not.toBeNull();
    clock.now = presence.nextWakeAt() as number;
    expect((await presence.flush(clock.now))?.users).toBe(1);
  });

  it("asks its host for one wake-up per window", async () => {
    const { presence, clock, wakes } = room(["alice", "bob"]);
    expect(presence.nextWakeAt()).toBeNull();
    presence.receive(flip("alice", true), clock.now);
    presence.receive(flip("bob", true), clock.now + 1);
    expect(wakes).toEqual([T0 + PRESENCE_WINDOW_MS]);
    clock.now += PRESENCE_WINDOW_MS;
    await presence.flush(clock.now);
    expect(presence.nextWakeAt()).toBeNull();
    presence.receive(flip("alice", false, "2026-12-05T12:00:01.000Z"), clock.now);
    expect(wakes).toHaveLength(2);
  });
});
