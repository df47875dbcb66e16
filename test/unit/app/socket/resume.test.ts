import { describe, expect, it } from "vitest";
import { commandContext, connectionOf, NOW, run } from "../../helpers/holding-actor.ts";

describe("resume", () => {
  it("replays the stored messages in order with their seq, then says which range it covered", async () => {
    const ctx = commandContext(connectionOf("42"));
    ctx.holder.replayResult = {
      messages: [
        { seq: 5, type: "user_message", json: '{"message":"a"}', createdAt: NOW.getTime() },
        { seq: 6, type: "notification", json: '{"title":"b"}', createdAt: NOW.getTime() + 1 },
      ],
      fromSeq: 4,
      toSeq: 6,
      complete: false,
    };
    await run(ctx, { type: "resume", data: { since_seq: 4 } });
    const frames = ctx.sent.map((f) => JSON.parse(f));
    expect(frames.map((f) => [f.type, f.seq])).toEqual([
      ["user_message", 5],
      ["notification", 6],
    ]);
    expect(frames[0].ts).toBe(NOW.toISOString());
    expect(ctx.replies).toEqual([
      { type: "resumed", data: { from_seq: 4, to_seq: 6, complete: false } },
    ]);
  });
});
