/**
 * Admission under overload: how much work one actor lets itself queue. Past a bound the
 * caller is told `unavailable` with `retry_after_ms` at once, before anything is stored or
 * sent, so a refused send has no effect and retrying it cannot duplicate a message. Without
 * the bounds an overloaded gateway queues without limit (reported: p99 13 s at twice the
 * capacity of `workerd serve`; docs/design.md "Overload" has what they change and what they
 * cannot see). Runtime-agnostic: no I/O of its own.
 */
import { GatewayError, toGatewayError } from "../protocol/errors.ts";

export interface OverloadConfig {
  /** ACTOR_MAX_INFLIGHT: deliveries one actor (or one worker isolate) awaits at once. Default 64. */
  maxInflight: number;
  /**
   * DELIVERY_MAX_WAIT_MS: how long a delivery may wait for its answer, in milliseconds.
   * Default 2,000. A target refuses a direct delivery that waited longer in its queue; an
   * actor whose oldest delivery in flight is older refuses new ones.
   */
  maxWaitMs: number;
  /** OVERLOAD_RETRY_AFTER_MS: the `retry_after_ms` an overloaded actor answers with. Default 1,000. */
  retryAfterMs: number;
}

export function unavailable(what: string, retryAfterMs: number): GatewayError {
  return new GatewayError("unavailable", `${what}; retry shortly`, { retryAfterMs });
}

/**
 * The calls one actor has in flight, with two ceilings: how many (`max`) and how old the
 * oldest may be (`maxAgeMs`). `run` refuses at once past either instead of waiting: the caller
 * answers its client, who retries after `retry_after_ms`. The age matters as much as the count:
 * a call that has waited `maxAgeMs` means the actors behind it are that far behind, and a
 * refusal costs a fraction of a delivery (no storage write), so refusing then keeps the
 * backlog from growing while the count is still low.
 */
export class InflightLimit {
  readonly #max: number;
  readonly #maxAgeMs: number;
  readonly #retryAfterMs: number;
  readonly #what: string;
  readonly #backlog: Backlog | undefined;
  /** Start time (ms) of each call in flight, in start order. */
  readonly #started = new Map<symbol, number>();

  constructor(options: {
    max: number;
    maxAgeMs: number;
    retryAfterMs: number;
    what: string;
    /** Shared by the actors of one isolate (see Backlog). */
    backlog?: Backlog;
  }) {
    if (!Number.isInteger(options.max) || options.max < 1) {
      throw new RangeError(`max must be a positive integer, got ${options.max}`);
    }
    this.#max = options.max;
    this.#maxAgeMs = options.maxAgeMs;
    this.#retryAfterMs = options.retryAfterMs;
    this.#what = options.what;
    this.#backlog = options.backlog;
  }

  /** Calls in flight now. */
  get active(): number {
    return this.#started.size;
  }

  /** `now`: milliseconds since the epoch, the caller's clock. */
  async run<T>(work: () => Promise<T>, now: number = Date.now()): Promise<T> {
    const oldest = this.#started.values().next();
    if (
      this.#started.size >= this.#max ||
      (oldest.done !== true && now - oldest.value > this.#maxAgeMs) ||
      this.#backlog?.behind(now) === true
    ) {
      throw unavailable(this.#what, this.#retryAfterMs);
    }
    const key = Symbol();
    this.#started.set(key, now);
    try {
      return await work();
    } catch (err) {
      const failure = runtimeOverload(err, this.#retryAfterMs);
      // The target (or the runtime) refused for overload: so will the next ones for a while.
      // An overload refusal says when to retry; a dependency outage (`unavailable` without
      // retry_after_ms, e.g. the user table down) is no sign of a backlog.
      const refused = toGatewayError(failure);
      if (refused.code === "unavailable" && refused.retryAfterMs !== undefined) {
        this.#backlog?.trip(Date.now() + this.#retryAfterMs);
      }
      throw failure;
    } finally {
      this.#started.delete(key);
    }
  }
}

/**
 * Whether the isolate is behind: set when a call was refused for overload (a target whose
 * queue held a delivery past DELIVERY_MAX_WAIT_MS, or the runtime), until `retry_after_ms`
 * later. The actors of one isolate share a thread (local workerd runs them all on one), so
 * while one target is refusing, every sender in the isolate refuses at once instead of sending
 * deliveries that would wait in the same queue and be refused there, at the cost of a round
 * trip each. It clears by itself; the next call after that probes again.
 */
export class Backlog {
  #until = 0;

  behind(now: number): boolean {
    return now < this.#until;
  }

  trip(until: number): void {
    this.#until = Math.max(this.#until, until);
  }
}

/** The limit of one actor's calls in flight, as configured (`maxAgeMs` default: maxWaitMs). */
export function inflightLimit(
  config: OverloadConfig,
  what: string,
  options: { backlog?: Backlog; maxAgeMs?: number } = {},
): InflightLimit {
  return new InflightLimit({
    max: config.maxInflight,
    maxAgeMs: options.maxAgeMs ?? config.maxWaitMs,
    retryAfterMs: config.retryAfterMs,
    what,
    ...(options.backlog === undefined ? {} : { backlog: options.backlog }),
  });
}

/**
 * The target side: a delivery offered at `offeredAt` (ms since the epoch, the caller's clock)
 * that only starts now has waited in the target's queue; past `maxWaitMs` it is refused before
 * it is stored, because its sender has been waiting that long for an answer.
 */
export function admitQueued(offeredAt: number | undefined, now: number, config: OverloadConfig) {
  if (offeredAt !== undefined && now - offeredAt > config.maxWaitMs) {
    throw unavailable("the recipient is overloaded", config.retryAfterMs);
  }
}

/**
 * The runtime refuses a call to an actor whose queue is too deep with an error marked
 * `overloaded` (Cloudflare says never to retry it at once); that call did not run, so it is
 * `unavailable`, not `internal`. Any other error passes through unchanged.
 */
export function runtimeOverload(err: unknown, retryAfterMs: number): unknown {
  if (typeof err === "object" && err !== null && "overloaded" in err && err.overloaded === true) {
    return unavailable("the gateway is overloaded", retryAfterMs);
  }
  return err;
}
