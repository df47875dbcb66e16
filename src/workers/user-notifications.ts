/**
 * A UserHub's notifications on their way to Postgres: queued in the actor's SQLite when
 * delivered, flushed by the alarm, and reported to the MirrorMonitor while Postgres lags.
 * Rows Postgres refuses are parked (NotificationOutbox) and their count reported for /health.
 */
import type { CachedStore } from "../core/cached-store.ts";
import type { Deadlines } from "../core/deadlines.ts";
import type { DeliveryResult } from "../core/delivery.ts";
import { NotificationOutbox, type NotificationWriter } from "../core/notification-outbox.ts";
import type { NotificationMessage } from "../protocol/messages.ts";
import type { MirrorMonitor } from "./mirror-monitor.ts";

export class UserNotifications {
  private readonly outbox: NotificationOutbox;
  private readonly store: CachedStore;
  private readonly env: Env;
  private readonly write: NotificationWriter | null;

  constructor(
    ctx: DurableObjectState,
    store: CachedStore,
    env: Env,
    write: NotificationWriter | null,
  ) {
    this.store = store;
    this.env = env;
    this.write = write;
    this.outbox = new NotificationOutbox(ctx.storage.sql);
  }

  /** Queue the Postgres record of a notification that reached the mailbox. */
  record(userId: string, notification: NotificationMessage, result: DeliveryResult): boolean {
    if (this.write === null) return false;
    if (result.status !== "delivered" && result.status !== "stored") return false;
    this.outbox.add(
      {
        id: notification.notification_id,
        userId,
        title: notification.title,
        message: notification.message,
        data: notification.data,
        createdAt: notification.created_at,
        deliveredAt: result.sockets > 0 ? new Date().toISOString() : null,
      },
      Date.now(),
    );
    return true;
  }

  nextWakeAt(): number | null {
    return this.write === null ? null : this.outbox.nextFlushAt();
  }

  /** Flush the queued records to Postgres from the actor's alarm, when due. */
  register(deadlines: Deadlines, userId: () => Promise<string>): void {
    deadlines.register("notification records", {
      nextAt: () => this.nextWakeAt(),
      run: async () => this.flush(await userId()),
    });
  }

  async flush(userId: string): Promise<void> {
    if (this.write === null) return;
    const lagKey = `${userId}#notifications`;
    const monitor = this.env.MIRROR_MONITOR.getByName("global");
    const behindSince = await this.store.get<number>("notifications_behind");
    const deadBefore = this.outbox.deadLetterCount();
    const error = await this.outbox.flush(this.write, Date.now());
    const dead = this.outbox.deadLetterCount();
    if (dead !== deadBefore) {
      console.warn(
        `UserHub:notifications: Postgres refused ${dead - deadBefore} notification(s) for their content; parked as dead letters (${dead} kept)`,
      );
    }
    await this.reportDeadLetters(lagKey, dead, monitor);
    if (error !== null) {
      console.warn(`UserHub:notifications: postgres write failed, retrying: ${error}`);
      if (behindSince === undefined) {
        const since = Date.now();
        await this.store.put("notifications_behind", since);
        await monitor.report("postgres", lagKey, since).catch(() => undefined);
      }
    } else if (behindSince !== undefined && this.outbox.size() === 0) {
      await this.store.delete("notifications_behind");
      await monitor.report("postgres", lagKey, null).catch(() => undefined);
    }
  }

  /** Tells the MirrorMonitor (for /health) this user's dead-letter count when it changed. */
  private async reportDeadLetters(
    key: string,
    count: number,
    monitor: DurableObjectStub<MirrorMonitor>,
  ): Promise<void> {
    const reported = (await this.store.get<number>("notifications_dead_reported")) ?? 0;
    if (count === reported) return;
    try {
      await monitor.reportDeadLetters("postgres", key, count);
      await this.store.put("notifications_dead_reported", count);
    } catch (err) {
      // Tried again at the next flush (the next notification).
      console.warn(`UserHub:notifications: cannot report dead letters: ${String(err)}`);
    }
  }
}
