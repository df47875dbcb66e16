import { describe, expect, it } from "vitest";
import {
  commandContext,
  config,
  connectionOf,
  fixClock,
  run,
} from "../../helpers/holding-actor.ts";

fixClock();

describe("ping", () => {
  it("answers pong with the server time from the context's clock", async () => {
    const ctx = commandContext(config, connectionOf("42"), {
      now: () => Date.parse("2030-01-02T03:04:05.678Z"),
    });
    await run(ctx, { type: "ping", data: {} });
    expect(ctx.replies).toEqual([
      { type: "pong", data: { server_time: "2030-01-02T03:04:05.678Z" } },
    ]);
  });
});
