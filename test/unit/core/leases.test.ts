import { describe, expect, it } from "vitest";
import { Leases } from "../../../src/core/leases.ts";
import { memorySql } from "../helpers/sqlite.ts";

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);
const LEASE_MS = 90_000;

function leases() {
  const sql = memorySql();
  return { sql, leases: new Leases(sql) };
}

describe("Leases", () => {
  it("holds nothing at first", () => {
    const { leases: held } = leases();
    expect(held.all()).toEqual([]);
    expect(held.nextExpiry()).toBeNull();
  });

  it("adds a lease and lists it", () => {
    const { leases: held } = leases();
    held.add({ connectionId: "c1", room: "consultation_7", expiresAt: T0 + LEASE_MS });
    expect(held.all()).toEqual([
      { connectionId: "c1", room: "consultation_7", expiresAt: T0 + LEASE_MS },
    ]);
  });

  it("extends a lease added again with a later expiry, keeping a single row", () => {
    const { leases: held } = leases();
    held.add({ connectionId: "c1", room: "consultation_7", expiresAt: T0 + LEASE_MS });
    held.add({ connectionId: "c1", room: "consultation_7", expiresAt: T0 + 2 * LEASE_MS });
    expect(held.all()).toEqual([
      { connectionId: "c1", room: "consultation_7", expiresAt: T0 + 2 * LEASE_MS },
    ]);
  });

  it("renews the given leases of a room and adds back the ones it no longer held", () => {
    const { leases: held } = leases();
    held.add({ connectionId: "c1", room: "consultation_7", expiresAt: T0 + LEASE_MS });
    held.add({ connectionId: "c9", room: "consultation_8", expiresAt: T0 + LEASE_MS });
    held.renew("consultation_7", ["c1", "c2"], T0 + 30_000 + LEASE_MS);
    expect(held.all()).toEqual([
      { connectionId: "c1", room: "consultation_7", expiresAt: T0 + 30_000 + LEASE_MS },
      { connectionId: "c2", room: "consultation_7", expiresAt: T0 + 30_000 + LEASE_MS },
      { connectionId: "c9", room: "consultation_8", expiresAt: T0 + LEASE_MS },
    ]);
  });

  it("removes a lease and answers its room, or null when it was not held", () => {
    const { leases: held } = leases();
    held.add({ connectionId: "c1", room: "consultation_7", expiresAt: T0 + LEASE_MS });
    expect(held.remove("c1")).toBe("consultation_7");
    expect(held.remove("c1")).toBeNull();
    expect(held.remove("never")).toBeNull();
    expect(held.all()).toEqual([]);
  });

  it("expires the leases due by now, inclusive, and answers them", () => {
    const { leases: held } = leases();
    held.add({ connectionId: "a", room: "consultation_1", expiresAt: T0 + 1_000 });
    held.add({ connectionId: "b", room: "consultation_2", expiresAt: T0 + 2_000 });
    held.add({ connectionId: "c", room: "consultation_3", expiresAt: T0 + 3_000 });
    const expired = held.expire(T0 + 2_000);
    expect(expired.sort((x, y) => x.connectionId.localeCompare(y.connectionId))).toEqual([
      { connectionId: "a", room: "consultation_1", expiresAt: T0 + 1_000 },
      { connectionId: "b", room: "consultation_2", expiresAt: T0 + 2_000 },
    ]);
    expect(held.all().map((lease) => lease.connectionId)).toEqual(["c"]);
    expect(held.expire(T0 + 2_000)).toEqual([]);
  });

  it("does not expire a lease that was renewed in time", () => {
    const { leases: held } = leases();
    held.add({ connectionId: "c1", room: "consultation_7", expiresAt: T0 + LEASE_MS });
    held.renew("consultation_7", ["c1"], T0 + 30_000 + LEASE_MS);
    expect(held.expire(T0 + LEASE_MS)).toEqual([]);
    expect(held.all()).toHaveLength(1);
  });

  it("answers the earliest expiry as the next one", () => {
    const { leases: held } = leases();
    held.add({ connectionId: "late", room: "consultation_1", expiresAt: T0 + 9_000 });
    held.add({ connectionId: "early", room: "consultation_2", expiresAt: T0 + 4_000 });
    expect(held.nextExpiry()).toBe(T0 + 4_000);
    held.remove("early");
    expect(held.nextExpiry()).toBe(T0 + 9_000);
    held.expire(T0 + 9_000);
    expect(held.nextExpiry()).toBeNull();
  });

  it("keeps its leases across a new instance on the same database (an evicted actor)", () => {
    const { sql, leases: held } = leases();
    held.add({ connectionId: "c1", room: "consultation_7", expiresAt: T0 + LEASE_MS });
    const rebuilt = new Leases(sql);
    expect(rebuilt.all()).toEqual(held.all());
    expect(rebuilt.nextExpiry()).toBe(T0 + LEASE_MS);
  });
});
