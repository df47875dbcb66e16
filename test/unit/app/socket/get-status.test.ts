import { describe, expect, it } from "vitest";
import { commandContext, connectionOf, run } from "../../helpers/holding-actor.ts";

describe("get_status", () => {
  it("describes this connection without users when none were asked for", async () => {
    const ctx = commandContext(connectionOf("42", { connectionId: "c-9", groups: ["group_a"] }));
    ctx.holder.count = 3;
    await run(ctx, { type: "get_status" });
    expect(ctx.replies).toEqual([
      {
        type: "status_response",
        data: {
          user_id: "42",
          is_online: true,
          connection_count: 3,
          connection_id: "c-9",
          groups: ["group_a"],
        },
      },
    ]);
    expect(ctx.holder.statusQueries).toEqual([]);
  });

  it("does not ask for the statuses of an empty list of users", async () => {
    const ctx = await run(commandContext(connectionOf("42")), {
      type: "get_status",
      data: { user_ids: [] },
    });
    expect(ctx.replies[0]?.data).not.toHaveProperty("users");
    expect(ctx.holder.statusQueries).toEqual([]);
  });

  it("adds the status of the users asked for, once each, in the order asked", async () => {
    const ctx = commandContext(connectionOf("42"));
    ctx.holder.statuses.set("7", { user_id: "7", is_online: true, last_seen: null });
    ctx.holder.statuses.set("b", {
      user_id: "b",
      is_online: false,
      last_seen: "2026-11-24T09:00:00.000Z",
    });
    await run(ctx, { type: "get_status", data: { user_ids: ["b", 7, "b", "nobody"] } });
    expect(ctx.holder.statusQueries).toEqual(["b", "7", "nobody"]);
    expect(ctx.replies[0]).toMatchObject({
      type: "status_response",
      data: {
        user_id: "42",
        users: [
          { user_id: "b", is_online: false, last_seen: "2026-11-24T09:00:00.000Z" },
          { user_id: "7", is_online: true, last_seen: null },
          { user_id: "nobody", is_online: false, last_seen: null },
        ],
      },
    });
  });

  it("sends a copy of the connection's groups, not the live list", async () => {
    const connection = connectionOf("42", { groups: ["group_a"] });
    const ctx = await run(commandContext(connection), { type: "get_status" });
    connection.groups.push("group_b");
    expect(ctx.replies[0]?.data).toMatchObject({ groups: ["group_a"] });
  });
});
