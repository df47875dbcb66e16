/**
 * Room history end to end (docs/protocol.md, "Rooms"): room messages from a socket, the HTTP API and
 * the server SDK carry the room's group_seq to user sockets and consultation sockets, and the
 * client SDK, cut off for a while, rejoins and gets exactly the messages it missed, once each.
 */
import { describe, expect, it } from "vitest";
import { createClient, type RealtimeClient } from "../../src/sdk/client.ts";
import { createRealtime } from "../../src/sdk/server.ts";
import { eventually, type Frame } from "../helpers/frames.ts";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { mintToken } from "../helpers/tokens.ts";
import { connectAs, gatewayUrl, openSocket, uniqueUser } from "./helpers.ts";
import { TcpProxy } from "./tcp-proxy.ts";

const realtime = createRealtime({ baseUrl: gatewayUrl(), apiKey: TEST_API_KEY });
const dataOf = (frame: Frame) => frame.data as Record<string, unknown>;

/** A room name part made of the characters consultation ids allow. */
const roomId = (label: string) => uniqueUser(label).replace(/[^A-Za-z0-9_-]/g, "");

describe("room history end to end", () => {
  it("a group message from a socket, the HTTP API and the server SDK carries group_seq to a user socket and a consultation socket", async () => {
    const id = roomId("rh");
    const group = `consultation_${id}`;
    const grant = { groups: [group] };
    const sender = await connectAs(uniqueUser("sender"), grant);
    const tab = await connectAs(uniqueUser("nurse"), grant);
    const room = await openSocket(await mintToken(uniqueUser("pat"), grant), {
      path: `/ws/consultation/${id}/`,
    });
    const { epoch } = dataOf(room.established) as { epoch: string };
    expect(room.established.data).toMatchObject({ last_seq: 0, group_seq: 0 });
    await sender.request("join_group", { group_name: group });
    expect((await tab.request("join_group", { group_name: group })).data).toMatchObject({
      group_seq: 0,
      epoch,
      complete: true,
    });

    await sender.request("group_message", { group_name: group, message: "from a socket" });
    const response = await fetch(`${gatewayUrl()}/api/v1/groups/${group}/messages`, {
      method: "POST",
      headers: { Authorization: `Bearer ${TEST_API_KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify({ message_type: "vitals", data: { from: "the HTTP API" } }),
    });
    expect(response.status).toBe(200);
    await realtime.messaging.sendToGroup(group, {
      messageType: "vitals",
      data: { from: "the server SDK" },
    });

    const onTab = [1, 2, 3].map(() => tab.frames.next("group_message"));
    const onRoom = [1, 2, 3].map(() => room.frames.next("group_message"));
    const tabFrames = await Promise.all(onTab);
    const roomFrames = await Promise.all(onRoom);
    expect(tabFrames.map((f) => [dataOf(f).group_seq, dataOf(f).epoch, f.seq])).toEqual([
      [1, epoch, undefined],
      [2, epoch, undefined],
      [3, epoch, undefined],
    ]);
    expect(roomFrames.map((f) => [dataOf(f).group_seq, f.seq])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    expect(tabFrames.map((f) => dataOf(f).message ?? dataOf(f).data)).toEqual([
      "from a socket",
      { from: "the HTTP API" },
      { from: "the server SDK" },
    ]);
    await Promise.all([sender.close(), tab.close(), room.close()]);
  });

  it("the client SDK, cut off, rejoins and gets exactly the missed messages, once each", async () => {
    const group = `group_${roomId("rh")}`;
    const grant = { groups: [group] };
    const sender = await connectAs(uniqueUser("sender"), grant);
    await sender.request("join_group", { group_name: group });
    const proxy = await TcpProxy.start(Number(new URL(gatewayUrl()).port));
    const user = uniqueUser("sdk");
    const client: RealtimeClient = createClient({
      url: proxy.url,
      token: () => mintToken(user, grant),
      backoff: { minDelayMs: 50, maxDelayMs: 200, growFactor: 2 },
    });
    try {
      const received: string[] = [];
      client.on("group_message", (frame) => received.push(frame.data.message ?? ""));
      await client.opened();
      await client.joinGroup(group);
      const say = (message: string) =>
        sender.request("group_message", { group_name: group, message });
      await say("one");
      await eventually(() => received.length === 1);

      // Cut off: the SDK keeps trying while the room goes on without it.
      proxy.refusing = true;
      proxy.cut();
      await eventually(() => client.state !== "open");
      for (const text of ["two", "three", "four"]) await say(text);
      proxy.refusing = false;

      await eventually(() => received.length === 4, 15_000);
      await say("five");
      await eventually(() => received.length === 5);
      expect(received).toEqual(["one", "two", "three", "four", "five"]);
    } finally {
      client.close();
      await proxy.close();
      await sender.close();
    }
  });
});
