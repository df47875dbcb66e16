import { describe, expect, it } from "vitest";
import { onlineUsers } from "../../../src/app/online-users.ts";
import { fakeApp } from "../helpers/fake-app.ts";

describe("the online users", () => {
  it("are merged from every shard and ordered by id", async () => {
    const app = fakeApp();
    app.shards.set(0, [{ user_id: "b", connection_count: 1 }]);
    app.shards.set(1, [
      { user_id: "c", connection_count: 3 },
      { user_id: "a", connection_count: 2 },
    ]);
    expect(await onlineUsers(app, 2)).toEqual([
      { userId: "a", connectionCount: 2 },
      { userId: "b", connectionCount: 1 },
      { userId: "c", connectionCount: 3 },
    ]);
  });

  it("are none when no shard has anyone", async () => {
    expect(await onlineUsers(fakeApp(), 3)).toEqual([]);
  });
});
