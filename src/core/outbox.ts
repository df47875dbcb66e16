/**
 * The outbox: which mirrors still have to be told about the latest presence state, and when
 * to try next. It holds no payload: a flush always writes the state as it is at that moment,
 * so a retry never writes something older than the truth.
 */

export interface OutboxEntry {
  /** When the oldest unwritten change happened (ms since epoch). */
  since: number;
  /** Bumped on every change; a flush clears the entry only if no change arrived meanwhile. */
  generation: number;
  /** Failed attempts in a row. */
  attempts: number;
  /** Earliest time for the next attempt (ms since epoch). */
  nextAttemptAt: number;
  /** Whether this entry's lag has been reported to the health monitor. */
  reported: boolean;
}

export type Outbox<Target extends string = string> = Partial<Record<Target, OutboxEntry>>;

/** Retry delay after `attempts` failures: 250 ms doubling, capped at 4 s, with ±20 % jitter. */
export function backoffMs(attempts: number, random: () => number = Math.random): number {
  const base = Math.min(4_000, 250 * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/**
 * Record a change for these targets. A target with nothing pending is first tried `delayMs`
 * after the change (default 0), so a burst of changes (a page opening several sockets) costs
 * one write instead of one per change.
 */
export function markDirty<T extends string>(
  outbox: Outbox<T>,
  targets: readonly T[],
  now: number,
  delayMs = 0,
): Outbox<T> {
  const next: Outbox<T> = { ...outbox };
  for (const target of targets) {
    const entry = outbox[target];
    next[target] = entry
      ? // Keep a failing target's backoff: a burst of changes must not hammer a dependency that is down.
        { ...entry, generation: entry.generation + 1 }
      : { since: now, generation: 1, attempts: 0, nextAttemptAt: now + delayMs, reported: false };
  }
  return next;
}

/** Targets due for a flush now, with the generation being written. */
export function dueTargets<T extends string>(
  outbox: Outbox<T>,
  now: number,
): { target: T; generation: number }[] {
  return (Object.entries(outbox) as [T, OutboxEntry][])
    .filter(([, entry]) => entry.nextAttemptAt <= now)
    .map(([target, entry]) => ({ target, generation: entry.generation }));
}

export function flushSucceeded<T extends string>(
  outbox: Outbox<T>,
  target: T,
  generation: number,
  now: number,
): Outbox<T> {
  const entry = outbox[target];
  if (!entry) return outbox;
  const next: Outbox<T> = { ...outbox };
  if (entry.generation === generation) delete next[target];
  else next[target] = { ...entry, since: now, attempts: 0, nextAttemptAt: now };
  return next;
}

export function flushFailed<T extends string>(
  outbox: Outbox<T>,
  target: T,
  now: number,
): Outbox<T> {
  const entry = outbox[target];
  if (!entry) return outbox;
  const attempts = entry.attempts + 1;
  return { ...outbox, [target]: { ...entry, attempts, nextAttemptAt: now + backoffMs(attempts) } };
}

/** The earliest time any target wants a flush, or null when the outbox is empty. */
export function nextFlushAt<T extends string>(outbox: Outbox<T>): number | null {
  const times = Object.values<OutboxEntry | undefined>(outbox).map(
    (e) => e?.nextAttemptAt ?? Infinity,
  );
  const min = Math.min(...times);
  return Number.isFinite(min) ? min : null;
}
