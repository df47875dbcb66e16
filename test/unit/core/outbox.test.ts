import { afterEach, describe, expect, it, vi } from "vitest";
import {
  backoffMs,
  dueTargets,
  flushFailed,
  flushSucceeded,
  markDirty,
  nextFlushAt,
  type Outbox,
} from "../../../src/core/outbox.ts";

type Target = "redis" | "postgres";
const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);

/** A generation-1 entry for `target`, failed `times` times in a row at T0 with no jitter. */
function failing(target: Target, times: number): Outbox<Target> {
  vi.spyOn(Math, "random").mockReturnValue(0.5);
  let outbox = markDirty<Target>({}, [target], T0);
  for (let i = 0; i < times; i++) outbox = flushFailed(outbox, target, T0);
  vi.mocked(Math.random).mockRestore();
  return outbox;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("backoffMs", () => {
  it("starts at 250 ms and doubles with each failure up to 4 s", () => {
    const noJitter = () => 0.5;
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoffMs(n, noJitter))).toEqual([
      250, 500, 1_000, 2_000, 4_000, 4_000, 4_000, 4_000,
    ]);
  });

  it("treats zero failures like the first", () => {
    expect(backoffMs(0, () => 0.5)).toBe(250);
  });

  it("jitters by at most ±20 %", () => {
    expect(backoffMs(1, () => 0)).toBe(200);
    expect(backoffMs(1, () => 0.999_999)).toBe(300);
    expect(backoffMs(10, () => 0)).toBe(3_200);
    expect(backoffMs(10, () => 0.999_999)).toBe(4_800);
  });

  it("stays within the bounds for any random value", () => {
    for (let i = 0; i <= 100; i++) {
      const r = i / 101;
      for (const attempts of [1, 3, 9]) {
        const base = Math.min(4_000, 250 * 2 ** (attempts - 1));
        const delay = backoffMs(attempts, () => r);
        expect(delay).toBeGreaterThanOrEqual(base * 0.8);
        expect(delay).toBeLessThanOrEqual(base * 1.2);
      }
    }
  });

  it("uses Math.random when no source is given", () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    expect(backoffMs(2)).toBe(400);
  });
});

describe("markDirty", () => {
  it("queues each target as due now, generation 1, not yet reported", () => {
    expect(markDirty<Target>({}, ["redis", "postgres"], T0)).toEqual({
      redis: { since: T0, generation: 1, attempts: 0, nextAttemptAt: T0, reported: false },
      postgres: { since: T0, generation: 1, attempts: 0, nextAttemptAt: T0, reported: false },
    });
  });

  it("bumps the generation of a queued target and keeps when its oldest change happened", () => {
    const once = markDirty<Target>({}, ["redis"], T0);
    expect(markDirty(once, ["redis"], T0 + 500).redis).toEqual({
      since: T0,
      generation: 2,
      attempts: 0,
      nextAttemptAt: T0,
      reported: false,
    });
  });

  it("leaves the other targets alone and does not change the outbox it was given", () => {
    const before = markDirty<Target>({}, ["postgres"], T0);
    const snapshot = structuredClone(before);
    const after = markDirty<Target>(before, ["redis"], T0 + 1);
    expect(after.postgres).toEqual(snapshot.postgres);
    expect(before).toEqual(snapshot);
  });

  it("keeps a failing target's backoff when more changes arrive", () => {
    const outbox = failing("redis", 3); // next attempt at T0 + 1,000
    const dirty = markDirty(outbox, ["redis"], T0 + 10);
    expect(dirty.redis).toMatchObject({ attempts: 3, nextAttemptAt: T0 + 1_000, generation: 2 });
    expect(dueTargets(dirty, T0 + 10)).toEqual([]);
  });
});

