// Waiting for a server to finish the background work of a scenario's setup (the gateway
// writes its Redis and Postgres mirrors and its presence for every socket that just opened or
// joined) before the measured sends start, so a fan-out is measured on its own. The same
// rule for every server: its process tree's CPU, read from /proc.
import { cpuShareSince } from "./proc.ts";
import type { ServerProbe } from "./scenario.ts";
import { sleep } from "./scenario.ts";

/** A window in which the server used less than this percent of one core counts as quiet. */
const QUIET_PERCENT_OF_CORE = 10;
const WINDOW_MS = 500;

export interface Settled {
  /** Milliseconds from the call until a quiet window ended (or until `maxMs`). */
  readonly waitedMs: number;
  /** false when the server was still busy after `maxMs`. */
  readonly quiet: boolean;
}

/** Resolves after the first WINDOW_MS in which the server was quiet, or after `maxMs`. */
export async function settle(server: ServerProbe, maxMs: number): Promise<Settled> {
  const started = performance.now();
  while (performance.now() - started < maxMs) {
    // Measured as a share of one core: the server's busiest thread is what the sends wait for.
    const window = cpuShareSince(server.pid, 1);
    await sleep(WINDOW_MS);
    if (window().serverPercent < QUIET_PERCENT_OF_CORE) {
      return { waitedMs: Math.round(performance.now() - started), quiet: true };
    }
  }
  return { waitedMs: Math.round(performance.now() - started), quiet: false };
}
