import { describe, expect, it } from "vitest";
import type { RealtimeClient, RoomGap } from "../../../src/sdk/client.ts";
import { RoomCursor, roomOfSocketUrl } from "../../../src/sdk/room-cursor.ts";
import { eventually, sleep } from "../../helpers/frames.ts";
import { gatewayPerTest, type Peer, reaches } from "./fake-gateway.ts";

const harness = gatewayPerTest();
const GROUP = "group_a";

/** A group_message as the gateway sends it on user sockets: group_seq and epoch, no seq. */
function roomMessage(peer: Peer, groupSeq: number, epoch = "e1", group = GROUP): void {
  peer.send({
    type: "group_message",
    data: {
      message_id: `g${groupSeq}`,
      group_name: group,
      group_seq: groupSeq,
      epoch,
      from_user_id: "u2",
      message_type: "group_message",
      message: `message ${groupSeq}`,
      sent_at: new Date().toISOString(),
    },
  });
}

/** Every group_seq the application's handlers saw, in order. */
function handled(client: RealtimeClient): number[] {
  const seqs: number[] = [];
  client.on("group_message", (frame) => seqs.push(frame.data.group_seq));
  return seqs;
}

/** The client joins GROUP on the first socket, which answers at position `groupSeq`. */
async function joined(client: RealtimeClient, groupSeq: number, epoch = "e1"): Promise<Peer> {
  await client.opened();
  const peer = await harness.gateway.peer(0);
  const joining = client.joinGroup(GROUP);
  const request = await peer.next("join_group");
  expect(request.data).toEqual({ group_name: GROUP });
  const data = { group_name: GROUP, member_count: 2, group_seq: groupSeq, epoch, complete: true };
  peer.reply(request, "group_joined", data);
  await joining;
  return peer;
}

async function reconnect(client: RealtimeClient, index: number): Promise<Peer> {
  await (await harness.gateway.peer(index)).close(1001);
  const peer = await harness.gateway.peer(index + 1);
  await reaches(client, "open");
  return peer;
}

describe("rejoining groups after a reconnect", () => {
  it("asks for what came after the last group_seq seen, and delivers each message once, in order", async () => {
    const client = harness.client();
    const seqs = handled(client);
    const first = await joined(client, 4);
    roomMessage(first, 5);
    roomMessage(first, 6);
    await eventually(() => seqs.length === 2);

    const second = await reconnect(client, 0);
    const rejoin = await second.next("join_group");
    expect(rejoin.data).toEqual({ group_name: GROUP, since_group_seq: 6, epoch: "e1" });
    // A live message arrives before the replay is over, and the replay repeats one already seen.
    roomMessage(second, 9);
    roomMessage(second, 6);
    roomMessage(second, 7);
    roomMessage(second, 8);
    const data = { group_name: GROUP, member_count: 2, group_seq: 8, epoch: "e1", complete: true };
    second.reply(rejoin, "group_joined", data);
    await eventually(() => seqs.length === 5);
    expect(seqs).toEqual([5, 6, 7, 8, 9]);
    roomMessage(second, 9);
    roomMessage(second, 10);
    await eventually(() => seqs.length === 6);
    expect(seqs).toEqual([5, 6, 7, 8, 9, 10]);
  });

  it("reports a gap with room_gap when the room answers complete: false (a new epoch)", async () => {
    const client = harness.client();
    const seqs = handled(client);
    const gaps: RoomGap[] = [];
    client.onEvent("room_gap", (gap) => gaps.push(gap));
    const first = await joined(client, 0);
    roomMessage(first, 1);
    await eventually(() => seqs.length === 1);

    const second = await reconnect(client, 0);
    const rejoin = await second.next("join_group");
    roomMessage(second, 1, "e2");
    const data = { group_name: GROUP, member_count: 1, group_seq: 1, epoch: "e2", complete: false };
    second.reply(rejoin, "group_joined", data);
    await eventually(() => gaps.length === 1);
    expect(gaps).toEqual([{ group_name: GROUP, since_group_seq: 1, group_seq: 1, epoch: "e2" }]);
    // The new epoch's first message is new to the client, although its group_seq is not.
    await eventually(() => seqs.length === 2);
    expect(seqs).toEqual([1, 1]);
  });

  it("does not rejoin a group it left", async () => {
    const client = harness.client();
    const first = await joined(client, 0);
    const leaving = client.leaveGroup(GROUP);
    const leave = await first.next("leave_group");
    first.reply(leave, "group_left", { group_name: GROUP, member_count: 0 });
    await leaving;
    const second = await reconnect(client, 0);
    await sleep(100);
    expect(second.frames.unconsumed("join_group")).toEqual([]);
  });
});

describe("a room socket whose room has a new epoch", () => {
  it("starts its count over instead of resuming, and reports the gap", async () => {
    // The new epoch's history is already ahead of the old position: only the epoch tells.
    const positions = [
      { last_seq: 5, group_seq: 5, epoch: "e1" },
      { last_seq: 8, group_seq: 8, epoch: "e2" },
    ];
    harness.gateway.script.onConnect = (peer, index) => peer.establish(positions[index]);
    const url = harness.gateway.url.replace("/ws/user/", "/ws/consultation/42/");
    const client = harness.client({ url });
    const gaps: RoomGap[] = [];
    client.onEvent("room_gap", (gap) => gaps.push(gap));
    await client.opened();
    const first = await harness.gateway.peer(0);
    first.mail(6, "consultation_message");
    await eventually(() => client.lastSeq === 6);

    const second = await reconnect(client, 0);
    await eventually(() => gaps.length === 1);
    expect(gaps).toEqual([
      { group_name: "consultation_42", since_group_seq: 6, group_seq: 8, epoch: "e2" },
    ]);
    expect(client.lastSeq).toBe(8);
    await sleep(100);
    expect(second.frames.unconsumed("resume")).toEqual([]);
  });
});

describe("RoomCursor", () => {
  it("drops a message at or below the last group_seq of the same epoch", () => {
    const cursor = new RoomCursor();
    const got: number[] = [];
    const accept = (seq: number, epoch = "e1") =>
      cursor.accept({ room: GROUP, position: { group_seq: seq, epoch } }, () => got.push(seq));
    accept(1);
    accept(2);
    accept(2);
    accept(1);
    accept(1, "e2");
    expect(got).toEqual([1, 2, 1]);
    expect(cursor.positionOf(GROUP)).toEqual({ group_seq: 1, epoch: "e2" });
  });
});

describe("roomOfSocketUrl", () => {
  it("names the room of a room socket and of a consultation socket", () => {
    expect(roomOfSocketUrl("ws://h/ws/group/group_x/")).toBe("group_x");
    expect(roomOfSocketUrl("wss://h/ws/consultation/42/?token=t")).toBe("consultation_42");
    expect(roomOfSocketUrl("ws://h/ws/user/")).toBe("");
  });
});
