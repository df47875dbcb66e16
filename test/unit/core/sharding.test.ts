import { describe, expect, it } from "vitest";
import { shardName, shardOf } from "../../../src/core/sharding.ts";

const UUID = "3f2c5e1a-9b7d-4c1e-8a6f-0d2b4e6c8a10";
const TWO_TO_32 = 2 ** 32;

/** How many of `ids` land on each of `shards` shards. */
function spread(ids: string[], shards: number): number[] {
  const counts = new Array<number>(shards).fill(0);
  for (const id of ids) {
    const shard = shardOf(id, shards);
    counts[shard] = (counts[shard] ?? 0) + 1;
  }
  return counts;
}

describe("shardOf", () => {
  it("is the 32-bit FNV-1a hash (published test vectors)", () => {
    // With 2^32 shards the modulo leaves the hash itself.
    expect(shardOf("", TWO_TO_32)).toBe(0x811c9dc5);
    expect(shardOf("a", TWO_TO_32)).toBe(0xe40c292c);
    expect(shardOf("foobar", TWO_TO_32)).toBe(0xbf9cf968);
  });

  it.each([
    ["42", 16, 3],
    ["alice", 16, 7],
    ["user:1001", 16, 6],
    [UUID, 16, 7],
    ["42", 7, 6],
    ["alice", 7, 6],
    ["user:1001", 7, 2],
    [UUID, 7, 4],
  ])("puts user %s, of %i shards, on shard %i on every deploy", (userId, shards, expected) => {
    expect(shardOf(userId, shards)).toBe(expected);
  });

  it("answers the same shard for the same id every time", () => {
    expect(new Set(Array.from({ length: 100 }, () => shardOf("alice", 16)))).toEqual(new Set([7]));
  });

  it("puts everyone on shard 0 when there is one shard", () => {
    expect(["", "a", "alice", UUID].map((id) => shardOf(id, 1))).toEqual([0, 0, 0, 0]);
  });

  it.each([4, 7, 8, 16, 32])(
    "spreads 10,000 ids over %i shards within ±10 %% of even",
    (shards) => {
      for (const ids of [
        Array.from({ length: 10_000 }, (_, i) => String(i)),
        Array.from({ length: 10_000 }, (_, i) => `user-${i}`),
      ]) {
        const counts = spread(ids, shards);
        const even = 10_000 / shards;
        expect(counts.reduce((a, b) => a + b, 0)).toBe(10_000);
        expect(Math.min(...counts)).toBeGreaterThanOrEqual(even * 0.9);
        expect(Math.max(...counts)).toBeLessThanOrEqual(even * 1.1);
      }
    },
  );

  it("always answers an integer index below the shard count", () => {
    for (let i = 0; i < 1_000; i++) {
      const shard = shardOf(`u${i}`, 13);
      expect(Number.isInteger(shard)).toBe(true);
      expect(shard).toBeGreaterThanOrEqual(0);
      expect(shard).toBeLessThan(13);
    }
  });
});

describe("shardName", () => {
  it("names the PresenceShard actor of an index", () => {
    expect(shardName(0)).toBe("presence:0");
    expect(shardName(15)).toBe("presence:15");
  });
});
