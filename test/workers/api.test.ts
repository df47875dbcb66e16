/**
 * The HTTP API and the RealtimeService entrypoint inside workerd, against the real actors:
 * what they send arrives on real sockets, and both front doors answer alike.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { RealtimeApiError } from "../../src/sdk/errors.ts";
import { eventually } from "../helpers/frames.ts";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { mintToken } from "../helpers/tokens.ts";
import { connectAs, type TestSocket, uniqueUser } from "./helpers.ts";

const service = exports.RealtimeService;
const hasRooms = "ROOM_HUB" in env;

async function api(method: string, path: string, body?: unknown, auth = TEST_API_KEY) {
  const headers: Record<string, string> = { Authorization: `Bearer ${auth}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await exports.default.fetch(
    new Request(`http://gateway.test/api/v1${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );
  return { status: response.status, json: (await response.json()) as any };
}

/**
 * Run the user's pending alarms (outbox flushes) until their PresenceShard lists them, so a
 * broadcast or the online list sees them.
 */
async function untilListedOnline(user: string) {
  await eventually(async () => {
    await runDurableObjectAlarm(env.USER_HUB.getByName(user));
    const { json } = await api("GET", "/users/online");
    return json.users.some((u: { user_id: string }) => u.user_id === user);
  });
}

/** The RealtimeApiError a service call was refused with. */
async function serviceRefusal(call: Promise<unknown>): Promise<RealtimeApiError> {
  try {
    await call;
  } catch (err) {
    const error = RealtimeApiError.from(err);
    if (error !== null) return error;
    throw err;
  }
  throw new Error("the call succeeded");
}

async function joinGroup(socket: TestSocket, group: string) {
  socket.send({ type: "join_group", data: { group_name: group }, id: `join-${group}` });
  const reply = await socket.frames.next((f) => f.id === `join-${group}`);
  expect(reply.type).toBe("group_joined");
}

describe("HTTP API in workerd", () => {
  it("mounts under /api/v1 and refuses calls without the API key", async () => {
    const refused = await api("GET", "/users/online", undefined, "wrong-key");
    expect(refused.status).toBe(401);
    expect((await api("GET", "/users/online")).status).toBe(200);
  });

  it("has no bench meter unless BENCH_METER is on", async () => {
    const response = await exports.default.fetch(new Request("http://gateway.test/__bench/meter"));
    expect(response.status).toBe(404);
  });

  it("delivers a notification to every tab of the user", async () => {
    const user = uniqueUser("n");
    const tabs = [await connectAs(user), await connectAs(user)];
    const sent = await api("POST", `/users/${user}/notifications`, {
      title: "Hello",
      message: "Welcome",
      data: { url: "/inbox" },
    });
    expect(sent.status).toBe(200);
    expect(sent.json).toMatchObject({ delivered: true, connection_count: 2 });
    for (const tab of tabs) {
      const frame = await tab.frames.next("notification");
      expect(frame.data).toMatchObject({
        notification_id: sent.json.notification_id,
        title: "Hello",
        message: "Welcome",
        data: { url: "/inbox" },
      });
      expect(typeof frame.seq).toBe("number");
    }
  });

  it("sends a direct message as from_user_id and answers 404 for an unknown user", async () => {
    const user = uniqueUser("m");
    const tab = await connectAs(user);
    const sent = await api("POST", `/users/${user}/messages`, {
      from_user_id: "support",
      message: "How can we help?",
    });
    expect(sent.json).toEqual({ message_id: expect.any(String), delivered: true });
    const frame = await tab.frames.next("user_message");
    expect(frame.data).toMatchObject({
      message_id: sent.json.message_id,
      from_user_id: "support",
      message: "How can we help?",
      message_type: "chat_message",
    });
    const missing = await api("POST", "/users/never-seen-1/messages", {
      from_user_id: "a",
      message: "x",
    });
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe("user_not_found");
  });

  it("reports status and the online list after the presence flush", async () => {
    const user = uniqueUser("s");
    await connectAs(user);
    await connectAs(user);
    await untilListedOnline(user);
    const status = await api("GET", `/users/${user}/status`);
    expect(status.json).toEqual({
      user_id: user,
      is_online: true,
      connection_count: 2,
      last_seen: expect.toSatisfy((v: unknown) => v === null || typeof v === "string"),
    });
    const online = await api("GET", "/users/online");
    expect(online.json.users).toContainEqual({ user_id: user, connection_count: 2 });
    expect(online.json.count).toBe(online.json.users.length);
    expect((await api("GET", "/users/never-seen-2/status")).status).toBe(404);
  });

  it("broadcasts from a staff token to online users, from that user", async () => {
    const [boss, user] = [uniqueUser("boss"), uniqueUser("b")];
    const tab = await connectAs(user);
    await untilListedOnline(user);
    const auth = await mintToken(boss, { staff: true });
    const sent = await api("POST", "/broadcasts", { message: "Maintenance at 5" }, auth);
    expect(sent.status).toBe(200);
    expect(sent.json.recipients).toBeGreaterThanOrEqual(1);
    const frame = await tab.frames.next("system_broadcast");
    expect(frame.data).toMatchObject({
      message_id: sent.json.message_id,
      from_user_id: boss,
      message: "Maintenance at 5",
      message_type: "system_broadcast",
    });
  });

  it.skipIf(!hasRooms)("publishes a group message with data to the members", async () => {
    const [member, outsider] = [uniqueUser("g"), uniqueUser("o")];
    const tab = await connectAs(member);
    const other = await connectAs(outsider);
    await joinGroup(tab, "team_api");
    const sent = await api("POST", "/groups/team_api/messages", {
      message_type: "score",
      data: { home: 1, away: 0 },
    });
    expect(sent.json).toEqual({ message_id: expect.any(String), recipients: 1 });
    const frame = await tab.frames.next("group_message");
    expect(frame.data).toMatchObject({
      message_id: sent.json.message_id,
      group_name: "team_api",
      message_type: "score",
      data: { home: 1, away: 0 },
    });
    expect(other.frames.unconsumed("group_message")).toEqual([]);
  });
});

