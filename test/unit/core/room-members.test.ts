import { describe, expect, it } from "vitest";
import { RoomMembers } from "../../../src/core/room-members.ts";
import { memorySql } from "../helpers/sqlite.ts";

function room() {
  const sql = memorySql();
  return { sql, members: new RoomMembers(sql) };
}

describe("RoomMembers", () => {
  it("has no member and no participant at first", () => {
    const { members } = room();
    expect([...members.userIds()]).toEqual([]);
    expect(members.participants()).toEqual([]);
  });

  it("counts a user once however many of their connections joined", () => {
    const { members } = room();
    members.join("1", "c1");
    members.join("1", "c2");
    members.join("1", "c2");
    members.join("2", "c3");
    expect([...members.userIds()].sort()).toEqual(["1", "2"]);
    expect(members.connectionsOf("1")).toEqual(["c1", "c2"]);
    expect(members.count()).toBe(2);
    expect(members.isMember("1")).toBe(true);
    expect(members.isMember("3")).toBe(false);
  });

  it("keeps a user a member until their last connection leaves", () => {
    const { members } = room();
    members.join("1", "c1");
    members.join("1", "c2");
    members.leave("1", "c1");
    expect([...members.userIds()]).toEqual(["1"]);
    members.leave("1", "c2");
    expect([...members.userIds()]).toEqual([]);
    expect(members.count()).toBe(0);
    expect(members.isMember("1")).toBe(false);
  });

  it("drops every connection of a user at once", () => {
    const { members } = room();
    members.join("1", "c1");
    members.join("1", "c2");
    members.join("2", "c3");
    members.drop("1");
    expect([...members.userIds()]).toEqual(["2"]);
  });

  it("keeps only the connections still live when reconciled", () => {
    const { members } = room();
    members.join("1", "c1");
    members.join("1", "ghost");
    members.keepOnly("1", new Set(["c1", "elsewhere"]));
    expect(members.connectionsOf("1")).toEqual(["c1"]);
    members.keepOnly("1", new Set());
    expect([...members.userIds()]).toEqual([]);
  });

  it("remembers participants with their latest username, in user id order", () => {
    const { members } = room();
    members.addParticipant({ userId: "9", username: "nurse" });
    members.addParticipant({ userId: "2", username: "dr" });
    members.addParticipant({ userId: "9", username: "head nurse" });
    expect(members.participants()).toEqual([
      { userId: "2", username: "dr" },
      { userId: "9", username: "head nurse" },
    ]);
  });

  it("finds its rows again when the actor is rebuilt on the same storage", () => {
    const { sql, members } = room();
    members.join("1", "c1");
    members.addParticipant({ userId: "1", username: "one" });
    const rebuilt = new RoomMembers(sql);
    expect([...rebuilt.userIds()]).toEqual(["1"]);
    expect(rebuilt.participants()).toEqual([{ userId: "1", username: "one" }]);
  });
});
