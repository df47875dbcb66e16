/**
 * The README's "Server-side integration" snippet, run against the real gateway: the seed's
 * four `user_messaging_service` calls and three `user_online_service` calls in TypeScript.
 * The snippet's lines are copied here verbatim (only the import differs: the README imports the
 * package, `edge-realtime-gateway/server`), and the last test checks that the documents still
 * show exactly these lines.
 */
import { existsSync, readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { createRealtime, RealtimeApiError } from "../../src/sdk/server.ts";
import { eventually } from "../helpers/frames.ts";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { type Client, connectAs, gatewayUrl } from "./helpers.ts";

// What a deployment puts in its environment.
process.env.REALTIME_URL = gatewayUrl();
process.env.REALTIME_API_KEY = TEST_API_KEY;

// --- README snippet, part 1 ---
const realtime = createRealtime({
  baseUrl: process.env.REALTIME_URL ?? "http://127.0.0.1:8787",
  apiKey: process.env.REALTIME_API_KEY ?? "",
});
// --- end ---

/** User 42 with two tabs, both in the consultation room the snippet sends to. */
let tabs: Client[] = [];

beforeAll(async () => {
  tabs = [
    await connectAs(42, { groups: ["consultation_*"] }),
    await connectAs(42, { groups: ["consultation_*"] }),
  ];
  for (const tab of tabs) {
    const joined = await tab.request("join_group", { group_name: "consultation_981" });
    expect(joined.type).toBe("group_joined");
  }
  // The online list is fed by the presence shards, which follow a moment later.
  await eventually(async () =>
    (await realtime.online.getAllOnlineUsers()).some(
      (user) => user.userId === "42" && user.connectionCount === 2,
    ),
  );
});

/** The first ```ts block of the "Server-side integration" section (up to the next heading of its level). */
function snippetOf(markdown: string): string | null {
  const heading = /^(#{1,6})\s+server-side integration\s*$/im.exec(markdown);
  if (heading === null) return null;
  const rest = markdown.slice(heading.index + heading[0].length);
  const next = new RegExp(`^#{1,${heading[1]?.length ?? 6}}\\s`, "m").exec(rest);
  const section = next === null ? rest : rest.slice(0, next.index);
  return /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? null;
}

describe("README: server-side integration", () => {
  it("user_messaging_service.send_notification_to_user", async () => {
    // --- README snippet, part 2 ---
    // user_messaging_service.send_notification_to_user
    const notification = await realtime.messaging.sendNotificationToUser(42, {
      title: "Appointment confirmed",
      message: "Dr. Lee will see you at 10:30",
      data: { appointment_id: 981 },
    }); // → { notificationId, delivered: true, connectionCount: 2 }
    // --- end ---
    expect(notification).toMatchObject({ delivered: true, connectionCount: 2 });
    for (const tab of tabs) {
      expect((await tab.frames.next("notification")).data).toMatchObject({
        notification_id: notification.notificationId,
        title: "Appointment confirmed",
        data: { appointment_id: 981 },
      });
    }
  });

  it("user_messaging_service.send_message_to_user", async () => {
    // --- README snippet, part 3 ---
    // user_messaging_service.send_message_to_user
    const message = await realtime.messaging.sendMessageToUser(42, {
      fromUserId: 7,
      message: "See you soon!",
    }); // → { messageId, delivered: true }
    // --- end ---
    expect(message.delivered).toBe(true);
    for (const tab of tabs) {
      expect((await tab.frames.next("user_message")).data).toMatchObject({
        message_id: message.messageId,
        from_user_id: "7",
        message: "See you soon!",
        message_type: "chat_message",
      });
    }
  });

  it("user_messaging_service.broadcast_system_message", async () => {
    // --- README snippet, part 4 ---
    // user_messaging_service.broadcast_system_message
    const broadcast = await realtime.messaging.broadcastSystemMessage({
      message: "Maintenance tonight at 23:00 UTC",
    }); // → { messageId, recipients } (users reached)
    // --- end ---
    expect(broadcast.recipients).toBeGreaterThanOrEqual(1);
    for (const tab of tabs) {
      expect((await tab.frames.next("system_broadcast")).data).toMatchObject({
        message_id: broadcast.messageId,
        message: "Maintenance tonight at 23:00 UTC",
      });
    }
  });

  it("user_messaging_service.send_to_group", async () => {
    // --- README snippet, part 5 ---
    // user_messaging_service.send_to_group
    const update = await realtime.messaging.sendToGroup("consultation_981", {
      messageType: "consultation_update",
      data: { status: "started" },
    }); // → { messageId, recipients: 1 }
    // --- end ---
    expect(update.recipients).toBe(1);
    for (const tab of tabs) {
      expect((await tab.frames.next("group_message")).data).toMatchObject({
        message_id: update.messageId,
        group_name: "consultation_981",
        message_type: "consultation_update",
        data: { status: "started" },
      });
    }
  });

  it("user_online_service.is_user_online, get_user_connection_count, get_all_online_users", async () => {
    // --- README snippet, part 6 ---
    // user_online_service
    const online = await realtime.online.isUserOnline(42); // true
    const tabCount = await realtime.online.getUserConnectionCount(42); // 2
    const everyone = await realtime.online.getAllOnlineUsers(); // [{ userId: "42", connectionCount: 2 }, …]
    // --- end ---
    expect(online).toBe(true);
    expect(tabCount).toBe(2);
    expect(everyone).toContainEqual({ userId: "42", connectionCount: 2 });
  });

  it("errors carry the gateway's code", async () => {
    let code: string | undefined;
    // --- README snippet, part 7 ---
    // errors carry the gateway's code
    try {
      await realtime.messaging.sendMessageToUser("nobody", { fromUserId: 7, message: "Hi" });
    } catch (err) {
      if (err instanceof RealtimeApiError && err.code === "user_not_found") {
        // never connected, and not in the application's users table
        code = err.code;
      }
    }
    // --- end ---
    expect(code).toBe("user_not_found");
  });

  it("is exactly the snippet the documents show", () => {
    const source = readFileSync(new URL(import.meta.url), "utf8");
    const parts = [
      ...source.matchAll(/\/\/ --- README snippet, part \d+ ---\n([\s\S]*?)\/\/ --- end ---/g),
    ];
    expect(parts).toHaveLength(7);
    const lines = (text: string) =>
      text
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== "" && !line.startsWith("import "));
    const tested = parts.flatMap((part) => lines(part[1] ?? ""));
    // The assertion helper line is the test's, not the README's.
    const expected = tested.filter((line) => line !== "code = err.code;");
    for (const document of ["docs/http-api.md", "README.md"]) {
      if (!existsSync(document)) continue;
      const snippet = snippetOf(readFileSync(document, "utf8"));
      // The README carries the block once the lead pastes it; docs/http-api.md must already.
      if (snippet === null && document === "README.md") continue;
      expect(snippet, `${document} has no ts block under "Server-side integration"`).not.toBeNull();
      expect(lines(snippet ?? ""), document).toEqual(expected);
    }
  });
});
