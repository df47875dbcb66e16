/**
 * Room sockets (`/ws/group/{name}/`) inside workerd: held by the room's own actor through the
 * same socket host as user sockets, leased to the user's presence, reached by a group message
 * from inside the room.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { mintToken, type TokenOptions } from "../helpers/tokens.ts";
import { connectAs, uniqueUser, upgrade, wrapSocket } from "./helpers.ts";

async function roomUpgrade(group: string, userId: string, token: TokenOptions = {}) {
  return upgrade(`/ws/group/${group}/?token=${await mintToken(userId, token)}`);
}

async function roomSocket(group: string, userId: string, token: TokenOptions = {}) {
  const response = await roomUpgrade(group, userId, token);
  if (response.status !== 101 || !response.webSocket) {
    throw new Error(`refused: ${response.status} ${await response.text()}`);
  }
  const socket = wrapSocket(response.webSocket);
  await socket.established;
  return socket;
}

async function sendToGroup(group: string, data: unknown) {
  const response = await exports.default.fetch(
    new Request(`http://gateway.test/api/v1/groups/${group}/messages`, {
      method: "POST",
      headers: { Authorization: `Bearer ${TEST_API_KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify({ message_type: "note", data }),
    }),
  );
  expect(response.status).toBe(200);
  return (await response.json()) as { message_id: string; recipients: number };
}

describe("room sockets", () => {
  it("refuses a group the token does not allow with 403 before the upgrade", async () => {
    const refused = await roomUpgrade("group_closed", uniqueUser(), { groups: ["group_other"] });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as any).error.code).toBe("forbidden");
  });

  it("refuses an invalid group name with invalid_group, and a plain GET with 426", async () => {
    const invalid = await roomUpgrade("nope_x", uniqueUser(), { groups: ["*"] });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as any).error.code).toBe("invalid_group");
    const plain = await exports.default.fetch("http://gateway.test/ws/group/team_x/");
    expect(plain.status).toBe(426);
  });

  it("counts toward the user's presence while open, like a user socket", async () => {
    const group = `group_${uniqueUser("g")}`;
    const user = uniqueUser();
    const tab = await connectAs(user, { groups: [group] });
    const socket = await roomSocket(group, user, { groups: [group] });
    const established = (await socket.established).data;
    expect(established).toMatchObject({ user_id: user, is_online: true, connection_count: 2 });
    expect((await tab.frames.next("status_changed")).data.connection_count).toBe(2);
    expect((await env.USER_HUB.getByName(user).status()).connection_count).toBe(2);
    expect(socket.frames.unconsumed("consultation_state")).toEqual([]);
    socket.ws.close(1000);
    expect((await socket.frames.waitClosed()).code).toBe(1000);
    expect((await tab.frames.next("status_changed")).data.connection_count).toBe(1);
  });

  it("receives a group message sent over HTTP and one a member sends from a user socket", async () => {
    // A public prefix (team_) needs no claim.
    const group = `team_${uniqueUser("g")}`;
    const listener = uniqueUser("listener");
    const member = uniqueUser("member");
    const socket = await roomSocket(group, listener);
    const sent = await sendToGroup(group, { text: "over http" });
    expect(sent.recipients).toBe(1);
    const first = await socket.frames.next("group_message");
    expect(first.data).toMatchObject({
      message_id: sent.message_id,
      group_name: group,
      data: { text: "over http" },
    });

    const tab = await connectAs(member);
    tab.send({ type: "join_group", id: "j", data: { group_name: group } });
    const joined = await tab.frames.next((f) => f.id === "j");
    // The room counts its socket's user and the member who joined.
    expect(joined.data).toMatchObject({ group_name: group, member_count: 2 });
    tab.send({ type: "group_message", id: "m", data: { group_name: group, message: "hi" } });
    expect((await tab.frames.next((f) => f.id === "m")).data.recipients).toBe(2);
    const second = await socket.frames.next("group_message");
    expect(second.data).toMatchObject({ from_user_id: member, message: "hi" });
    expect(second.seq).toBeGreaterThan(first.seq as number);
  });

  it("receives what the RealtimeService's sendToGroup sends, as a joined user socket does", async () => {
    const group = `team_${uniqueUser("g")}`;
    const socket = await roomSocket(group, uniqueUser("listener"));
    const member = uniqueUser("member");
    const tab = await connectAs(member);
    tab.send({ type: "join_group", id: "j", data: { group_name: group } });
    await tab.frames.next((f) => f.id === "j");

    const sent = await exports.RealtimeService.sendToGroup(group, {
      messageType: "note",
      data: { text: "over rpc" },
    });
    expect(sent.recipients).toBe(2);
    for (const receiver of [socket, tab]) {
      expect((await receiver.frames.next("group_message")).data).toMatchObject({
        message_id: sent.messageId,
        group_name: group,
        data: { text: "over rpc" },
      });
    }
  });

  it("closes with 4003 when a refreshed token no longer allows the group", async () => {
    const group = `group_${uniqueUser("g")}`;
    const user = uniqueUser();
    const socket = await roomSocket(group, user, { groups: [group] });
    const token = await mintToken(user, { groups: ["group_elsewhere"], expiresIn: 7200 });
    socket.send({ type: "refresh_token", id: "r", data: { token } });
    expect((await socket.frames.next((f) => f.id === "r")).data.code).toBe("forbidden");
    expect((await socket.frames.waitClosed()).code).toBe(4003);
    await expect
      .poll(async () => (await env.USER_HUB.getByName(user).status()).connection_count)
      .toBe(0);
  });

  it("refuses consultation_message and user-socket commands on a group's room socket", async () => {
    const group = `team_${uniqueUser("g")}`;
    const socket = await roomSocket(group, uniqueUser());
    socket.send({ type: "consultation_message", id: "c", data: { message: "x" } });
    expect((await socket.frames.next((f) => f.id === "c")).data.code).toBe("forbidden");
    socket.send({ type: "join_group", id: "j", data: { group_name: group } });
    expect((await socket.frames.next((f) => f.id === "j")).data.code).toBe("forbidden");
  });
});
