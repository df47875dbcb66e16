/**
 * The server SDK against the real gateway: each function, what real sockets receive, and its
 * typed errors (gateway codes, timeouts, network failures).
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { createRealtime, RealtimeApiError } from "../../src/sdk/server.ts";
import { freePort } from "../dev/helpers/ports.ts";
import { eventually } from "../helpers/frames.ts";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { mintToken } from "../helpers/tokens.ts";
import { connectAs, gatewayUrl, uniqueUser } from "./helpers.ts";

const hasRooms = /name\s*=\s*"ROOM_HUB"/.test(readFileSync("wrangler.toml", "utf8"));
const realtime = createRealtime({ baseUrl: gatewayUrl(), apiKey: TEST_API_KEY });

/** The RealtimeApiError a call failed with. */
async function failure(call: Promise<unknown>): Promise<RealtimeApiError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof RealtimeApiError) return err;
    throw err;
  }
  throw new Error("the call succeeded");
}

describe("messaging", () => {
  it("sendNotificationToUser reaches the user's sockets", async () => {
    const user = uniqueUser("sdk-n");
    const tab = await connectAs(user);
    const sent = await realtime.messaging.sendNotificationToUser(user, {
      title: "Lab results",
      message: "Your results are ready",
      data: { report: 12 },
    });
    expect(sent).toEqual({
      notificationId: expect.any(String),
      delivered: true,
      connectionCount: 1,
    });
    expect((await tab.frames.next("notification")).data).toMatchObject({
      notification_id: sent.notificationId,
      title: "Lab results",
      data: { report: 12 },
    });
    await tab.close();
  });

  it("sendMessageToUser delivers from fromUserId with the message type", async () => {
    const user = uniqueUser("sdk-m");
    const tab = await connectAs(user);
    const sent = await realtime.messaging.sendMessageToUser(user, {
      fromUserId: 7,
      message: "See you at 10",
      messageType: "reminder",
    });
    expect(sent).toEqual({ messageId: expect.any(String), delivered: true });
    expect((await tab.frames.next("user_message")).data).toMatchObject({
      message_id: sent.messageId,
      from_user_id: "7",
      message: "See you at 10",
      message_type: "reminder",
    });
    await tab.close();
  });

  it("broadcastSystemMessage reaches online users", async () => {
    const user = uniqueUser("sdk-b");
    const tab = await connectAs(user);
    await eventually(async () =>
      (await realtime.online.getAllOnlineUsers()).some((u) => u.userId === user),
    );
    const sent = await realtime.messaging.broadcastSystemMessage({ message: "Back in 5" });
    expect(sent.recipients).toBeGreaterThanOrEqual(1);
    expect((await tab.frames.next("system_broadcast")).data).toMatchObject({
      message_id: sent.messageId,
      message: "Back in 5",
      message_type: "system_broadcast",
    });
    await tab.close();
  });

  it.skipIf(!hasRooms)("sendToGroup reaches the group's members", async () => {
    const user = uniqueUser("sdk-g");
    const group = `team_${user.replace(/-/g, "_")}`;
    const tab = await connectAs(user, { groups: ["team_*"] });
    expect((await tab.request("join_group", { group_name: group })).type).toBe("group_joined");
    const sent = await realtime.messaging.sendToGroup(group, {
      messageType: "score",
      data: { home: 2, away: 1 },
    });
    expect(sent).toEqual({ messageId: expect.any(String), recipients: 1 });
    expect((await tab.frames.next("group_message")).data).toMatchObject({
      group_name: group,
      message_type: "score",
      data: { home: 2, away: 1 },
    });
    await tab.close();
  });
});

describe("online", () => {
  it("isUserOnline, getUserConnectionCount and getAllOnlineUsers follow the user's tabs", async () => {
    const user = uniqueUser("sdk-o");
    const tabs = [await connectAs(user), await connectAs(user)];
    expect(await realtime.online.isUserOnline(user)).toBe(true);
    expect(await realtime.online.getUserConnectionCount(user)).toBe(2);
    await eventually(async () =>
      (await realtime.online.getAllOnlineUsers()).some(
        (u) => u.userId === user && u.connectionCount === 2,
      ),
    );
    expect(await realtime.online.getUserStatus(user)).toMatchObject({
      userId: user,
      isOnline: true,
      connectionCount: 2,
    });
    for (const tab of tabs) await tab.close();
    await eventually(async () => !(await realtime.online.isUserOnline(user)));
    expect(await realtime.online.getUserConnectionCount(user)).toBe(0);
  });

  it("answers false and 0 for a user the gateway does not know", async () => {
    const ghost = uniqueUser("sdk-ghost");
    expect(await realtime.online.isUserOnline(ghost)).toBe(false);
    expect(await realtime.online.getUserConnectionCount(ghost)).toBe(0);
  });
});

