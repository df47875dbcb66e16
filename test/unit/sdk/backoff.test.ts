import { describe, expect, it } from "vitest";
import {
  backoffCap,
  backoffDelay,
  checkBackoff,
  DEFAULT_BACKOFF,
} from "../../../src/sdk/backoff.ts";

const options = { minDelayMs: 100, maxDelayMs: 5_000, growFactor: 2 };

describe("backoff", () => {
  it("caps retry n at min * grow ** (n - 1)", () => {
    expect([1, 2, 3, 4, 5].map((retry) => backoffCap(retry, options))).toEqual([
      100, 200, 400, 800, 1600,
    ]);
  });

  it("never caps above maxDelayMs", () => {
    expect(backoffCap(7, options)).toBe(5_000);
    expect(backoffCap(1_000, options)).toBe(5_000);
  });

  it("draws the delay with full jitter between 0 and the cap", () => {
    expect(backoffDelay(3, options, () => 0)).toBe(0);
    expect(backoffDelay(3, options, () => 0.5)).toBe(200);
    expect(backoffDelay(3, options, () => 0.999_999)).toBe(399);
    for (let i = 0; i < 200; i += 1) {
      const delay = backoffDelay(4, options);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(800);
    }
  });

  it("defaults to 1 s doubling up to 30 s", () => {
    expect(DEFAULT_BACKOFF).toEqual({ minDelayMs: 1000, maxDelayMs: 30_000, growFactor: 2 });
    expect(backoffCap(6, DEFAULT_BACKOFF)).toBe(30_000);
  });

  it("refuses settings that cannot describe a backoff", () => {
    expect(() => checkBackoff({ ...options, maxDelayMs: 50 })).toThrow(TypeError);
    expect(() => checkBackoff({ ...options, growFactor: 0.5 })).toThrow(TypeError);
    expect(() => checkBackoff({ ...options, minDelayMs: -1 })).toThrow(TypeError);
    expect(checkBackoff(options)).toBe(options);
  });
});
