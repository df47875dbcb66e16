import { describe, expect, it } from "vitest";
import { announceToRooms, StatusMemory } from "../../../src/core/announce.ts";
import type { StatusChanged } from "../../../src/protocol/messages.ts";

const ONLINE: StatusChanged = {
  user_id: "alice",
  is_online: true,
  connection_count: 1,
  last_seen: null,
};
const OFFLINE: StatusChanged = {
  user_id: "alice",
  is_online: false,
  connection_count: 0,
  last_seen: "2026-12-05T12:00:00.000Z",
};

describe("announceToRooms", () => {
  it("tells each room once, even when a group is listed twice, with the status given", async () => {
    const told: [string, StatusChanged][] = [];
    const rooms = await announceToRooms(["group_a", "group_b", "group_a"], ONLINE, async (g, s) => {
      told.push([g, s]);
    });
    expect(rooms).toBe(2);
    expect(told).toEqual([
      ["group_a", ONLINE],
      ["group_b", ONLINE],
    ]);
  });

  it("tells no room when the user is in none", async () => {
    const told: string[] = [];
    expect(await announceToRooms([], ONLINE, async (g) => void told.push(g))).toBe(0);
    expect(told).toEqual([]);
  });

  it("fails when a room cannot be told, so the outbox retries the announcement", async () => {
    const failing = async () => {
      throw new Error("room evicted");
    };
    await expect(announceToRooms(["group_a"], ONLINE, failing)).rejects.toThrow("room evicted");
  });
});

describe("StatusMemory", () => {
  it("lets a flip through once per socket, whichever room it came from", () => {
    const memory = new StatusMemory();
    expect(memory.firstTime(ONLINE, "c1")).toBe(true);
    expect(memory.firstTime(ONLINE, "c1")).toBe(false);
    expect(memory.firstTime(ONLINE, "c2")).toBe(true);
  });

  it("treats the next flip of the same user as new", () => {
    const memory = new StatusMemory();
    expect(memory.firstTime(ONLINE, "c1")).toBe(true);
    expect(memory.firstTime(OFFLINE, "c1")).toBe(true);
    const again = { ...ONLINE, last_seen: OFFLINE.last_seen };
    expect(memory.firstTime(again, "c1")).toBe(true);
  });

  it("forgets the oldest flips beyond its capacity", () => {
    const memory = new StatusMemory(2);
    const flip = (userId: string) => ({ ...ONLINE, user_id: userId });
    memory.firstTime(flip("u1"), "c1");
    memory.firstTime(flip("u2"), "c1");
    memory.firstTime(flip("u3"), "c1");
    expect(memory.firstTime(flip("u3"), "c1")).toBe(false);
    expect(memory.firstTime(flip("u1"), "c1")).toBe(true);
  });
});