describe("dueTargets", () => {
  it("lists the targets whose next attempt has come, with the generation to write", () => {
    let outbox = markDirty<Target>({}, ["redis", "postgres"], T0);
    outbox = markDirty(outbox, ["postgres"], T0);
    expect(dueTargets(outbox, T0)).toEqual([
      { target: "redis", generation: 1 },
      { target: "postgres", generation: 2 },
    ]);
  });

  it("leaves out a target that is backing off until its time", () => {
    const outbox = { ...failing("redis", 1), ...markDirty<Target>({}, ["postgres"], T0) };
    expect(dueTargets(outbox, T0 + 249)).toEqual([{ target: "postgres", generation: 1 }]);
    expect(dueTargets(outbox, T0 + 250).map((d) => d.target)).toEqual(["redis", "postgres"]);
  });

  it("is empty for an empty outbox", () => {
    expect(dueTargets({}, T0)).toEqual([]);
  });
});

describe("flushSucceeded", () => {
  it("clears the target when no change arrived during the flush", () => {
    const outbox = markDirty<Target>({}, ["redis", "postgres"], T0);
    expect(flushSucceeded(outbox, "redis", 1, T0 + 5)).toEqual({ postgres: outbox.postgres });
  });

  it("keeps the target, due at once, when a change arrived during the flush", () => {
    const writing = markDirty<Target>({}, ["redis"], T0);
    const [due] = dueTargets(writing, T0);
    const changed = markDirty(writing, ["redis"], T0 + 20);
    const after = flushSucceeded(changed, "redis", due?.generation ?? -1, T0 + 40);
    expect(after.redis).toMatchObject({ generation: 2, attempts: 0, nextAttemptAt: T0 + 40 });
    expect(dueTargets(after, T0 + 40)).toEqual([{ target: "redis", generation: 2 }]);
  });

  it("resets the backoff of a target that had been failing", () => {
    const outbox = markDirty(failing("redis", 4), ["redis"], T0 + 1);
    expect(flushSucceeded(outbox, "redis", 1, T0 + 3_000).redis).toMatchObject({
      attempts: 0,
      nextAttemptAt: T0 + 3_000,
    });
  });

  it("ignores a target that is not queued", () => {
    const outbox = markDirty<Target>({}, ["postgres"], T0);
    expect(flushSucceeded(outbox, "redis", 1, T0)).toBe(outbox);
  });
});

describe("flushFailed", () => {
  it("counts the failure and schedules the retry 250 ms doubling to 4 s later", () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    let outbox = markDirty<Target>({}, ["redis"], T0);
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const now = T0 + i * 10_000;
      outbox = flushFailed(outbox, "redis", now);
      delays.push((outbox.redis?.nextAttemptAt ?? 0) - now);
    }
    expect(delays).toEqual([250, 500, 1_000, 2_000, 4_000, 4_000, 4_000]);
    expect(outbox.redis?.attempts).toBe(7);
  });

  it("jitters the retry within ±20 %", () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    expect(flushFailed(markDirty<Target>({}, ["redis"], T0), "redis", T0).redis).toMatchObject({
      nextAttemptAt: T0 + 200,
    });
    vi.mocked(Math.random).mockReturnValue(0.999_999);
    expect(flushFailed(markDirty<Target>({}, ["redis"], T0), "redis", T0).redis).toMatchObject({
      nextAttemptAt: T0 + 300,
    });
  });

  it("keeps the entry's generation, start time and report flag", () => {
    const reported: Outbox<Target> = {
      redis: { since: T0, generation: 1, attempts: 0, nextAttemptAt: T0, reported: true },
    };
    expect(flushFailed(reported, "redis", T0 + 9).redis).toMatchObject({
      generation: 1,
      since: T0,
      reported: true,
    });
  });

  it("ignores a target that is not queued", () => {
    const outbox = markDirty<Target>({}, ["postgres"], T0);
    expect(flushFailed(outbox, "redis", T0)).toBe(outbox);
  });
});

describe("nextFlushAt", () => {
  it("is null for an empty outbox", () => {
    expect(nextFlushAt({})).toBeNull();
  });

  it("is the earliest next attempt over all targets", () => {
    const outbox = { ...failing("redis", 2), ...markDirty<Target>({}, ["postgres"], T0 + 100) };
    expect(nextFlushAt(outbox)).toBe(T0 + 100);
    expect(nextFlushAt(flushSucceeded(outbox, "postgres", 1, T0 + 100))).toBe(T0 + 500);
  });
});