describe("RealtimeService entrypoint", () => {
  it("sends notifications and messages that arrive on the user's sockets", async () => {
    const user = uniqueUser("rpc");
    const tab = await connectAs(user);
    const notified = await service.sendNotificationToUser(user, {
      title: "Invoice",
      message: "Your invoice is ready",
    });
    expect(notified).toEqual({
      notificationId: expect.any(String),
      delivered: true,
      connectionCount: 1,
    });
    expect((await tab.frames.next("notification")).data).toMatchObject({
      notification_id: notified.notificationId,
      data: {},
    });
    const sent = await service.sendMessageToUser(user, {
      fromUserId: 7,
      message: "hi",
      messageType: "dm",
    });
    expect(sent).toEqual({ messageId: expect.any(String), delivered: true });
    expect((await tab.frames.next("user_message")).data).toMatchObject({
      from_user_id: "7",
      message: "hi",
      message_type: "dm",
    });
  });

  it("answers presence questions, with false and 0 for an unknown user", async () => {
    const user = uniqueUser("rpc-online");
    await connectAs(user);
    await connectAs(user);
    await connectAs(user);
    await untilListedOnline(user);
    expect(await service.isUserOnline(user)).toBe(true);
    expect(await service.getUserConnectionCount(user)).toBe(3);
    expect(await service.getAllOnlineUsers()).toContainEqual({ userId: user, connectionCount: 3 });
    expect(await service.getUserStatus(user)).toMatchObject({ userId: user, isOnline: true });
    expect(await service.isUserOnline("never-seen-3")).toBe(false);
    expect(await service.getUserConnectionCount("never-seen-3")).toBe(0);
  });

  it("broadcasts from the system", async () => {
    const user = uniqueUser("rpc-b");
    const tab = await connectAs(user);
    await untilListedOnline(user);
    const sent = await service.broadcastSystemMessage({ message: "Deploy done" });
    expect(sent.recipients).toBeGreaterThanOrEqual(1);
    expect((await tab.frames.next("system_broadcast")).data).toMatchObject({
      message_id: sent.messageId,
      from_user_id: "system",
    });
  });

  it.skipIf(!hasRooms)("sends to a group", async () => {
    const member = uniqueUser("rpc-g");
    const tab = await connectAs(member);
    await joinGroup(tab, "team_rpc");
    const sent = await service.sendToGroup("team_rpc", { messageType: "ping", data: [1, 2] });
    expect(sent).toEqual({ messageId: expect.any(String), recipients: 1 });
    expect((await tab.frames.next("group_message")).data).toMatchObject({ data: [1, 2] });
  });

  it("carries the code and status of a refusal across the binding", async () => {
    const unknown = await serviceRefusal(
      service.sendNotificationToUser("never-seen-4", { title: "t", message: "m" }),
    );
    expect(unknown).toMatchObject({ code: "user_not_found", status: 404 });

    const invalid = await serviceRefusal(
      service.sendMessageToUser(uniqueUser(), { fromUserId: "a", message: "" }),
    );
    expect(invalid).toMatchObject({ code: "validation_failed", status: 400 });
    expect(invalid.message).toBe("message: must not be empty");

    const badGroup = await serviceRefusal(
      service.sendToGroup("nope", { messageType: "t", data: null }),
    );
    expect(badGroup.code).toBe(hasRooms ? "invalid_group" : "unavailable");

    const tooLarge = await serviceRefusal(
      service.sendNotificationToUser(uniqueUser(), {
        title: "t",
        message: "m",
        data: "x".repeat(70_000),
      }),
    );
    expect(tooLarge).toMatchObject({ code: "message_too_large", status: 413 });
  });
});
