import { describe, expect, it } from "vitest";
import { broadcastToShards } from "../../../src/core/broadcast.ts";

/** A shard caller answering `reach[i]` for shard i, failing the first `failures[i]` calls. */
function shards(reach: number[], failures: Record<number, number> = {}) {
  const calls = reach.map(() => 0);
  const callShard = async (index: number) => {
    calls[index] = (calls[index] ?? 0) + 1;
    if ((calls[index] ?? 0) <= (failures[index] ?? 0)) throw new Error(`shard ${index} evicted`);
    return reach[index] ?? 0;
  };
  return { calls, callShard };
}

describe("broadcastToShards", () => {
  it("calls every shard once and sums the users each reached", async () => {
    const { calls, callShard } = shards([3, 0, 5, 2]);
    expect(await broadcastToShards(4, callShard)).toBe(10);
    expect(calls).toEqual([1, 1, 1, 1]);
  });

  it("retries a failing shard and counts it once it answers", async () => {
    const { calls, callShard } = shards([3, 4], { 1: 2 });
    const logs: string[] = [];
    expect(await broadcastToShards(2, callShard, { log: (m) => logs.push(m) })).toBe(7);
    expect(calls).toEqual([1, 3]);
    expect(logs).toEqual([
      "broadcast: shard 1 failed (attempt 1): shard 1 evicted",
      "broadcast: shard 1 failed (attempt 2): shard 1 evicted",
    ]);
  });

  it("gives up after 3 attempts by default and rethrows the shard's error", async () => {
    const { calls, callShard } = shards([3, 4], { 1: 3 });
    await expect(broadcastToShards(2, callShard)).rejects.toThrow("shard 1 evicted");
    expect(calls[1]).toBe(3);
  });

  it("makes as many attempts as it is told", async () => {
    const failing = shards([1], { 0: 4 });
    await expect(broadcastToShards(1, failing.callShard, { attempts: 4 })).rejects.toThrow();
    expect(failing.calls).toEqual([4]);

    const recovering = shards([1], { 0: 4 });
    expect(await broadcastToShards(1, recovering.callShard, { attempts: 5 })).toBe(1);
    expect(recovering.calls).toEqual([5]);
  });

  it("tries a failing shard only once with attempts 1", async () => {
    const { calls, callShard } = shards([2], { 0: 1 });
    await expect(broadcastToShards(1, callShard, { attempts: 1 })).rejects.toThrow();
    expect(calls).toEqual([1]);
  });

  it("calls the shards in parallel", async () => {
    let inFlight = 0;
    let most = 0;
    const callShard = async () => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight -= 1;
      return 1;
    };
    expect(await broadcastToShards(8, callShard)).toBe(8);
    expect(most).toBe(8);
  });

  it("reaches nobody with no shards", async () => {
    expect(await broadcastToShards(0, async () => 1)).toBe(0);
  });
});
