import { describe, expect, it } from "vitest";
import { type TakeResult, TokenBucket } from "../../../src/core/ratelimit.ts";

const DEFAULTS = { perSecond: 20, burst: 40 };

/** Sends `count` frames `everyMs` apart from `start`; returns each result and the time after. */
function send(bucket: TokenBucket, count: number, start: number, everyMs: number): TakeResult[] {
  return Array.from({ length: count }, (_, i) => bucket.take(start + i * everyMs));
}

const refusals = (results: TakeResult[]) => results.filter((r) => !r.ok);
const firstAbusive = (results: TakeResult[]) => results.findIndex((r) => !r.ok && r.abusive);

describe("TokenBucket", () => {
  it("allows a burst of `burst` frames at once, then refuses with retryAfterMs", () => {
    const bucket = new TokenBucket(DEFAULTS, 0);
    expect(send(bucket, 40, 0, 0).every((r) => r.ok)).toBe(true);
    // One token refills in 1000 / 20 = 50 ms.
    expect(bucket.take(0)).toEqual({ ok: false, retryAfterMs: 50, abusive: false });
  });

  it("shortens retryAfterMs as the next token refills", () => {
    const bucket = new TokenBucket(DEFAULTS, 0);
    send(bucket, 40, 0, 0);
    expect(bucket.take(30)).toEqual({ ok: false, retryAfterMs: 20, abusive: false });
  });

  it("lets a frame through once retryAfterMs has passed", () => {
    const bucket = new TokenBucket(DEFAULTS, 0);
    send(bucket, 40, 0, 0);
    const refused = bucket.take(0);
    expect(refused.ok).toBe(false);
    const wait = refused.ok ? 0 : refused.retryAfterMs;
    expect(bucket.take(wait - 1).ok).toBe(false);
    expect(bucket.take(wait).ok).toBe(true);
  });

  it("refills at perSecond over time", () => {
    const bucket = new TokenBucket(DEFAULTS, 0);
    send(bucket, 40, 0, 0);
    // Half a second later: 10 tokens.
    const results = send(bucket, 11, 500, 0);
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect(results[10]?.ok).toBe(false);
  });

  it("never holds more than `burst` tokens, however long the client was idle", () => {
    const bucket = new TokenBucket(DEFAULTS, 0);
    const results = send(bucket, 41, 3_600_000, 0);
    expect(refusals(results)).toHaveLength(1);
    expect(results[40]?.ok).toBe(false);
  });

  it("lets a client at exactly the rate through forever", () => {
    const bucket = new TokenBucket(DEFAULTS, 0);
    expect(refusals(send(bucket, 20 * 600, 0, 50))).toHaveLength(0);
  });

  it("only slows down a client just above the rate and never marks it abusive", () => {
    const bucket = new TokenBucket(DEFAULTS, 0);
    // 25 frames/s for two minutes against a rate of 20/s.
    const results = send(bucket, 25 * 120, 0, 40);
    expect(refusals(results).length).toBeGreaterThan(0);
    expect(firstAbusive(results)).toBe(-1);
    // Throughput stays at the rate: the burst plus 20/s.
    expect(results.filter((r) => r.ok).length).toBeGreaterThanOrEqual(40 + 20 * 119);
  });

  it("does not mark a client abusive at twice the rate", () => {
    const bucket = new TokenBucket(DEFAULTS, 0);
    expect(firstAbusive(send(bucket, 40 * 60, 0, 25))).toBe(-1);
  });

  it("marks a client abusive under sustained overload, not at its first refusals", () => {
    const bucket = new TokenBucket(DEFAULTS, 0);
    // 60 frames/s: the burst lasts 1 s, then strikes grow by 60 - 20 - 20 = 20 per second
    // and reach the default threshold of 2 × burst = 80 about four seconds later.
    const results = send(bucket, 60 * 10, 0, 1000 / 60);
    const abusiveAt = firstAbusive(results);
    expect(abusiveAt).toBeGreaterThan(60 * 4);
    expect(abusiveAt).toBeLessThan(60 * 6);
  });

  it("marks a flood abusive quickly", () => {
    const bucket = new TokenBucket(DEFAULTS, 0);
    const results = send(bucket, 1_000, 0, 1);
    const abusiveAt = firstAbusive(results);
    expect(abusiveAt).toBeGreaterThan(40 + 80 - 1);
    expect(abusiveAt).toBeLessThan(250);
  });

  it("forgives strikes once the client slows down", () => {
    const bucket = new TokenBucket({ perSecond: 10, burst: 5, abuseThreshold: 10 }, 0);
    const flood = send(bucket, 14, 0, 0);
    expect(refusals(flood)).toHaveLength(9);
    expect(firstAbusive(flood)).toBe(-1);
    // Ten seconds later the strikes have drained: nine more refusals are not abusive.
    const second = send(bucket, 14, 10_000, 0);
    expect(firstAbusive(second)).toBe(-1);
  });

  it("uses a custom abuse threshold", () => {
    const bucket = new TokenBucket({ perSecond: 1, burst: 1, abuseThreshold: 3 }, 0);
    const results = send(bucket, 4, 0, 0);
    expect(results.map((r) => (r.ok ? "ok" : r.abusive ? "abusive" : "refused"))).toEqual([
      "ok",
      "refused",
      "refused",
      "abusive",
    ]);
  });

  it("does not refill while the clock stands still or steps back", () => {
    const bucket = new TokenBucket({ perSecond: 1, burst: 1 }, 1_000);
    expect(bucket.take(1_000).ok).toBe(true);
    expect(bucket.take(500).ok).toBe(false);
  });

  // Bug: take() stores `now` even when it is earlier than the last update, so a clock that steps
  // back and then returns counts the same interval twice and hands out tokens nobody earned.
  it("does not hand out tokens for time counted twice after the clock stepped back", () => {
    const bucket = new TokenBucket({ perSecond: 1, burst: 10 }, 0);
    send(bucket, 10, 10_000, 0); // empties the bucket at t = 10 s
    bucket.take(0); // the clock steps back 10 s
    expect(bucket.take(10_000).ok).toBe(false); // and returns: no real time has passed
  });

  it("refuses options that could never let a frame through", () => {
    expect(() => new TokenBucket({ perSecond: 0, burst: 40 }, 0)).toThrow(TypeError);
    expect(() => new TokenBucket({ perSecond: 20, burst: 0 }, 0)).toThrow(TypeError);
  });
});
