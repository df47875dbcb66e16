/**
 * Per-connection token bucket. `perSecond` tokens refill each second up to `burst`; each frame
 * takes one. Frames refused while empty add "strikes" that drain at the refill rate, so a client
 * that briefly overshoots is only told to slow down, while one that keeps sending far above the
 * rate accumulates strikes until it is marked abusive (the socket is then closed with 1008).
 */
export interface RateLimitOptions {
  /** Sustained frames per second. Default 20. */
  perSecond: number;
  /** Bucket size: frames allowed in a burst. Default 40. */
  burst: number;
  /** Strikes at which a client counts as abusive. Default 2 × burst. */
  abuseThreshold?: number;
}

export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number; abusive: boolean };

export class TokenBucket {
  private tokens: number;
  private strikes = 0;
  private updatedAt: number;
  private readonly perMs: number;
  private readonly burst: number;
  private readonly abuseThreshold: number;

  constructor(options: RateLimitOptions, now: number) {
    if (options.perSecond <= 0 || options.burst < 1) {
      throw new TypeError("rate limit needs perSecond > 0 and burst >= 1");
    }
    this.perMs = options.perSecond / 1000;
    this.burst = options.burst;
    this.abuseThreshold = options.abuseThreshold ?? options.burst * 2;
    this.tokens = options.burst;
    this.updatedAt = now;
  }

  /** Take one token at time `now` (milliseconds). */
  take(now: number): TakeResult {
    // A clock that stepped back must not count the same time twice.
    const elapsed = Math.max(0, now - this.updatedAt);
    this.updatedAt = Math.max(this.updatedAt, now);
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.perMs);
    this.strikes = Math.max(0, this.strikes - elapsed * this.perMs);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    this.strikes += 1;
    const retryAfterMs = Math.ceil((1 - this.tokens) / this.perMs);
    return { ok: false, retryAfterMs, abusive: this.strikes >= this.abuseThreshold };
  }
}
