import { describe, expect, it } from "vitest";
import { notify } from "../../../src/app/notify.ts";
import { addUser, FIXED_NOW, fakeApp } from "../helpers/fake-app.ts";

describe("notifying a user", () => {
  it("hands the user's actor one notification with a new id and the time", async () => {
    const app = fakeApp();
    const user = addUser(app, "7", { sockets: 2 });
    const sent = await notify(app, "7", { title: "t", message: "m" });
    expect(sent).toEqual({ notificationId: "id-1", delivered: true, connectionCount: 2 });
    expect(user.notifications).toEqual([
      {
        notification_id: "id-1",
        title: "t",
        message: "m",
        data: {},
        created_at: new Date(FIXED_NOW).toISOString(),
      },
    ]);
  });

  it("is not delivered now to a user with no socket", async () => {
    const app = fakeApp();
    addUser(app, "7");
    expect((await notify(app, "7", { title: "t", message: "m" })).delivered).toBe(false);
  });

  it("refuses an unknown user with user_not_found", async () => {
    await expect(notify(fakeApp(), "8", { title: "t", message: "m" })).rejects.toMatchObject({
      code: "user_not_found",
      details: { user_id: "8" },
    });
  });
});
