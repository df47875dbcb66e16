import { describe, expect, it } from "vitest";
import { socketStatus } from "../../../src/app/socket-status.ts";
import { addUser, fakeApp } from "../helpers/fake-app.ts";
import { connectionOf } from "../helpers/holding-actor.ts";

const connection = connectionOf("42", { connectionId: "c-9", groups: ["group_a"] });

describe("a socket's status", () => {
  it("describes the socket's own user as online, with its count, id and groups", async () => {
    const app = fakeApp();
    expect(await socketStatus(app, { connection, connectionCount: 3 })).toEqual({
      user_id: "42",
      is_online: true,
      connection_count: 3,
      connection_id: "c-9",
      groups: ["group_a"],
    });
    expect(app.asked).toEqual([]);
  });

  it("adds other users' statuses, once each, in the order asked; unknown users are offline", async () => {
    const app = fakeApp();
    addUser(app, "7", { isOnline: true, sockets: 2 });
    addUser(app, "b", { lastSeen: "2026-11-24T09:00:00.000Z" });
    const status = await socketStatus(app, { connection, connectionCount: 1 }, [
      "b",
      "7",
      "b",
      "nobody",
    ]);
    expect(status.users).toEqual([
      { user_id: "b", is_online: false, last_seen: "2026-11-24T09:00:00.000Z" },
      { user_id: "7", is_online: true, last_seen: null },
      { user_id: "nobody", is_online: false, last_seen: null },
    ]);
    expect(app.asked).toEqual(["b", "7", "nobody"]);
  });
});
