import { describe, expect, it } from "vitest";
import { joinRoom } from "../../../src/app/join-room.ts";
import { leaveRoom } from "../../../src/app/leave-room.ts";
import { fakeApp } from "../helpers/fake-app.ts";

describe("leaving a room", () => {
  it("removes the socket from the group's room and answers the members left", async () => {
    const app = fakeApp();
    await joinRoom(app, "group_a", "1", "c1");
    await joinRoom(app, "group_a", "2", "c2");
    expect(await leaveRoom(app, "group_a", "1", "c1")).toBe(1);
  });
});
