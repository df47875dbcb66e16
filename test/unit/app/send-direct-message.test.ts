import { describe, expect, it } from "vitest";
import { sendDirectMessage } from "../../../src/app/send-direct-message.ts";
import { addUser, FIXED_NOW, fakeApp } from "../helpers/fake-app.ts";

const from = { userId: "1", username: "ada" };

describe("sending a direct message", () => {
  it("delivers one user_message to the target's actor and counts the sockets it reached", async () => {
    const app = fakeApp();
    const target = addUser(app, "2", { sockets: 3 });
    const sent = await sendDirectMessage(app, "2", { from, message: "hi", messageType: "chat" });
    expect(sent).toEqual({
      messageId: "id-1",
      recipients: 3,
      sentAt: new Date(FIXED_NOW).toISOString(),
    });
    expect(target.deliveries[0]).toMatchObject({ type: "user_message", messageId: "id-1" });
    expect(JSON.parse(target.deliveries[0]?.json ?? "null")).toMatchObject({
      message_id: "id-1",
      from_user_id: "1",
      from_username: "ada",
      message: "hi",
    });
  });

  it("reaches no socket of an offline user, whose mailbox keeps it", async () => {
    const app = fakeApp();
    addUser(app, "2");
    expect(
      (await sendDirectMessage(app, "2", { from, message: "later", messageType: "chat" }))
        .recipients,
    ).toBe(0);
  });

  it("refuses an unknown target with user_not_found naming the user", async () => {
    await expect(
      sendDirectMessage(fakeApp(), "nobody", { from, message: "x", messageType: "chat" }),
    ).rejects.toMatchObject({ code: "user_not_found", details: { user_id: "nobody" } });
  });
});
