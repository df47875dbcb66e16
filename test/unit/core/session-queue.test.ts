import { describe, expect, it } from "vitest";
import { type OpenSession, SessionQueue } from "../../../src/core/session-queue.ts";
import { deferred } from "../helpers/deferred.ts";

/** Sessions numbered from 1, with how many were ever open at once. */
function countingSessions(fail?: (n: number) => Error | null) {
  const stats = { opened: 0, open: 0, mostOpen: 0, closed: 0 };
  const open: OpenSession<number> = async (work) => {
    const n = ++stats.opened;
    const error = fail?.(n);
    if (error) throw error;
    stats.open++;
    stats.mostOpen = Math.max(stats.mostOpen, stats.open);
    try {
      return await work(n);
    } finally {
      stats.open--;
      stats.closed++;
    }
  };
  return { open, stats };
}

describe("SessionQueue", () => {
  it("serves a crowd of calls with one session at a time, many calls per session", async () => {
    const { open, stats } = countingSessions();
    const queue = new SessionQueue({ open, maxBatch: 50 });
    const results = await Promise.all(
      Array.from({ length: 120 }, (_, i) => queue.run(async (session) => ({ i, session }))),
    );
    expect(results.map((r) => r.i)).toEqual(Array.from({ length: 120 }, (_, i) => i));
    // The first call starts a round alone; the other 119 wait and go 50 at a time.
    expect(stats.opened).toBe(4);
    expect(stats.mostOpen).toBe(1);
    expect(stats.closed).toBe(stats.opened);
    expect(new Set(results.slice(1, 51).map((r) => r.session)).size).toBe(1);
  });

  it("runs the calls of a session one after another, in the order they came", async () => {
    const { open } = countingSessions();
    const queue = new SessionQueue({ open, maxBatch: 10 });
    const order: string[] = [];
    const first = deferred();
    const a = queue.run(async () => {
      order.push("a starts");
      await first.promise;
      order.push("a ends");
    });
    const b = queue.run(async () => {
      order.push("b");
    });
    await Promise.resolve();
    first.resolve();
    await Promise.all([a, b]);
    expect(order).toEqual(["a starts", "a ends", "b"]);
  });

  it("settles each call with its own error and goes on with the others in the session", async () => {
    const { open, stats } = countingSessions();
    const queue = new SessionQueue({ open, maxBatch: 10 });
    const gate = deferred();
    const holder = queue.run(() => gate.promise);
    const calls = [
      queue.run(async () => "ok 1"),
      queue.run(async () => {
        throw new TypeError("bad value");
      }),
      queue.run(async () => "ok 2"),
    ];
    gate.resolve();
    await holder;
    const settled = await Promise.allSettled(calls);
    expect(settled[0]).toEqual({ status: "fulfilled", value: "ok 1" });
    expect(settled[1]).toMatchObject({ status: "rejected", reason: { message: "bad value" } });
    expect(settled[2]).toEqual({ status: "fulfilled", value: "ok 2" });
    expect(stats.opened).toBe(2);
  });

  it("fails the calls of a session that cannot be opened, and opens a new one for later calls", async () => {
    const down = new Error("cannot connect");
    const { open, stats } = countingSessions((n) => (n === 2 ? down : null));
    const queue = new SessionQueue({ open, maxBatch: 10 });
    const gate = deferred();
    const holder = queue.run(() => gate.promise);
    const unlucky = [queue.run(async () => 1), queue.run(async () => 2)];
    gate.resolve();
    await holder;
    const settled = await Promise.allSettled(unlucky);
    expect(settled.map((s) => s.status)).toEqual(["rejected", "rejected"]);
    expect(settled.map((s) => (s.status === "rejected" ? s.reason : null))).toEqual([down, down]);
    // The queue is not stuck: the next call gets a session of its own.
    await expect(queue.run(async (session) => session)).resolves.toBe(3);
    expect(stats.opened).toBe(3);
    expect(queue.waiting).toBe(0);
  });

  it("opens again after a failed open, and the round's calls succeed in the new session", async () => {
    const { open, stats } = countingSessions((n) => (n <= 2 ? new Error("WebSocket error") : null));
    const told: string[] = [];
    const queue = new SessionQueue({
      open,
      maxBatch: 10,
      reopenDelaysMs: [1, 1, 1],
      onReopen: (err, attempt) => told.push(`${attempt}: ${(err as Error).message}`),
    });
    const results = await Promise.all([queue.run(async (s) => s), queue.run(async (s) => s)]);
    expect(results).toEqual([3, 4]);
    expect(stats.opened).toBe(4);
    expect(told).toEqual(["1: WebSocket error", "2: WebSocket error"]);
  });

  it("fails the round once the waits are used up, or at once when the error will not pass", async () => {
    const down = new Error("cannot connect");
    const always = countingSessions(() => down);
    const patient = new SessionQueue({ open: always.open, maxBatch: 10, reopenDelaysMs: [1, 1] });
    await expect(patient.run(async () => 1)).rejects.toBe(down);
    expect(always.stats.opened).toBe(3);

    const refused = new TypeError("bad password");
    const once = countingSessions(() => refused);
    const picky = new SessionQueue({
      open: once.open,
      maxBatch: 10,
      reopenDelaysMs: [1, 1],
      retryable: (err) => !(err instanceof TypeError),
    });
    await expect(picky.run(async () => 1)).rejects.toBe(refused);
    expect(once.stats.opened).toBe(1);
  });

  it("does not open again once a call of the round ran (it may have written)", async () => {
    let opened = 0;
    const open: OpenSession<number> = async (work) => {
      opened++;
      await work(opened);
      throw new Error("connection lost while closing");
    };
    const queue = new SessionQueue({ open, maxBatch: 10, reopenDelaysMs: [1, 1] });
    await expect(queue.run(async () => "written")).resolves.toBe("written");
    expect(opened).toBe(1);
  });

  it("refuses a batch size that is not a positive integer", () => {
    const { open } = countingSessions();
    expect(() => new SessionQueue({ open, maxBatch: 0 })).toThrow(RangeError);
    expect(() => new SessionQueue({ open, maxBatch: 1.5 })).toThrow(RangeError);
  });
});
