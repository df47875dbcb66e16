/**
 * A user's budget across all their sockets (docs/protocol.md, "Budgets"): a token bucket in cost
 * units, held by the user's UserHub, so twenty sockets of one account share one allowance
 * instead of getting twenty. The per-connection rate (ratelimit.ts) still applies to each socket.
 *
 * Costs: every frame 1, each distinct user id asked for in `get_status` 1, each user a message
 * reaches 1. What a request costs up front is admitted against the bucket; what is known only
 * afterwards (the users a group message or broadcast reached) is charged after the fact and may
 * put the bucket into debt, so the next request waits until the debt is paid off.
 */
import type { ClientCommand, CommandType } from "../protocol/messages.ts";

export interface UserBudgetOptions {
  /** Cost units refilled per second. Default 100 (USER_BUDGET_PER_SECOND). */
  perSecond: number;
  /** Most units held at once. Default 200 (USER_BUDGET_BURST). */
  burst: number;
}

export type Admission = { ok: true } | { ok: false; retryAfterMs: number };

/**
 * The deepest debt a charge after the fact may leave, in seconds of refill: 60. One staff
 * broadcast to a huge audience then blocks its sender for at most a minute, not for hours.
 */
export const MAX_DEBT_SECONDS = 60;

/**
 * Commands charged but never refused: refusing `refresh_token` to a user in debt could let the
 * token expire and end every session at `exp`. The per-connection rate still bounds them.
 */
export const ALWAYS_ADMITTED: ReadonlySet<CommandType> = new Set(["refresh_token"]);

export class UserBudget {
  /** Units available; negative while in debt. */
  private level: number;
  private updatedAt: number;
  private readonly perMs: number;
  private readonly burst: number;
  private readonly floor: number;

  constructor(options: UserBudgetOptions, now: number) {
    if (options.perSecond <= 0 || options.burst < 1) {
      throw new TypeError("user budget needs perSecond > 0 and burst >= 1");
    }
    this.perMs = options.perSecond / 1000;
    this.burst = options.burst;
    this.floor = -options.perSecond * MAX_DEBT_SECONDS;
    this.level = options.burst;
    this.updatedAt = now;
  }

  private refill(now: number): void {
    // A clock that stepped back must not count the same time twice.
    const elapsed = Math.max(0, now - this.updatedAt);
    this.updatedAt = Math.max(this.updatedAt, now);
    this.level = Math.min(this.burst, this.level + elapsed * this.perMs);
  }

  /**
   * Admit a request costing `cost` units at `now` (ms), taking them, or refuse it with the wait
   * until it would be admitted. A request dearer than the whole burst is admitted once the
   * bucket is full, and leaves a debt.
   */
  admit(cost: number, now: number): Admission {
    this.refill(now);
    const needed = Math.min(cost, this.burst);
    if (this.level >= needed) {
      this.level = Math.max(this.floor, this.level - cost);
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.max(1, Math.ceil((needed - this.level) / this.perMs)) };
  }

  /** Admit a decoded command at what it costs up front (costOf). */
  admitCommand(command: ClientCommand, now: number): Admission {
    const cost = costOf(command);
    if (!ALWAYS_ADMITTED.has(command.type)) return this.admit(cost, now);
    this.charge(cost, now);
    return { ok: true };
  }

  /** Charge a cost known only after the request ran; never refused, it makes the next one wait. */
  charge(cost: number, now: number): void {
    this.refill(now);
    this.level = Math.max(this.floor, this.level - cost);
  }
}

/**
 * What a decoded command costs before it runs: 1 for the frame, plus each distinct user id a
 * `get_status` asks about (each is a call to that user's actor), plus the one user a direct
 * message reaches. Group messages and broadcasts are charged after the fact, per user reached.
 */
export function costOf(command: ClientCommand): number {
  switch (command.type) {
    case "get_status":
      return 1 + new Set(command.data?.user_ids ?? []).size;
    case "send_message":
      return 2;
    default:
      return 1;
  }
}
