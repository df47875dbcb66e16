import { describe, expect, it } from "vitest";
import { type AlarmStorage, Deadlines } from "../../../src/core/deadlines.ts";

const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);

/** An actor's alarm as the runtime keeps it, counting the writes. */
function alarmStorage(initial: number | null = null) {
  const state = { alarm: initial, reads: 0, writes: 0 };
  const storage: AlarmStorage = {
    getAlarm: async () => {
      state.reads++;
      return state.alarm;
    },
    setAlarm: async (at) => {
      state.writes++;
      state.alarm = at;
    },
    deleteAlarm: async () => {
      state.writes++;
      state.alarm = null;
    },
  };
  return { state, storage };
}

/** A deadline whose next time the test moves by hand, recording when it ran. */
function deadline(at: number | null) {
  const part = {
    at,
    ran: [] as number[],
    nextAt: () => part.at,
    run: (now: number) => {
      part.ran.push(now);
      part.at = null;
    },
  };
  return part;
}

describe("Deadlines", () => {
  it("sets the alarm for the earliest of its deadlines", async () => {
    const { state, storage } = alarmStorage();
    const deadlines = new Deadlines(storage);
    deadlines.register("tokens", deadline(T0 + 30_000));
    deadlines.register("presence", deadline(T0 + 5_000));
    deadlines.register("idle", deadline(null));
    await deadlines.reschedule();
    expect(state.alarm).toBe(T0 + 5_000);
  });

  it("clears the alarm when no deadline is pending", async () => {
    const { state, storage } = alarmStorage(T0);
    const deadlines = new Deadlines(storage);
    deadlines.register("idle", deadline(null));
    await deadlines.reschedule();
    expect(state.alarm).toBeNull();
  });

  it("runs only the deadlines that are due when the alarm fires, then re-arms for the rest", async () => {
    const { state, storage } = alarmStorage();
    const deadlines = new Deadlines(storage);
    const due = deadline(T0);
    const later = deadline(T0 + 60_000);
    deadlines.register("due", due);
    deadlines.register("later", later);
    await deadlines.fire(T0 + 1);
    expect(due.ran).toEqual([T0 + 1]);
    expect(later.ran).toEqual([]);
    expect(state.alarm).toBe(T0 + 60_000);
  });

  it("asks each deadline when its turn comes, so it sees what an earlier one did", async () => {
    const { storage } = alarmStorage();
    const deadlines = new Deadlines(storage);
    const second = deadline(null);
    deadlines.register("first", {
      nextAt: () => T0,
      run: () => {
        second.at = T0;
      },
    });
    deadlines.register("second", second);
    await deadlines.fire(T0);
    expect(second.ran).toEqual([T0]);
  });

  it("reads the alarm once and writes it only when it changes", async () => {
    const { state, storage } = alarmStorage();
    const deadlines = new Deadlines(storage);
    const part = deadline(T0 + 1_000);
    deadlines.register("part", part);
    await deadlines.reschedule();
    await deadlines.reschedule();
    expect(state).toMatchObject({ reads: 1, writes: 1 });
    part.at = T0 + 2_000;
    await deadlines.reschedule();
    expect(state).toMatchObject({ reads: 1, writes: 2, alarm: T0 + 2_000 });
  });

  it("sets the alarm again after it fired, even for the same time", async () => {
    const { state, storage } = alarmStorage();
    const deadlines = new Deadlines(storage);
    const part = deadline(T0);
    deadlines.register("part", {
      nextAt: () => part.at,
      // Work that stays due (a retry): the alarm the runtime cleared must be set again.
      run: () => undefined,
    });
    await deadlines.reschedule();
    state.alarm = null;
    await deadlines.fire(T0);
    expect(state.alarm).toBe(T0);
  });

  it("refuses a name registered twice", () => {
    const deadlines = new Deadlines(alarmStorage().storage);
    deadlines.register("tokens", deadline(null));
    expect(() => deadlines.register("tokens", deadline(null))).toThrow(/twice/);
  });

  it("ensureBy asks no deadline while the alarm already comes in time, and re-arms when not", async () => {
    const { state, storage } = alarmStorage();
    const deadlines = new Deadlines(storage);
    const metrics = deadline(T0 + 5_000);
    let asked = 0;
    deadlines.register("metrics", {
      nextAt: () => {
        asked++;
        return metrics.nextAt();
      },
      run: metrics.run,
    });
    await deadlines.ensureBy(null);
    expect(asked).toBe(0);
    await deadlines.ensureBy(T0 + 5_000);
    expect(state.alarm).toBe(T0 + 5_000);
    const askedOnce = asked;
    await deadlines.ensureBy(T0 + 9_000);
    expect(asked).toBe(askedOnce);
    expect(state.writes).toBe(1);
    metrics.at = T0 + 1_000;
    await deadlines.ensureBy(T0 + 1_000);
    expect(state.alarm).toBe(T0 + 1_000);
  });
});
