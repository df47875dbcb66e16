import { describe, expect, it } from "vitest";
import { commandContext, connectionOf, run } from "../../helpers/holding-actor.ts";

describe("ping", () => {
  it("answers pong with the server time from the context's clock", async () => {
    const ctx = commandContext(connectionOf("42"), {
      now: () => Date.parse("2030-01-02T03:04:05.678Z"),
    });
    await run(ctx, { type: "ping", data: {} });
    expect(ctx.replies).toEqual([
      { type: "pong", data: { server_time: "2030-01-02T03:04:05.678Z" } },
    ]);
  });
});
