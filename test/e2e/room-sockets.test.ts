/**
 * Room sockets (`/ws/group/{name}/`, docs/protocol.md, "Endpoints"): a socket held by the room's own
 * actor, opened by the SDK with `client.room(name)`, counted toward the user's online status,
 * and reached by every message to the room.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createClient, type Frame, type RealtimeClient } from "../../src/sdk/client.ts";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { mintToken } from "../helpers/tokens.ts";
import { connectAs, gatewayUrl, openSocket, UpgradeRefused, uniqueUser, wsUrl } from "./helpers.ts";

const clients: RealtimeClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

function userClient(user: string, groups: string[]): RealtimeClient {
  const client = createClient({
    url: wsUrl("/ws/user/"),
    token: () => mintToken(user, { groups }),
  });
  clients.push(client);
  return client;
}

/** The group_message frames `client` receives from now on. */
function received(client: RealtimeClient): Frame<"group_message">[] {
  const frames: Frame<"group_message">[] = [];
  client.on("group_message", (frame) => frames.push(frame));
  return frames;
}

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(`${gatewayUrl()}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${TEST_API_KEY}`, "Content-Type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as any;
}

describe("room sockets", () => {
  it("client.room(name) opens one that counts toward the user's status and gets the room's messages", async () => {
    const group = `group_${uniqueUser("r").replace(/[^A-Za-z0-9_-]/g, "")}`;
    const user = uniqueUser("listener");
    const client = userClient(user, [group]);
    await client.opened();
    const room = client.room(group);
    clients.push(room);
    const established = await room.opened();
    expect(established).toMatchObject({ user_id: user, connection_count: 2 });
    expect((await api("GET", `/users/${user}/status`)).connection_count).toBe(2);

    const waiting = new Promise<string>((resolve) => {
      room.on("group_message", (frame) => resolve(frame.data.message_id));
    });
    const sent = await api("POST", `/groups/${group}/messages`, {
      message_type: "note",
      data: { text: "to the room" },
    });
    expect(sent.recipients).toBe(1);
    expect(await waiting).toBe(sent.message_id);

    room.close();
    await expect
      .poll(async () => (await api("GET", `/users/${user}/status`)).connection_count)
      .toBe(1);
  });

  it("a member's group_message from a user socket reaches the room socket", async () => {
    const group = `team_${uniqueUser("r").replace(/[^A-Za-z0-9_-]/g, "")}`;
    const listener = userClient(uniqueUser("listener"), [group]);
    const room = listener.room(group);
    clients.push(room);
    await room.opened();
    const member = await connectAs(uniqueUser("member"), { groups: [group] });
    try {
      const joined = await member.request("join_group", { group_name: group });
      expect(joined.data.member_count).toBe(2);
      const frames = received(room);
      const sent = await member.request("group_message", { group_name: group, message: "hi" });
      expect(sent.data.recipients).toBe(2);
      await expect
        .poll(() => frames.map((frame) => frame.data.message_id))
        .toEqual([sent.data.message_id]);
      expect(frames[0]?.data).toMatchObject({ group_name: group, message: "hi" });
    } finally {
      await member.close();
    }
  });

  it("answers 403 before the upgrade when the token does not allow the group", async () => {
    const token = await mintToken(uniqueUser(), { groups: ["group_other"] });
    const refused = await openSocket(token, { path: "/ws/group/group_closed/" }).catch(
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(UpgradeRefused);
    expect((refused as UpgradeRefused).status).toBe(403);
  });
});
