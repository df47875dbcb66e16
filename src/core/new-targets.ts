/**
 * A cap on how many distinct new direct-message targets one user may add per minute
 * (NEW_TARGETS_PER_MINUTE, default 60; docs/protocol.md, "Budgets"). Every send to a user id wakes
 * (or creates) that user's actor, so a sender spraying random ids would otherwise create
 * actors as fast as their frame budget allows. A target counts as new when this sender has not
 * sent to it within the last minute; talking on with the same people costs nothing here.
 *
 * Held in the sender's UserHub memory: an evicted hub forgives its user, which only happens
 * after the user went quiet.
 */
import type { Admission } from "./user-budget.ts";

/** The window targets are remembered and counted over: one minute. */
export const NEW_TARGET_WINDOW_MS = 60_000;

export class NewTargets {
  private readonly perWindow: number;
  /** Target → when this sender last sent to it; ordered oldest first (re-inserted on use). */
  private readonly recent = new Map<string, number>();
  /** When each new target counted in the window was added, oldest first. */
  private readonly added: number[] = [];

  /** `perMinute`: new targets allowed per NEW_TARGET_WINDOW_MS. */
  constructor(perMinute: number) {
    if (!(perMinute >= 1)) throw new TypeError("new-target cap needs perMinute >= 1");
    this.perWindow = perMinute;
  }

  /** Admit a direct message to `target` at `now` (ms), or refuse it with the wait. */
  admit(target: string, now: number): Admission {
    this.expire(now);
    if (this.recent.has(target)) {
      this.recent.delete(target);
      this.recent.set(target, now);
      return { ok: true };
    }
    const oldest = this.added[0];
    if (this.added.length >= this.perWindow && oldest !== undefined) {
      return { ok: false, retryAfterMs: Math.max(1, oldest + NEW_TARGET_WINDOW_MS - now) };
    }
    this.added.push(now);
    this.recent.set(target, now);
    return { ok: true };
  }

  private expire(now: number): void {
    const horizon = now - NEW_TARGET_WINDOW_MS;
    while (this.added.length > 0 && (this.added[0] ?? now) <= horizon) this.added.shift();
    for (const [target, at] of this.recent) {
      if (at > horizon) break;
      this.recent.delete(target);
    }
  }
}
