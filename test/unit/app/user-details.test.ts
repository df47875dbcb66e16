import { describe, expect, it } from "vitest";
import { userDetails } from "../../../src/app/user-details.ts";
import { addUser, fakeApp } from "../helpers/fake-app.ts";

describe("a user's details", () => {
  it("are what the user's actor says, under the id asked for", async () => {
    const app = fakeApp();
    addUser(app, "5", { sockets: 2, isOnline: true, lastSeen: null });
    const details = await userDetails(app, "5");
    expect(details).toMatchObject({ user_id: "5", is_online: true, connection_count: 2 });
    expect(details.sockets.map((s) => s.connection_id)).toEqual(["5-c0", "5-c1"]);
  });

  it("are user_not_found for a user the gateway does not know", async () => {
    await expect(userDetails(fakeApp(), "6")).rejects.toMatchObject({ code: "user_not_found" });
  });
});
