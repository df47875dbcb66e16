import { describe, expect, it } from "vitest";
import {
  BATCH_WINDOW_MS,
  MAX_BATCH_EVENTS,
  type WebhookEvent,
  WebhookOutbox,
} from "../../../src/core/webhook-outbox.ts";
import { memoryStorage } from "../helpers/storage.ts";

const T0 = Date.UTC(2026, 11, 5, 10, 0, 0);
const DAY_MS = 86_400_000;

/** One user's outbox over in-memory storage, with a receiver that records batches or fails. */
function aliceOutbox(options: { types?: ("user.online" | "user.offline")[] } = {}) {
  const clock = { now: T0 };
  const batches: WebhookEvent[][] = [];
  const receiver = { down: false };
  const lag: (number | null)[] = [];
  const dropped: number[] = [];
  let ids = 0;
  const outbox = new WebhookOutbox({
    storage: memoryStorage(),
    send: async (events) => {
      if (receiver.down) throw new Error("503");
      batches.push(events);
    },
    types: options.types ?? ["user.online", "user.offline"],
    maxAgeMs: DAY_MS,
    reportLag: async (_user, since) => {
      lag.push(since);
    },
    reportDropped: async (_user, total) => {
      dropped.push(total);
    },
    now: () => clock.now,
    newId: () => `evt-${++ids}`,
  });
  /** Run the alarm at its time, as the UserHub does. */
  const alarm = async () => {
    const at = await outbox.nextWakeAt();
    if (at !== null) clock.now = Math.max(clock.now, at);
    await outbox.flush();
  };
  let version = 0;
  const flip = (f: "online" | "offline") => outbox.record(f, "alice", ++version, clock.now);
  return { outbox, clock, batches, receiver, lag, dropped, alarm, flip };
}

describe("the webhook outbox", () => {
  it("waits 250 ms after a first event, then sends the flips of that window as one batch", async () => {
    const { outbox, batches, flip, clock } = aliceOutbox();
    await flip("online");
    expect(await outbox.nextWakeAt()).toBe(T0 + BATCH_WINDOW_MS);
    clock.now += 100;
    await flip("offline");
    await outbox.flush();
    expect(batches).toEqual([]);
    clock.now = T0 + BATCH_WINDOW_MS;
    await outbox.flush();
    expect(batches).toHaveLength(1);
    expect(batches[0]).toEqual([
      {
        id: "evt-1",
        type: "user.online",
        user_id: "alice",
        version: 1,
        occurred_at: new Date(T0).toISOString(),
      },
      expect.objectContaining({ id: "evt-2", type: "user.offline", version: 2 }),
    ]);
    expect(await outbox.nextWakeAt()).toBeNull();
  });

  it(`sends at most ${MAX_BATCH_EVENTS} events per POST, oldest first, in version order`, async () => {
    const { batches, flip, alarm } = aliceOutbox();
    for (let i = 0; i < 250; i++) await flip(i % 2 === 0 ? "online" : "offline");
    await alarm();
    expect(batches.map((b) => b.length)).toEqual([100, 100, 50]);
    const versions = batches.flat().map((e) => e.version);
    expect(versions).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
  });

  it("keeps a failed batch, retries it with growing backoff, and sends everything in order once the receiver is back", async () => {
    const { outbox, batches, receiver, flip, alarm, clock, lag } = aliceOutbox();
    receiver.down = true;
    await flip("online");
    await alarm();
    const firstRetry = (await outbox.nextWakeAt()) ?? 0;
    expect(firstRetry - clock.now).toBeGreaterThanOrEqual(800);
    await flip("offline");
    await alarm();
    const secondRetry = (await outbox.nextWakeAt()) ?? 0;
    expect(secondRetry - clock.now).toBeGreaterThanOrEqual(1_600);
    // An hour down: the backoff is capped at a minute, so nothing waits long after the return.
    for (let i = 0; i < 80; i++) await alarm();
    expect((await outbox.nextWakeAt()) ?? 0).toBeLessThanOrEqual(clock.now + 72_000);
    receiver.down = false;
    await flip("online");
    await alarm();
    expect(batches.flat().map((e) => [e.type, e.version])).toEqual([
      ["user.online", 1],
      ["user.offline", 2],
      ["user.online", 3],
    ]);
    // Reported behind once (since the first event), then caught up.
    expect(lag).toEqual([T0, null]);
  });

  it("drops and counts events older than the maximum age instead of sending them", async () => {
    const { batches, receiver, flip, alarm, clock, dropped } = aliceOutbox();
    receiver.down = true;
    await flip("online");
    clock.now += DAY_MS / 2;
    await flip("offline");
    await alarm();
    clock.now = T0 + DAY_MS + 1;
    receiver.down = false;
    await alarm();
    expect(batches.flat().map((e) => e.type)).toEqual(["user.offline"]);
    expect(dropped).toEqual([1]);
  });

  it("records only the configured event types", async () => {
    const { batches, flip, alarm } = aliceOutbox({ types: ["user.offline"] });
    await flip("online");
    await flip("offline");
    await alarm();
    expect(batches.flat().map((e) => e.type)).toEqual(["user.offline"]);
  });

  it("keeps its events in storage: a new instance over the same storage sends them", async () => {
    const storage = memoryStorage();
    const sent: WebhookEvent[] = [];
    const make = (down: boolean, now: number) =>
      new WebhookOutbox({
        storage,
        send: async (events) => {
          if (down) throw new Error("refused");
          sent.push(...events);
        },
        types: ["user.online", "user.offline"],
        maxAgeMs: DAY_MS,
        now: () => now,
      });
    const before = make(true, T0 + 1_000);
    await before.record("online", "alice", 1, T0);
    await before.flush();
    // After a restart, at a time the retry is due.
    await make(false, T0 + 60_000).flush();
    expect(sent.map((e) => e.version)).toEqual([1]);
  });
});
