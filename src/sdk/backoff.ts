/**
 * Reconnect delays: capped exponential backoff with full jitter.
 *
 * Full jitter (a uniformly random delay between 0 and the exponential cap) spreads the
 * reconnects of many clients that lost their sockets at the same moment, e.g. on a deploy,
 * instead of letting them return in synchronized waves.
 */

export interface BackoffOptions {
  /** Duration (in milliseconds) that caps the first retry. Default 1000. */
  minDelayMs: number;
  /** Duration (in milliseconds) no retry waits longer than. Default 30000. */
  maxDelayMs: number;
  /** Factor by which the cap grows with each retry. Default 2. */
  growFactor: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  minDelayMs: 1000,
  maxDelayMs: 30_000,
  growFactor: 2,
};

/** The upper bound for retry number `retry` (1 for the first): `min * grow ** (retry - 1)`, capped. */
export function backoffCap(retry: number, options: BackoffOptions): number {
  const exponent = Math.max(0, retry - 1);
  return Math.min(options.maxDelayMs, options.minDelayMs * options.growFactor ** exponent);
}

/** A delay drawn uniformly from `[0, backoffCap(retry))`; `random` returns `[0, 1)` like Math.random. */
export function backoffDelay(
  retry: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * backoffCap(retry, options));
}

/** Misuse is a programming error: fail when the client is built, not on the first reconnect. */
export function checkBackoff(options: BackoffOptions): BackoffOptions {
  const { minDelayMs, maxDelayMs, growFactor } = options;
  if (!(minDelayMs >= 0 && maxDelayMs >= minDelayMs && growFactor >= 1)) {
    throw new TypeError(
      "backoff needs 0 <= minDelayMs <= maxDelayMs and growFactor >= 1 " +
        `(got ${minDelayMs}, ${maxDelayMs}, ${growFactor})`,
    );
  }
  return options;
}
