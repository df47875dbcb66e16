import { describe, expect, it } from "vitest";
import { sendToRoom } from "../../../src/app/send-to-room.ts";
import { parseConfig } from "../../../src/core/config.ts";
import { TEST_JWT_SECRET } from "../../helpers/secrets.ts";
import { FIXED_NOW, fakeApp } from "../helpers/fake-app.ts";

const config = parseConfig({ JWT_SECRET: TEST_JWT_SECRET });

describe("sending to a room", () => {
  it("publishes once to the group's room and answers how many users it reached", async () => {
    const app = fakeApp();
    app.rooms?.set("group_a", 5);
    const sent = await sendToRoom(app, config, "group_a", {
      fromUserId: "1",
      messageType: "chat",
      message: "hi",
    });
    expect(sent).toEqual({
      messageId: "id-1",
      recipients: 5,
      sentAt: new Date(FIXED_NOW).toISOString(),
    });
    expect(app.published).toEqual([
      {
        groupName: "group_a",
        message: {
          type: "group_message",
          messageId: "id-1",
          fromUserId: "1",
          messageType: "chat",
          message: "hi",
          sentAt: new Date(FIXED_NOW).toISOString(),
        },
      },
    ]);
  });

  it("carries server code's data instead of text", async () => {
    const app = fakeApp();
    await sendToRoom(app, config, "group_a", {
      fromUserId: null,
      messageType: "t",
      data: { n: 1 },
    });
    expect(app.published[0]?.message).toMatchObject({ fromUserId: null, data: { n: 1 } });
    expect(app.published[0]?.message).not.toHaveProperty("message");
  });

  it("refuses a name outside the group prefixes before reaching any room", async () => {
    const app = fakeApp();
    await expect(
      sendToRoom(app, config, "elsewhere_a", { fromUserId: null, messageType: "t", data: {} }),
    ).rejects.toMatchObject({ code: "invalid_group" });
    expect(app.published).toEqual([]);
  });

  it("answers unavailable while the deployment has no rooms", async () => {
    const app = fakeApp();
    app.rooms = null;
    await expect(
      sendToRoom(app, config, "group_a", { fromUserId: null, messageType: "t", data: {} }),
    ).rejects.toMatchObject({ code: "unavailable" });
  });
});
