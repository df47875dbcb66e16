/**
 * Admission under overload: how much work one actor lets itself queue. Past a bound the
 * caller is told `unavailable` with `retry_after_ms` at once, before anything is stored or
 * sent, so a refused send has no effect and retrying it cannot duplicate a message. Without
 * the bounds an overloaded gateway queues without limit (measured: p99 13 s at twice the
 * capacity of `workerd serve`). Runtime-agnostic: no I/O of its own.
 */
import { GatewayError } from "../protocol/errors.ts";

export interface OverloadConfig {
  /** ACTOR_MAX_INFLIGHT: deliveries one actor (or one worker isolate) awaits at once. Default 64. */
  maxInflight: number;
  /**
   * DELIVERY_MAX_WAIT_MS: how long a direct delivery may wait in the target actor's queue
   * before the target refuses it, in milliseconds. Default 2,000.
   */
  maxWaitMs: number;
  /** OVERLOAD_RETRY_AFTER_MS: the `retry_after_ms` an overloaded actor answers with. Default 1,000. */
  retryAfterMs: number;
}

export function unavailable(what: string, retryAfterMs: number): GatewayError {
  return new GatewayError("unavailable", `${what}; retry shortly`, { retryAfterMs });
}

/**
 * A count of calls in flight with a ceiling. `run` refuses at once when the ceiling is reached
 * instead of waiting: the caller answers its client, who retries after `retry_after_ms`.
 */
export class InflightLimit {
  readonly #max: number;
  readonly #retryAfterMs: number;
  readonly #what: string;
  #active = 0;

  constructor(max: number, retryAfterMs: number, what: string) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`max must be a positive integer, got ${max}`);
    }
    this.#max = max;
    this.#retryAfterMs = retryAfterMs;
    this.#what = what;
  }

  /** Calls in flight now. */
  get active(): number {
    return this.#active;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#max) throw unavailable(this.#what, this.#retryAfterMs);
    this.#active++;
    try {
      return await work();
    } catch (err) {
      throw runtimeOverload(err, this.#retryAfterMs);
    } finally {
      this.#active--;
    }
  }
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
 * `overloaded` (never to be retried at once, PLATFORM-NOTES); that call did not run, so it is
 * `unavailable`, not `internal`. Any other error passes through unchanged.
 */
export function runtimeOverload(err: unknown, retryAfterMs: number): unknown {
  if (typeof err === "object" && err !== null && "overloaded" in err && err.overloaded === true) {
    return unavailable("the gateway is overloaded", retryAfterMs);
  }
  return err;
}
