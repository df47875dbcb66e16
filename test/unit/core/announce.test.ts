import { describe, expect, it } from "vitest";
import { announceToCoMembers, type RoomsAndCoMembers } from "../../../src/core/announce.ts";
import type { StatusChanged } from "../../../src/protocol/messages.ts";

const ONLINE: StatusChanged = {
  user_id: "alice",
  is_online: true,
  connection_count: 1,
  last_seen: null,
};

/** Rooms answering their members (the flipping user included, as a room does), recording calls. */
function rooms(members: Record<string, string[]>) {
  const asked: string[] = [];
  const pushed: { userId: string; status: StatusChanged; groups: string[] }[] = [];
  const reach: RoomsAndCoMembers = {
    async announce(group) {
      asked.push(group);
      return members[group] ?? [];
    },
    async push(userId, status, groups) {
      pushed.push({ userId, status, groups });
    },
  };
  return { reach, asked, pushed };
}

const byUser = (pushed: { userId: string; groups: string[] }[]) =>
  Object.fromEntries(pushed.map((p) => [p.userId, [...p.groups].sort()]));

describe("announceToCoMembers", () => {
  it("pushes each co-member once with every group it shares with the user", async () => {
    const { reach, pushed } = rooms({
      group_a: ["alice", "bob", "carol"],
      group_b: ["alice", "bob"],
      team_x: ["alice", "dave", "bob"],
    });
    const reached = await announceToCoMembers(["group_a", "group_b", "team_x"], ONLINE, reach);
    expect(reached).toBe(3);
    expect(pushed).toHaveLength(3);
    expect(byUser(pushed)).toEqual({
      bob: ["group_a", "group_b", "team_x"],
      carol: ["group_a"],
      dave: ["team_x"],
    });
  });

  it("pushes the status it was given", async () => {
    const { reach, pushed } = rooms({ group_a: ["alice", "bob"] });
    await announceToCoMembers(["group_a"], ONLINE, reach);
    expect(pushed[0]?.status).toEqual(ONLINE);
  });

  it("never pushes the user whose status flipped", async () => {
    const { reach, pushed } = rooms({ group_a: ["alice"], group_b: ["alice", "bob"] });
    await announceToCoMembers(["group_a", "group_b"], ONLINE, reach);
    expect(pushed.map((p) => p.userId)).toEqual(["bob"]);
  });

  it("asks each room once even when a group is listed twice", async () => {
    const { reach, asked, pushed } = rooms({ group_a: ["alice", "bob"] });
    await announceToCoMembers(["group_a", "group_a", "group_a"], ONLINE, reach);
    expect(asked).toEqual(["group_a"]);
    expect(byUser(pushed)).toEqual({ bob: ["group_a"] });
  });

  it("pushes nobody and asks no room when the user is in no group", async () => {
    const { reach, asked, pushed } = rooms({});
    expect(await announceToCoMembers([], ONLINE, reach)).toBe(0);
    expect(asked).toEqual([]);
    expect(pushed).toEqual([]);
  });

  it("pushes nobody when the user is alone in its rooms", async () => {
    const { reach, pushed } = rooms({ group_a: ["alice"] });
    expect(await announceToCoMembers(["group_a"], ONLINE, reach)).toBe(0);
    expect(pushed).toEqual([]);
  });

  it("fails when a room cannot be told, so the outbox retries the announcement", async () => {
    const { reach } = rooms({ group_a: ["alice", "bob"] });
    reach.announce = async () => {
      throw new Error("room evicted");
    };
    await expect(announceToCoMembers(["group_a"], ONLINE, reach)).rejects.toThrow("room evicted");
  });
});
