import { describe, expect, it } from "vitest";
import { commandContext, connectionOf, refusal, run } from "../../helpers/holding-actor.ts";

describe("broadcast", () => {
  it("is forbidden to a user who is neither staff nor superuser", async () => {
    const ctx = commandContext(connectionOf("42"));
    expect((await refusal(ctx, { type: "broadcast", data: { message: "hi" } })).code).toBe(
      "forbidden",
    );
    expect(ctx.holder.broadcasts).toEqual([]);
  });

  it.each([
    ["staff", { isStaff: true }],
    ["superuser", { isSuperuser: true }],
  ] as const)("reaches the online users for %s and reports how many", async (_label, rights) => {
    const ctx = commandContext(connectionOf("admin", rights));
    ctx.holder.broadcastReach = 250;
    await run(ctx, { type: "broadcast", data: { message: "maintenance at 10" } });
    expect(JSON.parse(ctx.holder.broadcasts[0]?.json ?? "null")).toMatchObject({
      message: "maintenance at 10",
      message_type: "system_broadcast",
      from_user_id: "admin",
    });
    expect(ctx.replies[0]).toMatchObject({
      type: "message_sent",
      data: { recipients: 250, delivered: true },
    });
  });
});
