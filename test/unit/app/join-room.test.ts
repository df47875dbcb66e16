import { describe, expect, it } from "vitest";
import { joinRoom } from "../../../src/app/join-room.ts";
import { fakeApp } from "../helpers/fake-app.ts";

describe("joining a room", () => {
  it("adds the socket to the group's room and answers its member count", async () => {
    const app = fakeApp();
    expect((await joinRoom(app, "group_a", "1", "c1")).memberCount).toBe(1);
    expect((await joinRoom(app, "group_a", "2", "c2")).memberCount).toBe(2);
    expect(app.joined).toEqual(["group_a", "group_a"]);
  });

  it("answers unavailable while the deployment has no rooms", async () => {
    const app = fakeApp();
    app.rooms = null;
    await expect(joinRoom(app, "group_a", "1", "c1")).rejects.toMatchObject({
      code: "unavailable",
    });
  });
});