describe("errors", () => {
  it("carries the gateway's code, status and details", async () => {
    const ghost = uniqueUser("sdk-ghost");
    const missing = await failure(
      realtime.messaging.sendNotificationToUser(ghost, { title: "t", message: "m" }),
    );
    expect(missing).toMatchObject({ code: "user_not_found", status: 404, temporary: false });
    expect(missing.details).toEqual({ user_id: ghost });

    const invalid = await failure(
      realtime.messaging.broadcastSystemMessage({ message: "x".repeat(8193) }),
    );
    expect(invalid).toMatchObject({
      code: "validation_failed",
      status: 400,
      details: { field: "message" },
    });
  });

  it("reports a wrong key as unauthorized and a non-staff token as forbidden", async () => {
    const wrong = createRealtime({ baseUrl: gatewayUrl(), apiKey: "wrong-key" });
    expect(await failure(wrong.online.getAllOnlineUsers())).toMatchObject({
      code: "unauthorized",
      status: 401,
    });
    const patient = createRealtime({ baseUrl: gatewayUrl(), apiKey: await mintToken("patient") });
    expect(await failure(patient.online.getAllOnlineUsers())).toMatchObject({
      code: "forbidden",
      status: 403,
    });
  });

  describe("without an answer", () => {
    let silent: Server | undefined;
    afterAll(() => {
      silent?.closeAllConnections();
      silent?.close();
    });

    it("fails with timeout after timeoutMs", async () => {
      silent = createServer(() => {
        // Never answers.
      });
      await new Promise<void>((resolve) => silent?.listen(0, "127.0.0.1", resolve));
      const { port } = silent.address() as AddressInfo;
      const slow = createRealtime({
        baseUrl: `http://127.0.0.1:${port}`,
        apiKey: TEST_API_KEY,
        timeoutMs: 200,
      });
      const started = Date.now();
      const error = await failure(slow.online.getAllOnlineUsers());
      expect(error).toMatchObject({ code: "timeout", status: 0, temporary: true });
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    it("fails with network_error when nothing listens", async () => {
      const nowhere = createRealtime({
        baseUrl: `http://127.0.0.1:${await freePort()}`,
        apiKey: TEST_API_KEY,
      });
      expect(await failure(nowhere.online.getAllOnlineUsers())).toMatchObject({
        code: "network_error",
        status: 0,
      });
    });

    it("fails with invalid_response when something else answers", async () => {
      const other = createServer((_req, res) => {
        res.writeHead(502, { "content-type": "text/html" }).end("<h1>Bad gateway</h1>");
      });
      await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
      const { port } = other.address() as AddressInfo;
      const proxied = createRealtime({ baseUrl: `http://127.0.0.1:${port}`, apiKey: "k" });
      expect(await failure(proxied.online.getAllOnlineUsers())).toMatchObject({
        code: "invalid_response",
        status: 502,
      });
      other.close();
    });
  });

  it("refuses misuse when the client is built", () => {
    expect(() => createRealtime({ baseUrl: "not a url", apiKey: "k" })).toThrow(TypeError);
    expect(() => createRealtime({ baseUrl: gatewayUrl(), apiKey: "" })).toThrow(TypeError);
    expect(() => createRealtime({ baseUrl: gatewayUrl(), apiKey: "k", timeoutMs: 0 })).toThrow(
      TypeError,
    );
  });
});

describe("connections", () => {
  it("terminateUserConnections closes the user's sockets and blocks them until blockUntil", async () => {
    const user = uniqueUser("sdk-t");
    const tab = await connectAs(user);
    tab.send({ type: "ping" });
    const blockUntil = new Date(Date.now() + 60_000);
    expect(
      await realtime.connections.terminateUserConnections(user, { reason: "revoked", blockUntil }),
    ).toEqual({ closed: 1 });
    expect(await tab.frames.waitClosed()).toEqual({ code: 4003, reason: "terminated" });
    await expect(connectAs(user)).rejects.toMatchObject({ status: 403 });
  });

  it("terminateUserConnections refuses a block in the past with the field named", async () => {
    const refused = await failure(
      realtime.connections.terminateUserConnections(uniqueUser("sdk-t"), {
        blockUntil: "2020-01-01T00:00:00Z",
      }),
    );
    expect(refused).toMatchObject({
      code: "validation_failed",
      status: 400,
      details: { field: "block_until" },
    });
  });
});
