/**
 * The one alarm of an actor, shared by every part that has something to do later (token
 * expiries, lease renewals and expiries, presence, mirror flushes, reconciliation). Each part
 * registers a named deadline; when the alarm fires, the deadlines that are due run in the
 * order they were registered, and the alarm is set again for the earliest one left.
 *
 * The alarm time is only changed here (and cleared by the runtime when it fires), so it is
 * read from storage once per instance.
 */

/** The actor storage's alarm (`ctx.storage`). */
export interface AlarmStorage {
  getAlarm(): Promise<number | null>;
  setAlarm(scheduledTime: number): Promise<void>;
  deleteAlarm(): Promise<void>;
}

export interface Deadline {
  /** When this part next has work (ms since epoch), or null when it has none. */
  nextAt(): number | null | Promise<number | null>;
  /** Do the work that is due at `now`. */
  run(now: number): void | Promise<void>;
}

export class Deadlines {
  private readonly storage: AlarmStorage;
  private readonly registered = new Map<string, Deadline>();
  /** The alarm time as last set or read; undefined until read. */
  private alarmAt: number | null | undefined;

  constructor(storage: AlarmStorage) {
    this.storage = storage;
  }

  register(name: string, deadline: Deadline): void {
    if (this.registered.has(name)) throw new Error(`deadline ${name} registered twice`);
    this.registered.set(name, deadline);
  }

  /**
   * The alarm fired: run each due deadline (asked when its turn comes, so work done by an
   * earlier one, such as a socket closed for its token, is seen by the later ones), then re-arm.
   */
  async fire(now: number): Promise<void> {
    this.alarmAt = null;
    for (const deadline of this.registered.values()) {
      const at = await deadline.nextAt();
      if (at !== null && at <= now) await deadline.run(now);
    }
    await this.reschedule();
  }

  /**
   * A part has new work due at `at`: make sure the alarm comes by then. Cheap when it already
   * does (no deadline is asked), so it may run on every event.
   */
  async ensureBy(at: number | null): Promise<void> {
    if (at === null) return;
    if (this.alarmAt === undefined) this.alarmAt = await this.storage.getAlarm();
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    await this.reschedule();
  }

  /** Set the alarm for the earliest deadline, or clear it when nothing is pending. */
  async reschedule(): Promise<void> {
    let next = Number.POSITIVE_INFINITY;
    for (const deadline of this.registered.values()) {
      const at = await deadline.nextAt();
      if (at !== null) next = Math.min(next, at);
    }
    const wanted = next === Number.POSITIVE_INFINITY ? null : next;
    if (this.alarmAt === undefined) this.alarmAt = await this.storage.getAlarm();
    if (wanted === this.alarmAt) return;
    if (wanted === null) await this.storage.deleteAlarm();
    else await this.storage.setAlarm(wanted);
    this.alarmAt = wanted;
  }
}
