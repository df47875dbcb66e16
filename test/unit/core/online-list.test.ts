import { describe, expect, it } from "vitest";
import { OnlineList } from "../../../src/core/online-list.ts";
import { memorySql } from "../helpers/sqlite.ts";

describe("OnlineList", () => {
  it("stores a flip online at once: a rebuilt shard lists the user", () => {
    const sql = memorySql();
    const list = new OnlineList(sql);
    expect(list.update("ann", true, 1, 10)).toBe(false);
    expect(new OnlineList(sql).users()).toEqual([{ user_id: "ann", connection_count: 1 }]);
  });

  it("keeps a count change in memory, runs no statement for it, and stores it in saveCounts", () => {
    const sql = memorySql();
    const list = new OnlineList(sql);
    list.update("ann", true, 1, 10);
    const before = sql.statements.length;
    expect(list.update("ann", true, 3, 11)).toBe(true);
    expect(list.update("ann", true, 2, 12)).toBe(true);
    expect(sql.statements.length).toBe(before);
    expect(list.users()).toEqual([{ user_id: "ann", connection_count: 2 }]);
    expect(list.pending).toBe(1);
    // Lost before the save: still listed, with the count of the flip.
    expect(new OnlineList(sql).users()).toEqual([{ user_id: "ann", connection_count: 1 }]);

    list.saveCounts();
    expect(list.pending).toBe(0);
    expect(new OnlineList(sql).users()).toEqual([{ user_id: "ann", connection_count: 2 }]);
  });

  it("ignores a change that is not newer than what it holds, before and after a rebuild", () => {
    const sql = memorySql();
    const list = new OnlineList(sql);
    list.update("ann", true, 2, 20);
    expect(list.update("ann", true, 5, 19)).toBe(false);
    expect(list.update("ann", false, 0, 20)).toBe(false);
    expect(list.users()).toEqual([{ user_id: "ann", connection_count: 2 }]);
    const rebuilt = new OnlineList(sql);
    rebuilt.update("ann", false, 0, 15);
    expect(rebuilt.users()).toEqual([{ user_id: "ann", connection_count: 2 }]);
  });

  it("removes a user going offline at once, with any count change still waiting", () => {
    const sql = memorySql();
    const list = new OnlineList(sql);
    list.update("ann", true, 1, 10);
    list.update("ann", true, 4, 11);
    list.update("ann", false, 0, 12);
    expect(list.users()).toEqual([]);
    expect(list.pending).toBe(0);
    list.saveCounts();
    expect(new OnlineList(sql).users()).toEqual([]);
    // Back online later: listed again, stored at once.
    list.update("ann", true, 1, 13);
    expect(new OnlineList(sql).users()).toEqual([{ user_id: "ann", connection_count: 1 }]);
  });

  it("lists users by id", () => {
    const list = new OnlineList(memorySql());
    for (const [i, user] of ["carl", "ann", "bob"].entries()) list.update(user, true, i + 1, 1);
    expect(list.users().map((u) => u.user_id)).toEqual(["ann", "bob", "carl"]);
  });

  it("ignores an offline change for a user it never listed", () => {
    const sql = memorySql();
    const list = new OnlineList(sql);
    expect(list.update("nobody", false, 0, 5)).toBe(false);
    expect(list.users()).toEqual([]);
  });
});
