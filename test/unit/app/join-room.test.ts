import { describe, expect, it } from "vitest";
import { joinRoom } from "../../../src/app/join-room.ts";
import { fakePorts } from "../http/fake-ports.ts";

describe("joining a room", () => {
  it("adds the socket to the group's room and answers its member count", async () => {
    const app = fakePorts();
    expect((await joinRoom(app, "group_a", "1", "c1")).memberCount).toBe(1);
    expect((await joinRoom(app, "group_a", "2", "c2")).memberCount).toBe(2);
    expect(app.joined).toEqual(["group_a", "group_a"]);
  });

  it("answers unavailable while the deployment has no rooms", async () => {
    const app = fakePorts();
    app.rooms = null;
    await expect(joinRoom(app, "group_a", "1", "c1")).rejects.toMatchObject({
      code: "unavailable",
    });
  });
});
