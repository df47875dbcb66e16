import { describe, expect, it } from "vitest";
import { postInConsultation } from "../../../src/app/post-in-consultation.ts";
import { FIXED_NOW, fakeApp } from "../helpers/fake-app.ts";

const from = { userId: "7", username: "ann" };

describe("posting in a consultation", () => {
  it("publishes one consultation_message to the consultation's room, with a new id", async () => {
    const app = fakeApp();
    app.rooms?.set("consultation_42", 2);
    const sent = await postInConsultation(app, { room: "consultation_42", from, message: "hi" });
    const sentAt = new Date(FIXED_NOW).toISOString();
    expect(sent).toEqual({ messageId: "id-1", recipients: 2, sentAt });
    expect(app.published).toEqual([
      {
        groupName: "consultation_42",
        message: {
          type: "consultation_message",
          messageId: "id-1",
          fromUserId: "7",
          fromUsername: "ann",
          message: "hi",
          sentAt,
        },
      },
    ]);
  });

  it("gives each post its own id", async () => {
    const app = fakeApp();
    const post = { room: "consultation_42", from, message: "again" };
    const ids = [await postInConsultation(app, post), await postInConsultation(app, post)];
    expect(ids.map((sent) => sent.messageId)).toEqual(["id-1", "id-2"]);
  });

  it("answers unavailable while the deployment has no rooms", async () => {
    const app = fakeApp();
    app.rooms = null;
    await expect(
      postInConsultation(app, { room: "consultation_42", from, message: "x" }),
    ).rejects.toMatchObject({ code: "unavailable" });
  });
});
