import { describe, expect, it } from "vitest";
import { mapBounded, Window } from "../../../src/core/bounded.ts";

/** A worker that records how many calls are in flight; each call takes `turns` event-loop turns. */
function tracked(turnsOf: (item: number) => number = () => 1) {
  const state = { inFlight: 0, most: 0, started: [] as number[] };
  const work = async (item: number) => {
    state.started.push(item);
    state.inFlight += 1;
    state.most = Math.max(state.most, state.inFlight);
    for (let t = 0; t < turnsOf(item); t++) await new Promise((r) => setImmediate(r));
    state.inFlight -= 1;
    return item * 10;
  };
  return { state, work };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("mapBounded", () => {
  it("never has more than the limit in flight, and uses all of it", async () => {
    const { state, work } = tracked((item) => 1 + (item % 5));
    await mapBounded(range(100), 8, work);
    expect(state.most).toBe(8);
    expect(state.started).toHaveLength(100);
  });

  it("answers the results in input order, whatever order the work finishes in", async () => {
    const { work } = tracked((item) => 10 - item);
    expect(await mapBounded(range(10), 3, work)).toEqual(range(10).map((i) => i * 10));
  });

  it("starts the items in input order", async () => {
    const { state, work } = tracked((item) => (item % 2 === 0 ? 3 : 1));
    await mapBounded(range(20), 4, work);
    expect(state.started).toEqual(range(20));
  });

  it("runs one at a time with a limit of 1", async () => {
    const { state, work } = tracked();
    await mapBounded(range(5), 1, work);
    expect(state.most).toBe(1);
  });

  it("runs everything at once when the limit is above the item count", async () => {
    const { state, work } = tracked();
    expect(await mapBounded(range(3), 64, work)).toEqual([0, 10, 20]);
    expect(state.most).toBe(3);
  });

  it("answers [] for no items without calling the work", async () => {
    const { state, work } = tracked();
    expect(await mapBounded([], 4, work)).toEqual([]);
    expect(state.started).toEqual([]);
  });

  it("rejects with the first failure", async () => {
    const work = async (item: number) => {
      await new Promise((r) => setImmediate(r));
      if (item === 3) throw new Error("item 3 failed");
      return item;
    };
    await expect(mapBounded(range(6), 2, work)).rejects.toThrow("item 3 failed");
  });
});

describe("Window", () => {
  it("keeps at most its size in flight across every caller sharing it, and finishes them all", async () => {
    const window = new Window(3);
    const { state, work } = tracked((item) => 1 + (item % 4));
    const results = await Promise.all([
      mapBounded(range(20), 10, (item) => window.run(() => work(item))),
      mapBounded(range(20), 10, (item) => window.run(() => work(item + 100))),
    ]);
    expect(state.most).toBe(3);
    expect(state.started).toHaveLength(40);
    expect(results[1]).toEqual(range(20).map((i) => (i + 100) * 10));
    expect(window.active).toBe(0);
  });

  it("gives a freed slot to the longest waiter", async () => {
    const window = new Window(1);
    const order: number[] = [];
    await Promise.all(
      range(5).map((i) =>
        window.run(async () => {
          order.push(i);
          await new Promise((r) => setImmediate(r));
        }),
      ),
    );
    expect(order).toEqual(range(5));
  });
});
