/**
 * One user's (or one room's) pending presence webhook events, kept in that actor's storage and
 * sent in order until the receiver answers 2xx (docs/protocol.md, "Presence webhooks").
 *
 * Unlike the presence outbox (outbox.ts), which holds no payload because a mirror only needs the
 * latest state, a webhook receiver is promised every flip: the events themselves are stored.
 * A batch is always the oldest pending events of this one user, and the next batch is sent only
 * after the previous one was answered 2xx, so a receiver sees each user's events in version
 * order (an event may arrive twice: after a timeout whose request did reach it).
 *
 * Runtime-agnostic: storage, the sender, the monitor and the clock are injected.
 */

import type { KeyValueStore } from "./cached-store.ts";
import type { WebhookEventType } from "./config.ts";

interface EventCommon {
  /** Unique per event; a receiver dedupes on it (delivery is at least once). */
  id: string;
  /** The user's presence version (or the room's occupancy version) after this change. */
  version: number;
  /** When the change happened (ISO 8601, UTC). */
  occurred_at: string;
}

export interface UserEvent extends EventCommon {
  type: "user.online" | "user.offline";
  user_id: string;
}

/** A room's first online member arrived (occupied), or its last one left (vacated). */
export interface RoomEvent extends EventCommon {
  type: "room.occupied" | "room.vacated";
  group_name: string;
}

export type WebhookEvent = UserEvent | RoomEvent;

/** Whose events these are, for logs and the health monitor: a user id, or `room:{name}`. */
export function subjectOf(event: WebhookEvent): string {
  return "user_id" in event ? event.user_id : `room:${event.group_name}`;
}

export interface WebhookQueue {
  events: WebhookEvent[];
  /** Failed attempts in a row for the head batch. */
  attempts: number;
  /** Earliest time for the next attempt (ms since epoch); meaningless while events is empty. */
  nextAttemptAt: number;
  /** Whether the lag has been reported to the health monitor. */
  reported: boolean;
  /** Events dropped for this user so far (too old, or over MAX_PENDING_EVENTS). */
  dropped: number;
}

/** Most events in one POST: 100. */
export const MAX_BATCH_EVENTS = 100;
/** How long a first event waits for more before it is sent, in milliseconds: 250. */
export const BATCH_WINDOW_MS = 250;
/**
 * Most events kept per user while the receiver is down: 2,000 (about 300 kB of storage). A user
 * flips at most about twice per PRESENCE_GRACE_MS, so this holds hours of a busy user's flips;
 * beyond it the oldest are dropped and counted, like events older than WEBHOOK_MAX_AGE_SECONDS.
 */
export const MAX_PENDING_EVENTS = 2_000;

export const EMPTY_QUEUE: WebhookQueue = {
  events: [],
  attempts: 0,
  nextAttemptAt: 0,
  reported: false,
  dropped: 0,
};

/**
 * Retry delay after `attempts` failures: 1 s doubling, capped at 60 s, with ±20 % jitter. A
 * receiver that comes back after an outage gets its backlog within about a minute.
 */
