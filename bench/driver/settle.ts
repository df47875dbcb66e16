// Waiting for a server to finish the background work of a scenario's setup (the gateway
// writes its Redis and Postgres mirrors and its presence for every socket that just opened or
// joined) before the measured sends start, so a fan-out is measured on its own. The same
// rule for every server: its process tree's CPU, read from /proc.
import { CLOCK_TICKS_PER_SECOND, treeCpuTicks } from "./proc.ts";
import type { ServerProbe } from "./scenario.ts";
import { sleep } from "./scenario.ts";

/** A window in which the server used less than this share of one core counts as quiet. */
const QUIET_SHARE_OF_CORE = 0.1;
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
    const ticks = treeCpuTicks(server.pid);
    const windowStarted = performance.now();
    await sleep(WINDOW_MS);
    const seconds = (performance.now() - windowStarted) / 1000;
    const share = (treeCpuTicks(server.pid) - ticks) / CLOCK_TICKS_PER_SECOND / seconds;
    if (share < QUIET_SHARE_OF_CORE) {
      return { waitedMs: Math.round(performance.now() - started), quiet: true };
    }
  }
  return { waitedMs: Math.round(performance.now() - started), quiet: false };
}
