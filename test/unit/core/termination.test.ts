import { describe, expect, it } from "vitest";
import type { Lease } from "../../../src/core/leases.ts";
import {
  blockedError,
  blockedUntil,
  DEFAULT_TERMINATION_REASON,
  type TerminationTargets,
  terminateConnections,
} from "../../../src/core/termination.ts";

const NOW = Date.parse("2026-12-05T12:00:00.000Z");

function fakeUser(options: { own?: number; leases?: Lease[]; failingRooms?: string[] } = {}) {
  const stored = new Map<string, unknown>();
  const leases = [...(options.leases ?? [])];
  const frames: string[] = [];
  const closedInRooms: { room: string; ids: string[] }[] = [];
  const targets: TerminationTargets = {
    store: {
      get: async <T>(key: string) => stored.get(key) as T | undefined,
      put: async (key, value) => void stored.set(key, value),
      delete: async (key) => stored.delete(key),
    },
    closeOwn: async (frame) => {
      frames.push(frame);
      return options.own ?? 0;
    },
    leases: () => leases,
    closeLeased: async (room, ids) => {
      if (options.failingRooms?.includes(room)) throw new Error("room unreachable");
      closedInRooms.push({ room, ids });
      return ids.length;
    },
    endLease: async (connectionId) => {
      leases.splice(
        leases.findIndex((lease) => lease.connectionId === connectionId),
        1,
      );
    },
  };
  return { targets, stored, leases, frames, closedInRooms };
}

const lease = (connectionId: string, room: string): Lease => ({
  connectionId,
  room,
  expiresAt: NOW + 90_000,
});

describe("terminating a user's connections", () => {
  it("closes the own sockets and asks each room once for its leased sockets", async () => {
    const user = fakeUser({
      own: 2,
      leases: [
        lease("a", "consultation_1"),
        lease("b", "consultation_1"),
        lease("c", "consultation_2"),
      ],
    });
    expect(await terminateConnections(user.targets, { reason: null, blockUntil: null })).toEqual({
      closed: 5,
    });
    expect(user.closedInRooms).toEqual([
      { room: "consultation_1", ids: ["a", "b"] },
      { room: "consultation_2", ids: ["c"] },
    ]);
    expect(user.leases).toEqual([]);
    expect(JSON.parse(user.frames[0] ?? "")).toMatchObject({
      type: "error",
      data: {
        code: "forbidden",
        message: DEFAULT_TERMINATION_REASON,
        details: { reason: "terminated" },
      },
    });
  });

  it("fails with unavailable when a room cannot be reached, keeping its leases for a retry", async () => {
    const user = fakeUser({ leases: [lease("a", "consultation_1"), lease("c", "consultation_2")] });
    user.targets.closeLeased = async (room, ids) => {
      if (room === "consultation_2") throw new Error("room unreachable");
      return ids.length;
    };
    await expect(
      terminateConnections(user.targets, { reason: "bye", blockUntil: NOW + 1_000 }),
    ).rejects.toMatchObject({ code: "unavailable", details: { closed: 1, rooms_failed: 1 } });
    expect(user.leases.map((l) => l.connectionId)).toEqual(["c"]);
    // The block was stored before anything closed.
    expect(await blockedUntil(user.targets.store, NOW)).toBe(NOW + 1_000);
  });

  it("blocks until the given time, then forgets the block", async () => {
    const user = fakeUser();
    await terminateConnections(user.targets, { reason: null, blockUntil: NOW + 60_000 });
    expect(await blockedUntil(user.targets.store, NOW + 59_999)).toBe(NOW + 60_000);
    expect(await blockedUntil(user.targets.store, NOW + 60_000)).toBeNull();
    expect(user.stored.size).toBe(0);
  });

  it("refuses a blocked upgrade with 403 forbidden naming the end of the block", () => {
    const error = blockedError(NOW);
    expect(error.httpStatus).toBe(403);
    expect(error.toBody()).toMatchObject({
      code: "forbidden",
      details: { reason: "blocked", blocked_until: "2026-12-05T12:00:00.000Z" },
    });
  });
});
