import { describe, expect, it } from "vitest";
import {
  chunkSizes,
  fanOut,
  shardLevels,
  simulateFanout,
  timeToLastMs,
  treeShape,
} from "../../../src/core/fanout-tree.ts";

describe("fan-out tree", () => {
  it("calls users directly up to the bound, and splits into as few chunks as the depth allows", () => {
    expect(chunkSizes(500, 500)).toEqual([]);
    expect(chunkSizes(2_000, 500)).toEqual([500, 500, 500, 500]);
    expect(chunkSizes(501, 500)).toEqual([251, 250]);
    expect(chunkSizes(10, 4)).toEqual([4, 4, 2]);
    // 20 > 4²: two levels of shards, each first-level chunk split again.
    expect(chunkSizes(20, 4)).toEqual([10, 10]);
    expect(shardLevels(20, 4)).toBe(2);
    expect(shardLevels(1_000_000, 500)).toBe(2);
    expect(() => chunkSizes(10, 1)).toThrow(RangeError);
  });

  it("models a million recipients under 500 calls per actor", () => {
    expect(treeShape(2_000, 500)).toEqual({
      recipients: 2_000,
      shardLevels: 1,
      shards: 4,
      calls: 2_004,
      maxCallsPerActor: 500,
    });
    const million = treeShape(1_000_000, 500);
    expect(million.shardLevels).toBe(2);
    expect(million.maxCallsPerActor).toBeLessThanOrEqual(500);
    expect(million.calls).toBe(1_000_000 + million.shards);
    expect(timeToLastMs(2_000, { maxCalls: 500, callMs: 2, callsPerMsPerActor: 10 })).toBe(
      2 + 0.4 + 2 + 50,
    );
  });

  it("reaches every recipient exactly once, no actor over the bound, with the modelled calls", async () => {
    for (const [count, maxCalls] of [
      [3, 4],
      [10, 4],
      [20, 4],
      [100, 4],
      [3_000, 7],
      [3_000, 500],
    ] as const) {
      const { result, callsByActor, deliveriesToUser } = await simulateFanout(count, maxCalls);
      expect(result).toEqual({ reached: count, dropped: [], failed: [] });
      expect(deliveriesToUser.size).toBe(count);
      expect([...deliveriesToUser.values()].every((n) => n === 1)).toBe(true);
      expect(Math.max(...callsByActor.values())).toBeLessThanOrEqual(maxCalls);
      const shape = treeShape(count, maxCalls);
      expect([...callsByActor.values()].reduce((a, b) => a + b, 0)).toBe(shape.calls);
      expect(callsByActor.size - 1).toBe(shape.shards);
    }
  });

  it("retries a shard that failed midway without sending anyone the message twice", async () => {
    const { result, callsByActor, deliveriesToUser } = await simulateFanout(
      10,
      4,
      new Set(["origin/1"]),
    );
    // The origin called shard 1 twice; its first user's actor got the delivery twice and
    // counts once (the actor answers the second with "duplicate": reached, not sent again).
    expect(callsByActor.get("origin")).toBe(4);
    expect(deliveriesToUser.get("user-4")).toBe(2);
    expect(result).toEqual({ reached: 10, dropped: [], failed: [] });
  });

  it("reports a chunk whose shard keeps failing, and dropped and failed users", async () => {
    const result = await fanOut(
      ["a", "b", "c", "d", "e"],
      { maxCalls: 2, concurrency: 4, attempts: 2 },
      {
        toUser: async () => "reached",
        toShard: async (index, chunk) => {
          if (index === 0) throw new Error("down");
          return { reached: chunk.length - 1, dropped: [chunk[0] as string], failed: [] };
        },
      },
    );
    // Five under two calls each: chunks of 3 and 2; the first shard is down.
    expect(result).toEqual({ reached: 1, dropped: ["d"], failed: ["a", "b", "c"] });
    const direct = await fanOut(
      ["a", "b", "c"],
      { maxCalls: 4, concurrency: 2 },
      {
        toUser: async (user) => {
          if (user === "c") throw new Error("gone");
          return user === "b" ? "dropped" : "reached";
        },
        toShard: async () => {
          throw new Error("not used");
        },
      },
    );
    expect(direct).toEqual({ reached: 1, dropped: ["b"], failed: ["c"] });
  });
});
