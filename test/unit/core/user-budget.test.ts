import { describe, expect, it } from "vitest";
import { NEW_TARGET_WINDOW_MS, NewTargets } from "../../../src/core/new-targets.ts";
import { costOf, MAX_DEBT_SECONDS, UserBudget } from "../../../src/core/user-budget.ts";
import { command } from "../helpers/holding-actor.ts";

const DEFAULTS = { perSecond: 100, burst: 200 };

describe("UserBudget", () => {
  it("admits requests until their costs add up to the burst, then refuses with retryAfterMs", () => {
    const budget = new UserBudget(DEFAULTS, 0);
    expect(budget.admit(150, 0)).toEqual({ ok: true });
    expect(budget.admit(50, 0)).toEqual({ ok: true });
    // 1 unit refills in 1000 / 100 = 10 ms.
    expect(budget.admit(1, 0)).toEqual({ ok: false, retryAfterMs: 10 });
    expect(budget.admit(30, 0)).toEqual({ ok: false, retryAfterMs: 300 });
  });

  it("is one allowance however many sockets spend from it", () => {
    // Two sockets of 40 frames each, spending from one budget of burst 60.
    const budget = new UserBudget({ perSecond: 10, burst: 60 }, 0);
    const results = Array.from({ length: 80 }, () => budget.admit(1, 0));
    expect(results.filter((r) => r.ok)).toHaveLength(60);
  });

  it("refills at perSecond up to the burst, never beyond", () => {
    const budget = new UserBudget(DEFAULTS, 0);
    budget.admit(200, 0);
    expect(budget.admit(50, 499)).toMatchObject({ ok: false });
    expect(budget.admit(50, 500)).toEqual({ ok: true });
    // An hour idle refills to the burst only.
    expect(budget.admit(200, 3_600_000)).toEqual({ ok: true });
    expect(budget.admit(1, 3_600_000)).toMatchObject({ ok: false });
  });

  it("charges a cost known after the fact, making the next request wait for the debt", () => {
    const budget = new UserBudget(DEFAULTS, 0);
    expect(budget.admit(1, 0)).toEqual({ ok: true }); // a group message's frame…
    budget.charge(499, 0); // …reached 499 users: 300 units of debt
    expect(budget.admit(1, 0)).toEqual({ ok: false, retryAfterMs: 3_010 });
    expect(budget.admit(1, 3_010)).toEqual({ ok: true });
  });

  it("admits a request dearer than the burst once the bucket is full, leaving a debt", () => {
    const budget = new UserBudget({ perSecond: 10, burst: 60 }, 0);
    expect(budget.admit(101, 0)).toEqual({ ok: true });
    expect(budget.admit(1, 0)).toEqual({ ok: false, retryAfterMs: 4_200 });
  });

  it(`never sinks deeper than ${MAX_DEBT_SECONDS} s of refill`, () => {
    const budget = new UserBudget(DEFAULTS, 0);
    budget.charge(1_000_000, 0);
    expect(budget.admit(1, 0)).toEqual({
      ok: false,
      retryAfterMs: MAX_DEBT_SECONDS * 1000 + 10,
    });
  });

  it("does not count time twice when the clock steps back", () => {
    const budget = new UserBudget(DEFAULTS, 1_000);
    budget.admit(200, 1_000);
    expect(budget.admit(1, 500)).toMatchObject({ ok: false });
    expect(budget.admit(10, 1_100)).toEqual({ ok: true });
  });

  it("admits a token refresh even in debt, charging it, so a session never expires for want of budget", () => {
    const budget = new UserBudget(DEFAULTS, 0);
    budget.charge(1_000, 0);
    const refresh = command({ type: "refresh_token", data: { token: "t" } });
    expect(budget.admitCommand(refresh, 0)).toEqual({ ok: true });
    expect(budget.admitCommand(command({ type: "ping" }), 0)).toMatchObject({ ok: false });
  });

  it("refuses to be built without a positive rate and burst", () => {
    expect(() => new UserBudget({ perSecond: 0, burst: 10 }, 0)).toThrow(TypeError);
    expect(() => new UserBudget({ perSecond: 1, burst: 0 }, 0)).toThrow(TypeError);
  });
});

describe("costOf", () => {
  it("charges 1 per frame, plus each distinct user id asked for and the user a DM reaches", () => {
    expect(costOf(command({ type: "ping" }))).toBe(1);
    expect(costOf(command({ type: "get_status" }))).toBe(1);
    const ids = Array.from({ length: 100 }, (_, i) => `user-${i}`);
    expect(costOf(command({ type: "get_status", data: { user_ids: ids } }))).toBe(101);
    expect(costOf(command({ type: "get_status", data: { user_ids: ["a", "a", "b"] } }))).toBe(3);
    expect(
      costOf(command({ type: "send_message", data: { target_user_id: "b", message: "hi" } })),
    ).toBe(2);
    expect(
      costOf(command({ type: "group_message", data: { group_name: "group_a", message: "hi" } })),
    ).toBe(1);
  });
});

describe("NewTargets", () => {
  it("admits `perMinute` distinct new targets, then refuses until the oldest leaves the window", () => {
    const targets = new NewTargets(3);
    expect(["a", "b", "c"].map((t, i) => targets.admit(t, i * 1_000).ok)).toEqual([
      true,
      true,
      true,
    ]);
    expect(targets.admit("d", 10_000)).toEqual({
      ok: false,
      retryAfterMs: NEW_TARGET_WINDOW_MS - 10_000,
    });
    expect(targets.admit("d", NEW_TARGET_WINDOW_MS)).toEqual({ ok: true });
  });

  it("does not count a target this sender wrote to within the last minute", () => {
    const targets = new NewTargets(2);
    targets.admit("a", 0);
    targets.admit("b", 0);
    for (let t = 0; t < 5 * NEW_TARGET_WINDOW_MS; t += 30_000) {
      expect(targets.admit("a", t)).toEqual({ ok: true });
    }
  });

  it("counts a target again once this sender has not written to it for a minute", () => {
    const targets = new NewTargets(1);
    targets.admit("a", 0);
    expect(targets.admit("b", 1_000)).toMatchObject({ ok: false });
    expect(targets.admit("a", NEW_TARGET_WINDOW_MS + 1)).toEqual({ ok: true });
    // "a" came back as a new target, so the one slot is taken again.
    expect(targets.admit("b", NEW_TARGET_WINDOW_MS + 2)).toMatchObject({ ok: false });
  });

  it("refuses to be built without a positive cap", () => {
    expect(() => new NewTargets(0)).toThrow(TypeError);
  });
});
