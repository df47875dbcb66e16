/**
 * Writes a user's presence to its mirrors: every due outbox entry once, in parallel, from one
 * snapshot; records the outcomes in the outbox (success, or a retry with backoff); reports a
 * mirror that fell behind, and one that caught up, once each.
 */
import {
  dueTargets,
  flushFailed,
  flushSucceeded,
  type Outbox,
  type OutboxEntry,
} from "./outbox.ts";
import type { PresenceSnapshot } from "./presence.ts";

/** Where presence is mirrored: the two external stores, the user's PresenceShard, co-members. */
export type MirrorTarget = "redis" | "postgres" | "shard" | "rooms";

/** The configured mirror writers; a missing one is off. */
export type Mirrors = Partial<Record<MirrorTarget, (snapshot: PresenceSnapshot) => Promise<void>>>;

/** The outbox as stored: read, and changed by a read-modify-write. */
export interface StoredOutbox {
  read(): Promise<Outbox<MirrorTarget>>;
  update(change: (outbox: Outbox<MirrorTarget>) => Outbox<MirrorTarget>): Promise<void>;
}

export interface MirrorFlusherOptions {
  outbox: StoredOutbox;
  mirrors: Mirrors;
  /** Told when a mirror falls behind (with since) and when it caught up again (null). */
  reportLag?: (target: MirrorTarget, userId: string, since: number | null) => Promise<void>;
  now: () => number;
  log?: (message: string) => void;
}

interface Outcome {
  target: MirrorTarget;
  generation: number;
  error: string | null;
}

export class MirrorFlusher {
  private readonly options: MirrorFlusherOptions;

  constructor(options: MirrorFlusherOptions) {
    this.options = options;
  }

  /**
   * Write every due mirror (or only the due ones among `only`) once, in parallel; then record
   * all outcomes in one outbox write, so lanes finishing together never overwrite each other's
   * change.
   */
  async flush(
    snapshot: () => Promise<PresenceSnapshot>,
    only?: readonly MirrorTarget[],
  ): Promise<void> {
    const { outbox, mirrors, now } = this.options;
    const due = dueTargets(await outbox.read(), now()).filter(
      ({ target }) => only === undefined || only.includes(target),
    );
    if (due.length === 0) return;
    const state = await snapshot();
    const outcomes = await Promise.all(
      due.map(async ({ target, generation }): Promise<Outcome> => {
        try {
          await mirrors[target]?.(state);
          return { target, generation, error: null };
        } catch (err) {
          return { target, generation, error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    await this.record(state.userId, outcomes);
  }

  private async record(userId: string, outcomes: Outcome[]): Promise<void> {
    const caughtUp: MirrorTarget[] = [];
    const failed: { target: MirrorTarget; error: string; entry: OutboxEntry | undefined }[] = [];
    const lagging: { target: MirrorTarget; since: number }[] = [];
    const now = this.options.now;
    await this.options.outbox.update((outbox) => {
      let next = outbox;
      for (const { target, generation, error } of outcomes) {
        const before = next[target];
        if (error === null) {
          next = flushSucceeded(next, target, generation, now());
          // A caught-up entry that stays (a newer change arrived meanwhile) starts unreported,
          // so a later failure is reported again.
          const kept = next[target];
          if (kept?.reported) next = { ...next, [target]: { ...kept, reported: false } };
          if (before?.reported) caughtUp.push(target);
          continue;
        }
        next = flushFailed(next, target, now());
        const entry = next[target];
        failed.push({ target, error, entry });
        if (entry && !entry.reported) {
          next = { ...next, [target]: { ...entry, reported: true } };
          lagging.push({ target, since: entry.since });
        }
      }
      return next;
    });
    for (const target of caughtUp) {
      this.options.log?.(`presence mirror ${target} caught up for user ${userId}`);
      await this.report(target, userId, null);
    }
    for (const { target, error, entry } of failed) {
      this.options.log?.(
        `presence mirror ${target} write failed for user ${userId} (attempt ${entry?.attempts ?? "?"}, retrying): ${error}`,
      );
    }
    for (const { target, since } of lagging) await this.report(target, userId, since);
  }

  private async report(target: MirrorTarget, userId: string, since: number | null): Promise<void> {
    try {
      await this.options.reportLag?.(target, userId, since);
    } catch (err) {
      this.options.log?.(
        `presence lag report failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
}
