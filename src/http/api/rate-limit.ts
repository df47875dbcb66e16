/**
 * The HTTP API's per-caller rate (API_RATE_LIMIT_PER_SECOND, default 1,000 requests/s with
 * bursts of API_RATE_LIMIT_BURST, default 2,000): one token bucket per caller, the API key
 * counting as one caller and each staff user (JWT) as their own. Over it: 429 `rate_limited`
 * with `Retry-After`.
 *
 * Where the counter lives: in the memory of each Worker isolate. The Worker is stateless and
 * Cloudflare runs it in many isolates (per location, and several per location under load), so
 * this bounds what one caller can push through one isolate, not the global rate: a caller
 * spread over N isolates gets up to N times the limit. A global count would need a shared
 * counter (a Durable Object per caller) on every request, one more hop for every API call;
 * a first bound that costs nothing was preferred. docs/security.md, "Budgets".
 */
import type { Config } from "../../core/config.ts";
import { TokenBucket } from "../../core/ratelimit.ts";
import { GatewayError } from "../../protocol/errors.ts";
import type { ApiCaller } from "./auth.ts";

/** Callers whose buckets one isolate keeps at most: 10,000; the oldest is forgotten first. */
const MAX_CALLERS = 10_000;

/** Which bucket a caller spends from. */
export function callerKey(caller: ApiCaller): string {
  return caller.kind === "api_key" ? "api_key" : `staff:${caller.principal.userId}`;
}

export class ApiRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  /** Take one request for `caller` at `now` (ms); throws `rate_limited` when over the rate. */
  take(caller: ApiCaller, limits: Config["apiRateLimit"], now: number): void {
    const key = callerKey(caller);
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= MAX_CALLERS) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      bucket = new TokenBucket(limits, now);
      this.buckets.set(key, bucket);
    }
    const taken = bucket.take(now);
    if (!taken.ok) {
      throw new GatewayError("rate_limited", "too many API requests from this caller", {
        retryAfterMs: taken.retryAfterMs,
      });
    }
  }
}