export function webhookBackoffMs(attempts: number, random: () => number = Math.random): number {
  const base = Math.min(60_000, 1_000 * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** The queue with `event` appended; the oldest are dropped beyond `cap`. */
export function appendEvent(
  queue: WebhookQueue,
  event: WebhookEvent,
  now: number,
  cap = MAX_PENDING_EVENTS,
): WebhookQueue {
  const events = [...queue.events, event];
  const over = Math.max(0, events.length - cap);
  // A first event waits BATCH_WINDOW_MS for company; a full batch goes at once, unless the
  // receiver is failing (its backoff stands: a burst must not hammer a receiver that is down).
  let nextAttemptAt = queue.nextAttemptAt;
  if (queue.events.length === 0) nextAttemptAt = now + BATCH_WINDOW_MS;
  else if (events.length >= MAX_BATCH_EVENTS && queue.attempts === 0) nextAttemptAt = now;
  return {
    ...queue,
    events: events.slice(over),
    nextAttemptAt,
    dropped: queue.dropped + over,
  };
}

/** The queue without events older than `maxAgeMs`, and how many were dropped. */
export function dropExpired(
  queue: WebhookQueue,
  now: number,
  maxAgeMs: number,
): { queue: WebhookQueue; dropped: number } {
  const events = queue.events.filter((e) => now - Date.parse(e.occurred_at) <= maxAgeMs);
  const dropped = queue.events.length - events.length;
  if (dropped === 0) return { queue, dropped: 0 };
  return { queue: { ...queue, events, dropped: queue.dropped + dropped }, dropped };
}

/** The batch due now (the oldest events, at most MAX_BATCH_EVENTS), or null. */
export function dueBatch(queue: WebhookQueue, now: number): WebhookEvent[] | null {
  if (queue.events.length === 0 || queue.nextAttemptAt > now) return null;
  return queue.events.slice(0, MAX_BATCH_EVENTS);
}

/** The receiver took `batch`: it leaves the queue, and what is left is due at once. */
export function batchDelivered(
  queue: WebhookQueue,
  batch: readonly WebhookEvent[],
  now: number,
): WebhookQueue {
  const sent = new Set(batch.map((e) => e.id));
  return {
    ...queue,
    events: queue.events.filter((e) => !sent.has(e.id)),
    attempts: 0,
    nextAttemptAt: now,
    reported: false,
  };
}

export function batchFailed(
  queue: WebhookQueue,
  now: number,
  random: () => number = Math.random,
): WebhookQueue {
  const attempts = queue.attempts + 1;
  return { ...queue, attempts, nextAttemptAt: now + webhookBackoffMs(attempts, random) };
}

export interface WebhookOutboxOptions {
  storage: KeyValueStore;
  /** POSTs one batch; throws unless the receiver answered 2xx. */
  send: (events: WebhookEvent[]) => Promise<void>;
  /** The types to send (WEBHOOK_EVENTS); others are not recorded. */
  types: readonly WebhookEventType[];
  /** Events older than this are dropped unsent (WEBHOOK_MAX_AGE_SECONDS), in milliseconds. */
  maxAgeMs: number;
  /** Told when delivery falls behind (with since) and when it caught up (null). */
  reportLag?: (userId: string, since: number | null) => Promise<void>;
  /** Told this user's total of dropped events whenever it grows. */
  reportDropped?: (userId: string, total: number) => Promise<void>;
  now?: () => number;
  newId?: () => string;
  log?: (message: string) => void;
}

const QUEUE_KEY = "webhook_queue";

export class WebhookOutbox {
  private readonly options: WebhookOutboxOptions;
  private readonly now: () => number;
  private readonly newId: () => string;
  /** A flush in progress: the alarm and an event may both ask for one; only one runs. */
  private flushing: Promise<void> | null = null;

  constructor(options: WebhookOutboxOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.newId = options.newId ?? (() => crypto.randomUUID());
  }

  async queue(): Promise<WebhookQueue> {
    return (await this.options.storage.get<WebhookQueue>(QUEUE_KEY)) ?? EMPTY_QUEUE;
  }

  /** The user flipped: store the event (if its type is configured) before anything is told. */
  async record(
    flip: "online" | "offline",
    userId: string,
    version: number,
    at: number,
  ): Promise<void> {
    if (userId === "") return;
    const type = flip === "online" ? "user.online" : "user.offline";
    await this.append({ id: this.newId(), type, user_id: userId, ...this.stamp(version, at) });
  }

  /** The room's occupancy changed: store the event (if its type is configured). */
  async recordRoom(
    type: RoomEvent["type"],
    groupName: string,
    version: number,
    at: number,
  ): Promise<void> {
    if (groupName === "") return;
    await this.append({
      id: this.newId(),
      type,
      group_name: groupName,
      ...this.stamp(version, at),
    });
  }

  private stamp(version: number, at: number) {
    return { version, occurred_at: new Date(at).toISOString() };
  }

  private async append(event: WebhookEvent): Promise<void> {
    if (!this.options.types.includes(event.type)) return;
    const before = await this.queue();
    const next = appendEvent(before, event, this.now());
    await this.options.storage.put(QUEUE_KEY, next);
    if (next.dropped > before.dropped) {
      await this.dropped(subjectOf(event), next.dropped, "over the cap");
    }
  }

  /** The next time the alarm must fire to send, or null when nothing is pending. */
  async nextWakeAt(): Promise<number | null> {
    const queue = await this.queue();
    return queue.events.length === 0 ? null : queue.nextAttemptAt;
  }

  /** Send what is due, batch after batch, until the queue is empty, not due, or a send failed. */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const now = this.now();
      const stored = await this.queue();
      const head = stored.events[0];
      const userId = head === undefined ? null : subjectOf(head);
      const { queue, dropped } = dropExpired(stored, now, this.options.maxAgeMs);
      if (dropped > 0 && userId !== null) {
        await this.options.storage.put(QUEUE_KEY, queue);
        await this.dropped(userId, queue.dropped, "older than WEBHOOK_MAX_AGE_SECONDS");
        if (queue.events.length === 0 && queue.reported) await this.lag(userId, null);
      }
      const batch = dueBatch(queue, now);
      if (batch === null || userId === null) return;
      try {
        await this.options.send(batch);
      } catch (err) {
        const failed = batchFailed(await this.queue(), this.now());
        const report = !failed.reported;
        await this.options.storage.put(QUEUE_KEY, { ...failed, reported: true });
        this.options.log?.(
          `webhook delivery failed for ${userId} (attempt ${failed.attempts}, ${failed.events.length} pending, retrying): ${err instanceof Error ? err.message : String(err)}`,
        );
        if (report) await this.lag(userId, Date.parse(batch[0]?.occurred_at ?? "") || now);
        return;
      }
      const before = await this.queue();
      await this.options.storage.put(QUEUE_KEY, batchDelivered(before, batch, this.now()));
      if (before.reported) {
        this.options.log?.(`webhook delivery caught up for ${userId}`);
        await this.lag(userId, null);
      }
    }
  }

  private async dropped(userId: string, total: number, why: string): Promise<void> {
    this.options.log?.(`webhook events dropped for ${userId} (${why}); ${total} in all`);
    try {
      await this.options.reportDropped?.(userId, total);
    } catch (err) {
      this.options.log?.(`webhook drop report failed: ${String(err)}`);
    }
  }

  private async lag(userId: string, since: number | null): Promise<void> {
    try {
      await this.options.reportLag?.(userId, since);
    } catch (err) {
      this.options.log?.(`webhook lag report failed: ${String(err)}`);
    }
  }
}
