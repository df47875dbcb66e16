import { describe, expect, it } from "vitest";
import {
  connectionsChanged,
  graceElapsed,
  INITIAL_PRESENCE,
  nextVersion,
  type PresenceState,
  socketsLost,
} from "../../../src/core/presence.ts";

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);
const GRACE = 5_000;

/** Applies connection counts one after another (1 ms apart from T0); returns every step. */
function counts(
  sequence: number[],
  graceMs = GRACE,
  from: PresenceState = INITIAL_PRESENCE,
): { state: PresenceState; flip: string | null }[] {
  let state = from;
  return sequence.map((count, i) => {
    const step = connectionsChanged(state, count, T0 + i, graceMs);
    state = step.state;
    return step;
  });
}

const last = <T>(items: T[]): T => {
  const item = items.at(-1);
  if (item === undefined) throw new Error("empty");
  return item;
};

describe("connectionsChanged", () => {
  it("flips online with the first connection", () => {
    const [step] = counts([1]);
    expect(step).toEqual({
      state: { isOnline: true, version: T0, lastSeen: null, offlineAt: null },
      flip: "online",
    });
  });

  it("does not flip again for a second tab", () => {
    expect(counts([1, 2, 3]).map((s) => s.flip)).toEqual(["online", null, null]);
  });

  it("advances the version on every change of the connection set", () => {
    expect(counts([1, 2, 1, 0, 1]).map((s) => s.state.version)).toEqual([
      T0,
      T0 + 1,
      T0 + 2,
      T0 + 3,
      T0 + 4,
    ]);
  });

  it("advances the version even when the clock did not move", () => {
    const first = connectionsChanged(INITIAL_PRESENCE, 1, T0, GRACE).state;
    const second = connectionsChanged(first, 2, T0, GRACE).state;
    expect(second.version).toBe(first.version + 1);
  });

  it("stays online through the grace period after the last socket closed", () => {
    const step = last(counts([1, 0]));
    expect(step.flip).toBeNull();
    expect(step.state).toMatchObject({ isOnline: true, offlineAt: T0 + 1 + GRACE, lastSeen: null });
  });

  it("flips offline at once when the grace is 0", () => {
    const step = last(counts([1, 0], 0));
    expect(step.flip).toBe("offline");
    expect(step.state).toEqual({
      isOnline: false,
      version: T0 + 1,
      lastSeen: new Date(T0 + 1).toISOString(),
      offlineAt: null,
    });
  });

  it("flips nothing when the user reconnects inside the grace, and cancels the pending flip", () => {
    const steps = counts([1, 0, 1]);
    expect(steps.map((s) => s.flip)).toEqual(["online", null, null]);
    expect(last(steps).state).toMatchObject({ isOnline: true, offlineAt: null });
  });

  it("does not push the pending flip back when another close arrives during the grace", () => {
    // Two sockets closing one after the other: the count reaches 0 once, then is reported again.
    const step = last(counts([1, 0, 0]));
    expect(step.state.offlineAt).toBe(T0 + 1 + GRACE);
  });

  it("flips nothing for a count of 0 while already offline, but still advances the version", () => {
    const step = last(counts([0]));
    expect(step).toEqual({ state: { ...INITIAL_PRESENCE, version: T0 }, flip: null });
  });

  it("keeps last_seen of the previous session when the user comes back", () => {
    const offline = last(counts([1, 0], 0)).state;
    const back = connectionsChanged(offline, 1, T0 + 60_000, GRACE);
    expect(back.flip).toBe("online");
    expect(back.state.lastSeen).toBe(offline.lastSeen);
  });
});

describe("graceElapsed", () => {
  const pending = last(counts([1, 0])).state; // offlineAt = T0 + 1 + GRACE
  const offlineAt = T0 + 1 + GRACE;

  it("flips nothing before the grace is over", () => {
    const result = graceElapsed(pending, 0, offlineAt - 1);
    expect(result.flip).toBeNull();
    expect(result.state).toBe(pending);
  });

  it("flips offline once the grace is over, stamping last_seen and advancing the version", () => {
    expect(graceElapsed(pending, 0, offlineAt)).toEqual({
      state: {
        isOnline: false,
        version: offlineAt,
        lastSeen: new Date(offlineAt).toISOString(),
        offlineAt: null,
      },
      flip: "offline",
    });
  });

  it("cancels the flip when a connection is back by then", () => {
    expect(graceElapsed(pending, 1, offlineAt + 10)).toEqual({
      state: { ...pending, offlineAt: null },
      flip: null,
    });
  });

  it("flips nothing when no flip is pending", () => {
    const online = last(counts([1])).state;
    expect(graceElapsed(online, 0, T0 + 3_600_000)).toEqual({ state: online, flip: null });
    expect(graceElapsed(INITIAL_PRESENCE, 0, T0)).toEqual({ state: INITIAL_PRESENCE, flip: null });
  });
});

describe("nextVersion", () => {
  it("is the clock when the clock is ahead of the last version", () => {
    expect(nextVersion({ ...INITIAL_PRESENCE, version: 7 }, T0)).toBe(T0);
  });

  it("is past the last version when the clock is behind it (a clock step back)", () => {
    expect(nextVersion({ ...INITIAL_PRESENCE, version: T0 + 500 }, T0)).toBe(T0 + 501);
  });

  it("is newer than a version a mirror saw but the actor never stored (lost in a crash)", () => {
    // Stored: version v at T0. Told a mirror v' = T0 + 10, then died before storing it.
    const stored = connectionsChanged(INITIAL_PRESENCE, 1, T0, GRACE).state;
    const toldButLost = connectionsChanged(stored, 2, T0 + 10, GRACE).state;
    // The restarted actor goes on from the stored state, later.
    const next = connectionsChanged(stored, 0, T0 + 20, GRACE).state;
    expect(next.version).toBeGreaterThan(toldButLost.version);
  });
});

describe("an actor starting after a crash (socketsLost)", () => {
  const online = last(counts([1])).state;

  it("flips a user offline at once when the state says online but no socket survived", () => {
    const { state, flip } = socketsLost(online, 0, T0 + 60_000);
    expect(flip).toBe("offline");
    expect(state).toMatchObject({ isOnline: false, offlineAt: null });
    expect(state.version).toBeGreaterThan(online.version);
    expect(state.lastSeen).toBe(new Date(T0 + 60_000).toISOString());
  });

  it("leaves a user alone whose sockets survived (a wake from hibernation)", () => {
    expect(socketsLost(online, 2, T0 + 60_000)).toEqual({ state: online, flip: null });
  });

  it("leaves a pending grace period to the alarm", () => {
    const closing = last(counts([1, 0])).state;
    expect(socketsLost(closing, 0, T0 + 10)).toEqual({ state: closing, flip: null });
  });
});
