import { describe, expect, it } from "vitest";
import { userStatus } from "../../../src/app/user-status.ts";
import { addUser, fakeApp } from "../helpers/fake-app.ts";

describe("a user's status", () => {
  it("is what the user's actor says", async () => {
    const app = fakeApp();
    addUser(app, "5", { sockets: 2, isOnline: true, lastSeen: "2026-11-25T09:00:00.000Z" });
    expect(await userStatus(app, "5")).toEqual({
      userId: "5",
      isOnline: true,
      connectionCount: 2,
      lastSeen: "2026-11-25T09:00:00.000Z",
    });
  });

  it("is user_not_found for a user the gateway does not know", async () => {
    await expect(userStatus(fakeApp(), "6")).rejects.toMatchObject({ code: "user_not_found" });
  });
});
