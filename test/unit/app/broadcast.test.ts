import { describe, expect, it } from "vitest";
import { broadcast } from "../../../src/app/broadcast.ts";
import { fakeApp } from "../helpers/fake-app.ts";

describe("broadcasting", () => {
  it("sends the same system_broadcast through every shard and sums the users reached", async () => {
    const app = fakeApp();
    app.shards.set(0, [{ user_id: "1", connection_count: 1 }]);
    app.shards.set(2, [
      { user_id: "2", connection_count: 1 },
      { user_id: "3", connection_count: 2 },
    ]);
    const sent = await broadcast(app, 4, {
      fromUserId: "9",
      message: "hello",
      messageType: "info",
    });
    expect(sent.recipients).toBe(3);
    expect(app.broadcasts.map((b) => b.shard)).toEqual([0, 1, 2, 3]);
    expect(new Set(app.broadcasts.map((b) => b.delivery.json)).size).toBe(1);
    expect(app.broadcasts[0]?.delivery.type).toBe("system_broadcast");
    expect(JSON.parse(app.broadcasts[0]?.delivery.json ?? "null")).toMatchObject({
      message_id: sent.messageId,
      from_user_id: "9",
      message: "hello",
    });
  });

  it("comes from system when server code sends it", async () => {
    const app = fakeApp();
    await broadcast(app, 1, { fromUserId: null, message: "m", messageType: "info" });
    expect(JSON.parse(app.broadcasts[0]?.delivery.json ?? "null").from_user_id).toBe("system");
  });
});
